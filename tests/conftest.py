"""Fixtures shared by every test module.

``tests/fixtures`` is a copy of the product's reference fixtures (real generator output and
every manifest variant); tests copy what they need into ``tmp_path`` and write only there.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sessions.simulator import png_bytes

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REAL_RESULTS = FIXTURES / "results-real"
MANIFESTS = FIXTURES / "manifests"
REAL_SESSION_NAMES = sorted(p.name for p in REAL_RESULTS.iterdir() if p.name != "dryrun")


def copy_tree(source: Path, target: Path) -> Path:
    """Copy a fixture tree so that everything in the copy is writable."""
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for folder, dirs, _files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
    return target


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """A writable copy of the real CLI's results folder."""
    return copy_tree(REAL_RESULTS, tmp_path / "results")


@pytest.fixture
def empty_results_dir(tmp_path: Path) -> Path:
    path = tmp_path / "results"
    path.mkdir()
    return path


def load_manifest(name: str) -> dict[str, Any]:
    return json.loads((MANIFESTS / name).read_text(encoding="utf-8"))


def set_mtime(path: Path, when: datetime) -> None:
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


SessionWriter = Callable[..., Path]


@pytest.fixture
def write_session() -> SessionWriter:
    """Write a session folder: a manifest (dict, raw bytes, or None) and image files.

    ``images`` defaults to the manifest's filenames; ``mtime`` backdates every file.
    """

    def write(
        root: Path,
        name: str,
        manifest: dict[str, Any] | bytes | None = None,
        *,
        images: list[str] | None = None,
        mtime: datetime | None = None,
    ) -> Path:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        if isinstance(manifest, dict):
            (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            if images is None:
                images = [entry["filename"] for entry in manifest.get("images", [])]
        elif isinstance(manifest, bytes):
            (folder / "manifest.json").write_bytes(manifest)
        for filename in images or []:
            (folder / filename).write_bytes(tiny_png())
        if mtime is not None:
            for path in folder.iterdir():
                set_mtime(path, mtime)
            set_mtime(folder, mtime)
        return folder

    return write


_TINY_PNG: bytes | None = None


def tiny_png() -> bytes:
    global _TINY_PNG
    if _TINY_PNG is None:
        _TINY_PNG = png_bytes(width=4, height=6, seed=1, parameters="test")
    return _TINY_PNG


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def create_session(name: str = "20251107_120000-test", *, status: str = "ongoing", **fields: Any):
    """A session row as discovery would create it, with its ``discovered`` event."""
    from django.utils import timezone

    from sessions.lifecycle import EventSpec, record_events
    from sessions.models import EventKind, EventSource, Session

    now = timezone.now()
    defaults: dict[str, Any] = {
        "status_source": EventSource.WATCHDOG,
        "status_changed_at": now,
        "created_at": now,
        "last_activity_at": now,
        "first_seen_at": now,
        "updated_at": now,
        "has_manifest": True,
        "manifest_mtime_ns": 1_000,
    }
    session = Session.objects.create(name=name, status=status, **{**defaults, **fields})
    record_events([EventSpec(session_id=session.pk, kind=EventKind.DISCOVERED, source=EventSource.WATCHDOG,
                             to_status=status)])
    return session
