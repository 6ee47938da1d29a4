"""The watcher's database work: sync the sessions that changed (one bad session never holds
back the others), read half-written manifests again, sweep the whole library, and keep the
watched folders in step with which runs are still going."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from sessions.changes import stamp_changes
from sessions.models import Session, SessionStatus
from sessions.services import SyncReport, sync_sessions
from sessions.services.known import KnownSessions
from sessions.watcher.debounce import Debouncer, ManifestRetries
from sessions.watcher.folders import WatchedFolders
from sessions.watcher.stats import WatcherStats
from sessions.watcher.thumbnail_side import ThumbnailSide

logger = logging.getLogger(__name__)


def refresh_connections() -> None:
    """Drop database connections that are broken or past CONN_MAX_AGE, between units of work
    (never inside a transaction a caller holds open)."""
    if not connection.in_atomic_block:
        close_old_connections()


class SessionSyncer:
    """Turns changed names into synced sessions and watched folders."""

    def __init__(
        self,
        *,
        results_dir: Path,
        folders: WatchedFolders,
        debouncer: Debouncer,
        retries: ManifestRetries,
        stats: WatcherStats,
        thumbnails: ThumbnailSide | None,
        monotonic: Callable[[], float],
        now: Callable[[], datetime],
        sweep_every: float,
    ) -> None:
        self.results_dir = results_dir
        self.folders = folders
        self.debouncer = debouncer
        self.retries = retries
        self.stats = stats
        self.thumbnails = thumbnails
        self.monotonic = monotonic
        self.now = now
        self.sweep_every = sweep_every
        self.last_sync_at: datetime | None = None
        # What the database holds about every folder, kept between sweeps: each sweep then reads
        # only the rows written since the last one, not the whole library again.
        self.known = KnownSessions()

    def catch_up(self, *, progress: Callable[[int, int], None] | None,
                 should_stop: Callable[[], bool]) -> SyncReport:
        return sync_sessions(results_dir=self.results_dir, progress=progress, should_stop=should_stop,
                             known=self.known)

    def sync(self, names: list[str]) -> None:
        refresh_connections()
        try:
            report = sync_sessions(results_dir=self.results_dir, names=names, defer_manifest_errors=True)
        except Exception:
            if len(names) == 1:
                self._record_failure(names[0])
                return
            # One bad session must not hold back the others: sync them one by one.
            for name in names:
                self.sync([name])
            return
        self.stats.syncs += 1
        self.stats.sessions_synced += len(names)
        self.last_sync_at = self.now()
        recorded = self._retry_or_record(report, names)
        self.after_sync([name for name in names if name not in report.deferred] + recorded)

    def _retry_or_record(self, report: SyncReport, synced: Iterable[str] | None) -> list[str]:
        """Schedule another read of the manifests that could not be parsed; after the last
        retry record the error. Returns the sessions recorded that way. ``synced``: the names
        this sync covered (None: all)."""
        recorded = []
        for name in report.deferred:
            delay = self.retries.next_delay(name)
            if delay is not None:
                self.stats.retries += 1
                self.debouncer.touch(name, self.monotonic(), delay=delay)
            else:
                result = sync_sessions(results_dir=self.results_dir, names=[name])
                logger.warning("%s: %s", name, result.errors.get(name, report.deferred[name]))
                recorded.append(name)
        covered = self.retries.waiting() if synced is None else set(synced)
        self.retries.read_fine(covered - set(report.deferred))
        return recorded

    def _record_failure(self, name: str) -> None:
        self.stats.failures += 1
        logger.exception("%s: sync failed; the watcher carries on", name)
        try:
            refresh_connections()
            with transaction.atomic():
                ids = list(Session.objects.filter(name=name).values_list("pk", flat=True))
                Session.objects.filter(pk__in=ids).update(
                    sync_error="internal error while syncing; see the watcher's log", updated_at=timezone.now())
                stamp_changes(ids)  # lists show the error: their validators and the live stream move
        except Exception:
            logger.exception("%s: could not record the failure", name)

    def after_sync(self, names: Iterable[str]) -> None:
        """Log each synced session and watch exactly those that are still running."""
        rows = Session.objects.filter(name__in=list(names)).values_list(
            "name", "status", "is_missing", "images_actual", "images_expected")
        known = set()
        for name, status, is_missing, actual, expected in rows:
            known.add(name)
            logger.info("%s: %s, %d/%s images%s", name, status, actual, expected if expected is not None else "?",
                        " (folder missing)" if is_missing else "")
            if status == SessionStatus.ONGOING and not is_missing:
                self._activate(name)
            else:
                self.folders.deactivate(name)
            if self.thumbnails is not None:
                self.thumbnails.session_synced(name)  # a missing one loses its thumbnails
        for name in set(names) - known:
            # Not a session (yet): a new folder is watched until its first manifest or image.
            if (self.results_dir / name).is_dir():
                self._activate(name)
            else:
                self.folders.deactivate(name)

    def _activate(self, name: str) -> None:
        # A folder's watch starts after the sync that found it listed the folder: what the
        # generator wrote in between raised no event (a short run may finish in that gap), so
        # the folder is looked at once more; unchanged, that costs its stamp.
        if self.folders.activate(name):
            self.debouncer.touch(name, self.monotonic())

    def sweep(self) -> None:
        """Re-stamp every folder: finished sessions that changed again, events that were lost."""
        refresh_connections()
        try:
            report = sync_sessions(results_dir=self.results_dir, defer_manifest_errors=True, known=self.known)
        except Exception:
            self.known = KnownSessions()  # read in full next time: this one may be half applied
            logger.exception("sweep failed; it runs again in %.0fs", self.sweep_every)
            return
        recorded = self._retry_or_record(report, None)
        if report.sessions_read or report.missing:
            logger.info("sweep: %s", report.summary())
        # What the events missed gets what a sync after an event gets (thumbnails included).
        changed = [name for name in report.changed if name not in report.deferred] + recorded
        for start in range(0, len(changed), 500):  # a whole library, after a restore: one query per 500
            self.after_sync(changed[start:start + 500])
        self.reconcile()

    def reconcile(self) -> None:
        """Watch the ongoing sessions, and the folders that are not sessions yet."""
        ongoing = set(Session.objects.present().ongoing().values_list("name", flat=True))
        active = self.folders.active
        candidates = {name for name in active - ongoing if not Session.objects.filter(name=name).exists()}
        self.folders.set_active(ongoing | candidates)
