"""The thumbnails app hands the watcher (in sessions) its thumbnail side."""

from __future__ import annotations

from pathlib import Path

from sessions.watcher.thumbnail_side import thumbnail_provider
from thumbnails.live import LiveThumbnails
from thumbnails.watching import WatcherThumbnails


def test_the_app_registers_its_provider_for_the_watcher(empty_results_dir: Path, thumbnails_dir: Path) -> None:
    provider = thumbnail_provider()
    assert isinstance(provider, WatcherThumbnails)
    live = provider.live(results_dir=empty_results_dir)
    try:
        assert isinstance(live, LiveThumbnails)
        assert (live.results_dir, live.thumbnails_dir) == (empty_results_dir, thumbnails_dir)
    finally:
        live.close()
