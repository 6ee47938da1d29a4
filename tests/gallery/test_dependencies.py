"""Apps depend one way: the gallery uses sessions; sessions and thumbnails never use the gallery."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("app", ["sessions", "thumbnails", "accounts"])
def test_no_app_below_the_gallery_imports_it(app: str) -> None:
    offenders = {str(path.relative_to(ROOT)): sorted(module for module in imported_modules(path)
                                                     if module == "gallery" or module.startswith("gallery."))
                 for path in (ROOT / app).rglob("*.py")}
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_the_gallery_does_use_sessions() -> None:
    # The check above looks at real imports: it would see one.
    assert "sessions.filters" in imported_modules(ROOT / "gallery" / "views.py")
