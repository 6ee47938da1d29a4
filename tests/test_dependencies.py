"""Apps depend one way: thumbnails and the gallery use sessions; sessions uses neither, accounts
uses no other app, thumbnails never uses the gallery. The contracts are in pyproject.toml
(``make lint`` checks them too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_the_apps_depend_one_way() -> None:
    # In a process of its own: import-linter reconfigures logging in the process it runs in.
    checked = subprocess.run([Path(sys.executable).parent / "lint-imports", "--no-cache", "--no-logo"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_check_sees_real_imports() -> None:
    # The contracts look at the import graph: it holds the imports the apps do make.
    graph = grimp.build_graph("gallery", "sessions", "thumbnails")
    assert graph.direct_import_exists(importer="gallery.views", imported="sessions.filters")
    assert graph.direct_import_exists(importer="thumbnails.watching", imported="thumbnails.live")
