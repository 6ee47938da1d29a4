"""The watcher's periodic work: polls fall due, the sweep of every folder, the stale rule, the
heartbeat and the summary, each on its own schedule."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.db import connection

from sessions.models import WatcherHeartbeat
from sessions.services import mark_stale_sessions, refresh_planner_statistics
from sessions.watcher.folders import WatchedFolders
from sessions.watcher.modes import ModeChoice
from sessions.watcher.stats import WatcherStats
from sessions.watcher.syncing import SessionSyncer, refresh_connections

logger = logging.getLogger(__name__)


@dataclass
class _Schedule:
    """When each periodic task runs next (monotonic seconds)."""

    poll: float = 0.0
    heartbeat: float = 0.0
    stale: float = 0.0
    sweep: float = 0.0
    summary: float = 0.0
    root: float = 0.0
    statistics: float = 0.0


class PeriodicWork:
    """What the watcher does on a clock rather than on an event (the loop calls ``_periodic``)."""

    HEARTBEAT_EVERY = 5.0
    SWEEP_EVERY = 60.0
    # A sweep looks at every folder (two stats each): about a second at 100,000 sessions. A
    # library that large is swept less often than every minute, so that sweeping takes at most
    # 1/SWEEP_SHARE of the time; events still bring every change of a watched run at once.
    SWEEP_SHARE = 400
    SUMMARY_EVERY = 60.0
    ROOT_CHECK_EVERY = 1.0  # seconds between two looks at whether the results folder was replaced
    # SQLite's planner statistics are only what the last ANALYZE saw: favourites and tags added
    # since, or new indexes, leave it choosing a slow plan for a filtered list. ANALYZE samples
    # each index (0.24 s at a million images). PostgreSQL's autovacuum does this by itself.
    STATISTICS_EVERY = 3600.0

    # Set by the watcher.
    results_dir: Path
    mode: ModeChoice
    poll_interval: float
    stale_after: timedelta
    stale_every: float
    monotonic: Callable[[], float]
    now: Callable[[], datetime]
    folders: WatchedFolders
    stats: WatcherStats
    syncer: SessionSyncer
    started_at: datetime
    last_event_at: datetime | None
    _schedule: _Schedule

    @property
    def active(self) -> set[str]:
        """The session folders watched now."""
        return self.folders.active

    def _fresh_schedule(self) -> _Schedule:
        start = self.monotonic()
        return _Schedule(poll=start + self.poll_interval, heartbeat=start + self.HEARTBEAT_EVERY,
                         stale=start + self.stale_every, sweep=start + self.SWEEP_EVERY,
                         summary=start + self.SUMMARY_EVERY, root=start + self.ROOT_CHECK_EVERY,
                         statistics=start + self.STATISTICS_EVERY)

    def _sweep(self) -> None:
        started = self.monotonic()
        self.syncer.sweep()
        finished = self.monotonic()
        self._schedule.sweep = finished + max(self.SWEEP_EVERY, (finished - started) * self.SWEEP_SHARE)

    def _periodic(self, now: float) -> None:
        schedule = self._schedule
        if now >= schedule.root:
            schedule.root = now + self.ROOT_CHECK_EVERY
            if self.folders.follow_replaced_root():  # read in full at once: nothing waits for the sweep
                self._sweep()
        if now >= schedule.sweep:
            self._sweep()
        if now >= schedule.stale:
            schedule.stale = now + self.stale_every
            self._close_stale()
        if now >= schedule.heartbeat:
            schedule.heartbeat = now + self.HEARTBEAT_EVERY
            self._beat()
        if now >= schedule.summary:
            schedule.summary = now + self.SUMMARY_EVERY
            self.stats.log_summary(watched=len(self.active), mode=self.mode.mode, seconds=self.SUMMARY_EVERY)
        if now >= schedule.statistics:
            schedule.statistics = now + self.STATISTICS_EVERY
            self._refresh_statistics()

    def _close_stale(self) -> None:
        refresh_connections()
        try:
            if mark_stale_sessions(now=self.now(), stale_after=self.stale_after):
                self.syncer.reconcile()
        except Exception:
            logger.exception("stale check failed")

    def _refresh_statistics(self) -> None:
        if connection.vendor != "sqlite":
            return
        refresh_connections()
        try:
            refresh_planner_statistics()
        except Exception:
            logger.exception("could not refresh the planner's statistics")

    def _beat(self) -> None:
        refresh_connections()
        try:
            WatcherHeartbeat.objects.beat(
                mode=self.mode.mode, mode_reason=self.mode.reason, pid=os.getpid(), results_dir=str(self.results_dir),
                started_at=self.started_at, beat_at=self.now(), last_event_at=self.last_event_at,
                last_sync_at=self.syncer.last_sync_at, sessions_watched=len(self.active))
        except Exception:
            logger.exception("could not record the heartbeat")
