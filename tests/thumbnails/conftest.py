from __future__ import annotations

from pathlib import Path

import pytest

from sessions.services import sync_sessions
from tests.conftest import SessionWriter, load_manifest


@pytest.fixture
def thumbnails_dir(tmp_path: Path, settings) -> Path:
    path = tmp_path / "thumbnails"
    settings.SDGEN_THUMBNAILS_DIR = path
    return path


@pytest.fixture
def library(empty_results_dir: Path, write_session: SessionWriter, settings):
    """``library(n)``: n finished runs of four PNGs, synced; names returned newest first."""
    settings.SDGEN_RESULTS_DIR = empty_results_dir

    def make(count: int) -> list[str]:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        names = [f"202511{n + 1:02d}_120000-run" for n in range(count)]
        for name in names:
            write_session(empty_results_dir, name, manifest)
        sync_sessions(results_dir=empty_results_dir)
        return names[::-1]

    return make
