"""Apps depend one way: thumbnails and the gallery use sessions; sessions uses neither, accounts
uses no other app, thumbnails never uses the gallery. The contracts are in pyproject.toml
(``make lint`` checks them too)."""

from __future__ import annotations

from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_the_apps_depend_one_way() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def test_the_check_sees_real_imports() -> None:
    # The contracts look at the import graph: it holds the imports the apps do make.
    graph = grimp.build_graph("gallery", "sessions", "thumbnails")
    assert graph.direct_import_exists(importer="gallery.views", imported="sessions.filters")
    assert graph.direct_import_exists(importer="thumbnails.watching", imported="thumbnails.live")
