"""Which paths under the results folder may be served or read (``resolve_inside``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sessions.scanning import resolve_inside


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    (root / "run").mkdir(parents=True)
    (root / "run" / "image.png").write_bytes(b"png")
    (root / "run" / "folder").mkdir()
    (tmp_path / "outside.png").write_bytes(b"secret")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "image.png").write_bytes(b"secret")
    return root


def test_a_plain_file_under_the_root(root: Path) -> None:
    assert resolve_inside(root, "run", "image.png") == root / "run" / "image.png"


@pytest.mark.parametrize("parts", [("run", "nope.png"), ("nope", "image.png"), ("run", "folder"), ("run",),
                                   ("run", "image.png", "deeper"), ("run", ".."), ("..", "outside.png"),
                                   ("run", "a/b"), ("run", ""), ("run", "image.png\x00")])
def test_what_is_not_a_file_under_the_root(root: Path, parts: tuple[str, ...]) -> None:
    assert resolve_inside(root, *parts) is None


def test_symlinks_are_followed_while_they_stay_under_the_root(root: Path) -> None:
    os.symlink(root / "run" / "image.png", root / "run" / "link.png")
    os.symlink(root / "run", root / "linked-run")
    assert resolve_inside(root, "run", "link.png") == (root / "run" / "image.png").resolve()
    assert resolve_inside(root, "linked-run", "image.png") == (root / "run" / "image.png").resolve()


def test_symlinks_leading_outside_the_root_are_refused(root: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "outside.png", root / "run" / "escape.png")
    os.symlink(tmp_path / "outside", root / "escaped-run")
    os.symlink(tmp_path / "nowhere.png", root / "run" / "dangling.png")
    assert resolve_inside(root, "run", "escape.png") is None
    assert resolve_inside(root, "escaped-run", "image.png") is None
    assert resolve_inside(root, "run", "dangling.png") is None


def test_a_root_reached_through_a_symlink(root: Path, tmp_path: Path) -> None:
    os.symlink(root, tmp_path / "results-link")
    linked = tmp_path / "results-link"
    assert resolve_inside(linked, "run", "image.png") == linked / "run" / "image.png"
    assert (linked / "run" / "image.png").read_bytes() == b"png"
