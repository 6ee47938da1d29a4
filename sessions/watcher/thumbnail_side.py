"""The watcher's view of thumbnails, as typed interfaces: sessions never imports the app that
makes them. An app that renders thumbnails registers a provider from its ``AppConfig.ready``;
``runwatchdog`` asks for it, and without one the watcher runs without thumbnails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class ThumbnailSide(Protocol):
    """What the watcher tells the thumbnail side. Called from the watcher's thread only."""

    def start_catch_up(self) -> None:
        """Begin the background catch-up (behind live images)."""

    def image_changed(self, path: Path) -> None:
        """An image file directly in a session folder appeared or changed."""

    def session_synced(self, name: str) -> None:
        """A session was synced (a missing one loses its thumbnails)."""

    def pump(self) -> None:
        """Take finished work and hand out more; called on every turn of the loop."""

    def pump_within(self) -> float | None:
        """Seconds after which ``pump`` should run again (None: only on news)."""

    def close(self) -> None:
        """Stop; the watcher is stopping."""


class CatchUpSummary(Protocol):
    def summary(self) -> str: ...


class ThumbnailProvider(Protocol):
    """Makes the watcher's thumbnail side, and runs a one-off catch-up (``runwatchdog --once``)."""

    def live(self, *, results_dir: Path) -> ThumbnailSide: ...

    def catch_up(self, *, results_dir: Path, progress: Callable[[int, int], None] | None,
                 should_stop: Callable[[], bool]) -> CatchUpSummary: ...


_provider: ThumbnailProvider | None = None


def register_thumbnail_provider(provider: ThumbnailProvider | None) -> None:
    """Make ``provider`` the one ``runwatchdog`` uses (None: none)."""
    global _provider
    _provider = provider


def thumbnail_provider() -> ThumbnailProvider | None:
    return _provider
