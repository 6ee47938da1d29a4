"""The thumbnail provider the watcher (in sessions) is given: live thumbnails and the one-off
catch-up, with the thumbnail settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from thumbnails.live import LiveThumbnails
from thumbnails.services import CatchUpReport, catch_up_thumbnails


class WatcherThumbnails:
    """Implements ``sessions.watcher.thumbnail_side.ThumbnailProvider``."""

    def live(self, *, results_dir: Path) -> LiveThumbnails:
        return LiveThumbnails(results_dir=results_dir, thumbnails_dir=settings.SDGEN_THUMBNAILS_DIR,
                              workers=settings.SDGEN_THUMBNAIL_WORKERS)

    def catch_up(self, *, results_dir: Path, progress: Callable[[int, int], None] | None,
                 should_stop: Callable[[], bool]) -> CatchUpReport:
        return catch_up_thumbnails(results_dir=results_dir, thumbnails_dir=settings.SDGEN_THUMBNAILS_DIR,
                                   workers=settings.SDGEN_THUMBNAIL_WORKERS, progress=progress,
                                   should_stop=should_stop)
