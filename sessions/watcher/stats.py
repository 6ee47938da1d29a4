"""Counters for the watcher's periodic summary line."""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass
class WatcherStats:
    """What happened since the last summary."""

    events: int = 0
    syncs: int = 0
    sessions_synced: int = 0
    retries: int = 0
    failures: int = 0

    def reset(self) -> WatcherStats:
        current = WatcherStats(**self.__dict__)
        self.events = self.syncs = self.sessions_synced = self.retries = self.failures = 0
        return current

    def log_summary(self, *, watched: int, mode: str, seconds: float) -> None:
        """Log the counts since the last summary, and start counting again."""
        last = self.reset()
        logger.info("watching %d sessions (%s); last %.0fs: %d events, %d syncs of %d sessions, %d retries, "
                    "%d failures", watched, mode, seconds, last.events, last.syncs, last.sessions_synced,
                    last.retries, last.failures)
