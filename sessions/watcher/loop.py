"""The loop: one thread takes the queued paths, lets bursts settle, syncs, and runs the
periodic work (polls, the sweep, the stale rule, the heartbeat) until asked to stop."""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from sessions.models import Session, WatcherHeartbeat
from sessions.scanning import is_session_folder_name
from sessions.services import SyncReport, mark_stale_sessions
from sessions.stats import is_image_name
from sessions.watcher.debounce import Debouncer, ManifestRetries
from sessions.watcher.folders import WatchedFolders
from sessions.watcher.modes import ModeChoice
from sessions.watcher.periodic import PeriodicWork
from sessions.watcher.sources import NativeEvents
from sessions.watcher.stats import WatcherStats
from sessions.watcher.syncing import SessionSyncer, refresh_connections
from sessions.watcher.thumbnail_side import ThumbnailSide

logger = logging.getLogger(__name__)
# Put on the path queue by request_stop: not a path, only wakes a waiting loop.
_WAKE_UP = ("", "")


class Watcher(PeriodicWork):
    """Keeps the database in step with the results folder until asked to stop."""

    NATIVE_WATCH_LIMIT = 64  # inotify instances are scarce (128 per user by default)
    MANIFEST_RETRIES = 5
    LONGEST_WAIT = 0.5  # the loop checks its stop flag at least this often

    def __init__(
        self,
        *,
        results_dir: Path,
        mode: ModeChoice,
        poll_interval: float | None = None,
        stale_after: timedelta | None = None,
        quiet: float = 0.1,
        max_delay: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = timezone.now,
        thumbnails: ThumbnailSide | None = None,
    ) -> None:
        self.results_dir = results_dir
        self.mode = mode
        self.poll_interval = poll_interval if poll_interval is not None else settings.SDGEN_POLL_INTERVAL
        self.stale_after = stale_after if stale_after is not None else timedelta(minutes=settings.SDGEN_STALE_AFTER)
        # Check often enough that a run is closed soon after it goes stale, at most once a minute.
        self.stale_every = min(60.0, max(0.2, self.stale_after.total_seconds() / 4))
        self.monotonic = monotonic
        self.now = now
        self.thumbnails = thumbnails
        self.paths: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self.debouncer = Debouncer(quiet=quiet, max_delay=max_delay)
        self.folders = WatchedFolders(results_dir=results_dir, poll_interval=self.poll_interval)
        self.stats = WatcherStats()
        # The clock is looked up on each call: it may be replaced on the watcher.
        self.syncer = SessionSyncer(
            results_dir=results_dir, folders=self.folders, debouncer=self.debouncer,
            retries=ManifestRetries(limit=self.MANIFEST_RETRIES), stats=self.stats, thumbnails=thumbnails,
            monotonic=monotonic, now=lambda: self.now(), sweep_every=self.SWEEP_EVERY)
        self.started_at = now()
        self.last_event_at: datetime | None = None
        self._schedule = self._fresh_schedule()
        self._stop_requested = False

    @property
    def native(self) -> NativeEvents | None:
        return self.folders.native

    # --- life cycle ---------------------------------------------------------------------

    def catch_up(self, *, progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Sync what changed while nobody watched, start the thumbnail catch-up (it runs in the
        background, behind live images), then close runs that went stale. A stop request
        ends it between two batches."""
        report = self.syncer.catch_up(progress=progress, should_stop=lambda: self._stop_requested)
        if report.interrupted:
            return report
        if self.thumbnails is not None:
            self.thumbnails.start_catch_up()
        stale = mark_stale_sessions(now=self.now(), stale_after=self.stale_after)
        self.syncer.last_sync_at = self.now()
        logger.info("catch-up: %s; %d stale sessions marked aborted", report.summary(), stale)
        return report

    def start(self) -> None:
        """Begin watching: the root, then every ongoing session from the first second."""
        self.folders.remember_root()
        if self.mode.mode == "native":
            self.folders.start_native(self.paths, limit=self.NATIVE_WATCH_LIMIT)
        self.folders.poller.changed(())  # remember the root's listing
        ongoing = set(Session.objects.present().ongoing().values_list("name", flat=True))
        self.folders.set_active(ongoing)
        # Anything written between the catch-up and the watches being in place:
        if ongoing:
            self.syncer.sync(sorted(ongoing))
        self._schedule = self._fresh_schedule()
        logger.info("watching %s in %s mode (%s): %d ongoing sessions", self.results_dir, self.mode.mode,
                    self.mode.reason, len(ongoing))
        self._beat()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    def request_stop(self) -> None:
        """Safe from a signal handler: sets a flag the loop reads, and wakes the loop if it waits
        for a path (SimpleQueue.put is reentrant). Without the wake-up, the loop was seen still
        waiting for a path 3 s after the handler ran, on a loaded machine."""
        self._stop_requested = True
        self.paths.put(_WAKE_UP)

    def run(self) -> None:
        """Apply changes until ``request_stop``; then flush pending work and stop."""
        try:
            while not self._stop_requested:
                try:
                    self.step(wait=True)
                except Exception:
                    # A database that went away, a folder that cannot be written: log it and go
                    # on; what was not done is picked up by the next event or sweep.
                    self.stats.failures += 1
                    logger.exception("the watcher hit an error; it carries on")
                    time.sleep(self.LONGEST_WAIT)
        finally:
            self.close()

    def close(self) -> None:
        pending = self.debouncer.pop_all()
        try:
            if pending:
                self.syncer.sync(pending)
        except Exception:
            logger.exception("could not sync what was pending: %s", ", ".join(pending))
        self.folders.stop_native()
        if self.thumbnails is not None:
            self.thumbnails.close()
        try:
            refresh_connections()
            WatcherHeartbeat.objects.record_stop(pid=os.getpid(), at=self.now())
        except Exception:
            logger.exception("could not record the stop in the heartbeat")
        logger.info("stopped")

    # --- one turn of the loop -------------------------------------------------------------

    def step(self, *, wait: bool) -> None:
        """Take the queued paths (waiting for one if ``wait``), then do whatever is due."""
        if wait:
            self._take(self._wait_time())
        self._drain()
        now = self.monotonic()
        if now >= self._schedule.poll:
            self._schedule.poll = now + self.poll_interval
            self._poll()
        due = self.debouncer.pop_due(now)
        if due:
            self.syncer.sync(due)
        if self.thumbnails is not None:
            self.thumbnails.pump()
        self._periodic(now)

    def _wait_time(self) -> float:
        deadlines = [self._schedule.heartbeat, self._schedule.stale, self._schedule.sweep, self._schedule.root]
        if self.native is None or self.folders.polled():
            deadlines.append(self._schedule.poll)
        due = self.debouncer.next_due()
        if due is not None:
            deadlines.append(due)
        wait = min(min(deadlines) - self.monotonic(), self.LONGEST_WAIT)
        if self.thumbnails is not None:
            # While thumbnails are being made, come back soon enough to keep the workers fed.
            within = self.thumbnails.pump_within()
            if within is not None:
                wait = min(wait, within)
        return max(0.0, wait)

    def _take(self, timeout: float) -> None:
        try:
            self._path_changed(*self.paths.get(timeout=timeout))
        except queue.Empty:
            pass

    def _drain(self) -> None:
        while True:
            try:
                self._path_changed(*self.paths.get_nowait())
            except queue.Empty:
                return

    def _path_changed(self, src: str, dest: str) -> None:
        """Map a changed path to its session and schedule a sync of it."""
        if (src, dest) == _WAKE_UP:
            return
        now = self.monotonic()
        self.stats.events += 1
        self.last_event_at = self.now()
        for path in (src, dest):
            if not path:
                continue
            parts = os.path.relpath(path, self.results_dir).split(os.sep)
            name = parts[0]
            if name == ".":
                # The results folder itself was deleted (the only event about it watched).
                self.folders.root_deleted()
                self._schedule.root = now
            if name in (".", "..") or not is_session_folder_name(name) or len(parts) > 2:
                continue  # outside the root, dry runs, hidden or nested folders
            self.debouncer.touch(name, now)
            if len(parts) == 2 and self.thumbnails is not None and is_image_name(parts[1]):
                self.thumbnails.image_changed(Path(path))

    def _poll(self) -> None:
        for name in self.folders.poll():
            self.stats.events += 1
            self.last_event_at = self.now()
            self.debouncer.touch(name, self.monotonic())
