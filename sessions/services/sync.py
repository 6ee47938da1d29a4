"""Keeping the database in step with the results folder (SPEC section 6, ``syncsessions``).

A sync stamps every session folder (two ``stat`` calls), reads only the folders whose stamp
changed, and writes them in batches: one transaction per batch, bulk inserts for sessions,
stats, images and events. Status changes go through ``sessions.lifecycle``.
"""

from __future__ import annotations

import gc
import logging
import os
import time
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from sessions.lifecycle import STALE_REASON, EventSpec, TransitionRefused, record_events, transition_status
from sessions.manifest import MANIFEST_NAME, Manifest, ManifestError, read_manifest
from sessions.models import (
    EventKind,
    EventSource,
    Session,
    SessionImage,
    SessionStats,
    SessionStatus,
    fit_to_column,
    integer_range,
)
from sessions.scanning import (
    FolderStamp,
    FolderUnreadable,
    check_results_dir,
    iter_session_stamps,
    list_folder,
    read_image_size,
    stamp_session_folder,
)
from sessions.stats import (
    STATS_VERSION,
    Counts,
    FolderListing,
    ImageRecord,
    StatsData,
    compute_counts,
    compute_stats,
    from_ns,
    image_records,
    session_created_at,
)

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Progress = Callable[[int, int], None]

# A batch is written in one transaction: big enough to amortise the round trips, small
# enough that memory stays flat and the web server never waits long for the write lock.
BATCH_MAX_SESSIONS = 200
BATCH_MAX_IMAGES = 5000

_MAX_FILENAME = SessionImage._meta.get_field("filename").max_length
_INDEX_RANGE = integer_range(SessionImage, "index")
_SEED_RANGE = integer_range(SessionImage, "seed")
_SIDE_MAX = min(integer_range(SessionImage, "width")[1], integer_range(SessionImage, "height")[1])
_STATS_DATA_FIELDS = [f.name for f in fields(StatsData)]
_STATS_FIELDS = [*_STATS_DATA_FIELDS, "stats_computed_at"]
_IMAGE_FIELDS = ["index", "seed", "prompt", "negative_prompt", "applied_variations", "file_size", "mtime_ns"]
_SESSION_SYNC_FIELDS = [
    "has_manifest", "sync_error", "created_at", "images_actual", "images_expected", "completion_percentage",
    "last_activity_at", "folder_mtime_ns", "manifest_mtime_ns", "manifest_size", "synced_at", "updated_at",
    "is_missing",
]


@dataclass
class SyncReport:
    sessions_seen: int = 0
    sessions_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    restored: int = 0
    status_changes: int = 0
    images_written: int = 0
    images_deleted: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False  # stopped early at the caller's request (should_stop)
    # With defer_manifest_errors: unreadable manifests left untouched, to be read again shortly.
    deferred: dict[str, str] = field(default_factory=dict)
    # The sessions read and written, and those marked missing (what others may want to follow up).
    changed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.sessions_seen} sessions: {self.created} new, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.missing} missing, {self.restored} restored, "
            f"{len(self.errors)} with errors; {self.status_changes} status changes; "
            f"{self.images_written} image rows written, {self.images_deleted} removed; {self.seconds:.2f}s"
        )


class _Known(NamedTuple):
    pk: int
    is_missing: bool
    folder_mtime_ns: int | None
    manifest_mtime_ns: int | None
    manifest_size: int | None
    stats_version: int | None


@dataclass
class _FolderRead:
    """One session folder as read from disk, before it is compared with the database."""

    name: str
    listing: FolderListing | None = None
    manifest: Manifest | None = None
    error: str | None = None
    manifest_unreadable: bool = False
    counts: Counts | None = None
    stats: StatsData | None = None
    records: list[ImageRecord] = field(default_factory=list)
    created_at: datetime | None = None

    @property
    def is_session(self) -> bool:
        """A folder with neither a manifest nor an image is not (or no longer) a session."""
        return self.listing is None or self.listing.has_manifest or bool(self.listing.images)


class SessionSynchronizer:
    """Brings sessions in the database in line with the folders under ``results_dir``."""

    def __init__(
        self,
        *,
        results_dir: Path,
        full: bool = False,
        rebuild: bool = False,
        defer_manifest_errors: bool = False,
        clock: Clock = timezone.now,
        time_zone: tzinfo | None = None,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        """``defer_manifest_errors``: leave a session whose manifest cannot be parsed as it is
        and report it in ``SyncReport.deferred`` (the watcher reads a manifest that is being
        rewritten again a moment later instead of recording the half-written state)."""
        self.results_dir = results_dir
        self.full = full or rebuild
        self.rebuild = rebuild
        self.defer_manifest_errors = defer_manifest_errors
        self.clock = clock
        self.time_zone = time_zone or zoneinfo.ZoneInfo(settings.SDGEN_TIME_ZONE)
        self.progress = progress
        self.should_stop = should_stop

    def sync(self, names: Sequence[str] | None = None) -> SyncReport:
        """Sync every session folder, or only ``names``; vanished sessions are marked missing."""
        started = time.perf_counter()
        check_results_dir(self.results_dir)
        report = SyncReport()
        if names is None:
            stamps = {stamp.name: stamp for stamp in iter_session_stamps(self.results_dir)}
            known = self._known(Session.objects.all())
        else:
            names = list(dict.fromkeys(names))
            found = (stamp_session_folder(self.results_dir, name) for name in names)
            stamps = {stamp.name: stamp for stamp in found if stamp is not None}
            known = self._known(Session.objects.filter(name__in=names))
        # Newest first (names start with the run's date), so a long first sync shows recent runs early.
        to_read = sorted((name for name, stamp in stamps.items() if self._needs_read(stamp, known.get(name))),
                         reverse=True)
        report.unchanged = len(stamps) - len(to_read)
        with _collector_ignoring_old_objects(enabled=len(to_read) >= BATCH_MAX_SESSIONS):
            self._read_and_write(to_read, stamps, known, report)
        report.sessions_seen = len(stamps)
        vanished = {name: entry.pk for name, entry in known.items() if name not in stamps and not entry.is_missing}
        report.missing = mark_missing(session_ids=list(vanished.values()), now=self.clock())
        report.changed += vanished
        report.seconds = time.perf_counter() - started
        return report

    def _read_and_write(self, to_read: list[str], stamps: dict[str, FolderStamp], known: dict[str, _Known],
                        report: SyncReport) -> None:
        pending: list[_FolderRead] = []
        pending_images = done = 0
        for name in to_read:
            read = self._read_folder(name)
            if not read.is_session:
                del stamps[name]  # emptied: no manifest and no image left
                continue
            if read.manifest_unreadable and self.defer_manifest_errors:
                report.deferred[name] = read.error
                continue
            pending.append(read)
            report.changed.append(name)
            pending_images += len(read.records)
            if len(pending) >= BATCH_MAX_SESSIONS or pending_images >= BATCH_MAX_IMAGES:
                done += self._write_with_retry(pending, report)
                pending, pending_images = [], 0
                if self.progress:
                    self.progress(done, len(to_read))
                if self.should_stop is not None and self.should_stop():
                    report.interrupted = True
                    return
        if pending:
            done += self._write_with_retry(pending, report)
        if self.progress:
            self.progress(len(to_read), len(to_read))

    # --- reading ------------------------------------------------------------------------

    @staticmethod
    def _known(sessions: QuerySet[Session]) -> dict[str, _Known]:
        rows = sessions.order_by().values_list(
            "name", "pk", "is_missing", "folder_mtime_ns", "manifest_mtime_ns", "manifest_size",
            "stats__stats_version",
        )
        return {name: _Known(*rest) for name, *rest in rows}

    def _needs_read(self, stamp: FolderStamp, known: _Known | None) -> bool:
        if known is None or self.full or known.is_missing:
            return True
        if known.stats_version is not None and known.stats_version != STATS_VERSION:
            return True
        return (stamp.mtime_ns, stamp.manifest_mtime_ns, stamp.manifest_size) != (
            known.folder_mtime_ns,
            known.manifest_mtime_ns,
            known.manifest_size,
        )

    def _read_folder(self, name: str) -> _FolderRead:
        read = _FolderRead(name)
        try:
            read.listing = listing = list_folder(self.results_dir, name)
        except FolderUnreadable as exc:
            read.error = str(exc)
            return read
        if listing.has_manifest:
            try:
                read.manifest = read_manifest(self.results_dir / name / MANIFEST_NAME)
            except ManifestError as exc:
                read.error = str(exc)
                read.manifest_unreadable = True
            else:
                read.stats = compute_stats(manifest=read.manifest, listing=listing, tz=self.time_zone)
        read.counts = compute_counts(manifest=read.manifest, listing=listing)
        read.created_at = session_created_at(
            folder_name=name, manifest=read.manifest, folder_mtime_ns=listing.mtime_ns, tz=self.time_zone
        )
        if not read.error:
            read.records = image_records(manifest=read.manifest, listing=listing)
        return read

    # --- writing ------------------------------------------------------------------------

    def _write_with_retry(self, reads: list[_FolderRead], report: SyncReport) -> int:
        try:
            try:
                self._write(reads, report)
            except IntegrityError:
                # Another process (the watcher, a second sync) wrote the same rows meanwhile:
                # read the database again and write the batch once more.
                logger.info("a batch collided with a concurrent sync; writing it again")
                self._write(reads, report)
        except (DatabaseError, ValueError, OverflowError) as exc:
            if len(reads) > 1:
                # Something in one session cannot be stored: find it, and store all the others.
                for read in reads:
                    self._write_with_retry([read], report)
            else:
                self._write_unstorable(reads[0], exc, report)
        return len(reads)

    def _write_unstorable(self, read: _FolderRead, exc: Exception, report: SyncReport) -> None:
        """Keep the session's last good data and say why the new data could not be stored."""
        logger.exception("%s: cannot store what was read", read.name)
        failed = _FolderRead(read.name, listing=read.listing, error=f"cannot store what was read: {exc}",
                             counts=read.counts, created_at=read.created_at)
        try:
            self._write([failed], report)
        except (DatabaseError, ValueError, OverflowError):
            logger.exception("%s: cannot record the error either", read.name)
            report.errors[read.name] = failed.error

    def _write(self, reads: list[_FolderRead], report: SyncReport) -> None:
        existing = {s.name: s for s in Session.objects.filter(name__in=[read.name for read in reads])}
        stored = self._stored_images([s.pk for s in existing.values()])
        # Image headers are read before the transaction so the write lock is held briefly.
        plans = {
            read.name: self._plan_images(read, stored.get(existing[read.name].pk, {}) if read.name in existing else {})
            for read in reads
            if not read.error
        }
        now = self.clock()
        with transaction.atomic():
            created = self._create_sessions([read for read in reads if read.name not in existing], now)
            sessions = {**existing, **{s.name: s for s in created}}
            restored = [s for s in existing.values() if s.is_missing]
            for read in reads:
                if read.name in existing:
                    self._update_session_fields(existing[read.name], read, now)
                if read.error:
                    report.errors[read.name] = read.error
                    logger.warning("%s: %s", read.name, read.error)
            Session.objects.bulk_update(list(existing.values()), _SESSION_SYNC_FIELDS)
            readable = [read for read in reads if not read.error]
            if self.rebuild:
                ids = [sessions[read.name].pk for read in readable]
                SessionStats.objects.filter(session_id__in=ids).delete()
                SessionImage.objects.filter(session_id__in=ids).delete()
            self._write_stats(readable, sessions, now)
            written, deleted = self._write_images(plans, sessions)
            record_events(
                [
                    EventSpec(session_id=s.pk, kind=EventKind.RESTORED, source=EventSource.WATCHDOG,
                              from_status=s.status, to_status=s.status)
                    for s in restored
                ],
                now=now,
            )
            status_changes = sum(
                self._apply_manifest_status(sessions[read.name], read, now)
                for read in readable
                if read.name in existing
            )
        for session in restored:
            logger.info("%s: folder is back, restored", session.name)
        report.sessions_read += len(reads)
        report.created += len(created)
        report.updated += len(existing)
        report.restored += len(restored)
        report.images_written += written
        report.images_deleted += deleted
        report.status_changes += status_changes

    def _create_sessions(self, reads: list[_FolderRead], now: datetime) -> list[Session]:
        sessions = []
        for read in reads:
            if read.manifest is not None:
                status = read.manifest.status
            elif read.listing is not None and read.listing.has_manifest:
                # Unreadable on first sight: most likely a run rewriting its manifest right now.
                status = SessionStatus.ONGOING
            else:
                status = SessionStatus.COMPLETED
            session = Session(name=read.name, status=status, status_source=EventSource.WATCHDOG,
                              status_changed_at=now, first_seen_at=now)
            self._update_session_fields(session, read, now)
            if read.listing is None:  # unreadable folder: nothing known but its name
                session.created_at = session.last_activity_at = now
            sessions.append(session)
        created = Session.objects.bulk_create(sessions)
        record_events(
            [
                EventSpec(session_id=s.pk, kind=EventKind.DISCOVERED, source=EventSource.WATCHDOG, to_status=s.status)
                for s in created
            ],
            now=now,
        )
        for session in created:
            logger.info("%s: discovered (%s, %d images)", session.name, session.status, session.images_actual)
        return created

    @staticmethod
    def _update_session_fields(session: Session, read: _FolderRead, now: datetime) -> None:
        session.is_missing = False
        session.synced_at = now
        session.updated_at = now
        session.sync_error = read.error
        listing = read.listing
        if listing is None:
            return  # the folder could not be listed: keep everything else
        session.folder_mtime_ns = listing.mtime_ns
        session.manifest_mtime_ns = listing.manifest_mtime_ns
        session.manifest_size = listing.manifest_size
        session.last_activity_at = from_ns(listing.last_activity_ns)
        if read.error and session.pk is not None:
            return  # keep the last good data
        assert read.counts is not None
        session.has_manifest = listing.has_manifest
        session.created_at = read.created_at
        session.images_actual = read.counts.images_actual
        session.images_expected = fit_to_column(Session, "images_expected", read.counts.images_expected)
        session.completion_percentage = read.counts.completion_percentage

    def _write_stats(self, reads: list[_FolderRead], sessions: dict[str, Session], now: datetime) -> None:
        rows = [
            SessionStats(session_id=sessions[read.name].pk, stats_computed_at=now,
                         **{name: fit_to_column(SessionStats, name, getattr(read.stats, name))
                            for name in _STATS_DATA_FIELDS})
            for read in reads
            if read.stats is not None
        ]
        if rows:
            SessionStats.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["session"], update_fields=_STATS_FIELDS
            )
        without = [sessions[read.name].pk for read in reads if read.stats is None]
        if without:
            SessionStats.objects.filter(session_id__in=without).delete()

    @staticmethod
    def _stored_images(session_ids: list[int]) -> dict[int, dict[str, tuple]]:
        stored: dict[int, dict[str, tuple]] = {}
        if not session_ids:
            return stored
        rows = SessionImage.objects.filter(session_id__in=session_ids).values_list(
            "session_id", "filename", "pk", *_IMAGE_FIELDS, "width", "height"
        )
        for session_id, filename, *values in rows.order_by():
            stored.setdefault(session_id, {})[filename] = tuple(values)
        return stored

    def _plan_images(self, read: _FolderRead, stored: dict[str, tuple]) -> _ImagePlan:
        """Decide which image rows to insert, update and delete; read new files' dimensions."""
        plan = _ImagePlan()
        stored = {} if self.rebuild else dict(stored)
        folder = os.path.join(self.results_dir, read.name)
        for record in read.records:
            if len(record.filename) > _MAX_FILENAME:
                continue  # a manifest entry no file on disk could match
            index, seed = record.index, record.seed
            # Inline range checks (fit_to_column's, for the columns of a hot loop).
            if index is not None and not _INDEX_RANGE[0] <= index <= _INDEX_RANGE[1]:
                index = None
            if seed is not None and not _SEED_RANGE[0] <= seed <= _SEED_RANGE[1]:
                seed = None
            values = (index, seed, record.prompt, record.negative_prompt, record.applied_variations,
                      record.file_size, record.mtime_ns)
            previous = stored.pop(record.filename, None)
            size = None
            if previous is not None:
                pk, *old_values, width, height = previous
                same_file = old_values[5:] == [record.file_size, record.mtime_ns]
                if same_file and (width is not None or not record.exists):
                    if tuple(old_values) == values:
                        continue
                    size = (width, height) if width is not None else None
            if record.exists and size is None:
                size = read_image_size(f"{folder}/{record.filename}")
            width, height = size if size and max(size) <= _SIDE_MAX else (None, None)
            if previous is None:
                plan.create.append((record.filename, *values, width, height))
            else:
                plan.update.append(SessionImage(pk=pk, filename=record.filename, width=width, height=height,
                                                **dict(zip(_IMAGE_FIELDS, values))))
        plan.delete = [previous[0] for previous in stored.values()]
        return plan

    @staticmethod
    def _write_images(plans: dict[str, _ImagePlan], sessions: dict[str, Session]) -> tuple[int, int]:
        to_create, to_update, to_delete = [], [], []
        for name, plan in plans.items():
            session_id = sessions[name].pk
            to_create += [(session_id, *row) for row in plan.create]
            for row in plan.update:
                row.session_id = session_id
            to_update += plan.update
            to_delete += plan.delete
        if to_delete:
            SessionImage.objects.filter(pk__in=to_delete).delete()
        SessionImage.objects.insert_rows(to_create)
        if to_update:
            SessionImage.objects.bulk_update(to_update, [*_IMAGE_FIELDS, "width", "height"], batch_size=500)
        return len(to_create) + len(to_update), len(to_delete)

    @staticmethod
    def _apply_manifest_status(session: Session, read: _FolderRead, now: datetime) -> bool:
        if read.manifest is None or read.manifest.status == session.status:
            return False
        try:
            event = transition_status(session=session, to_status=read.manifest.status, source=EventSource.WATCHDOG,
                                      manifest_mtime_ns=read.listing.manifest_mtime_ns, now=now)
        except TransitionRefused as exc:
            logger.info("%s: manifest says %s, status stays %s: %s", session.name, read.manifest.status,
                        session.status, exc)
            return False
        return event is not None


@dataclass
class _ImagePlan:
    # New rows as tuples in SessionImageQuerySet.INSERT_FIELDS order, without the session id.
    create: list[tuple] = field(default_factory=list)
    update: list[SessionImage] = field(default_factory=list)
    delete: list[int] = field(default_factory=list)


@contextmanager
def _collector_ignoring_old_objects(*, enabled: bool) -> Iterator[None]:
    """Keep the cyclic garbage collector off the objects that existed before a large sync.

    A first sync allocates millions of short-lived objects; each of the collections that
    triggers would otherwise walk every long-lived object (Django, pydantic schemas) again.
    Measured: about 15% of a cold sync's time.
    """
    if not enabled:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def sync_sessions(
    *,
    results_dir: Path,
    names: Sequence[str] | None = None,
    full: bool = False,
    rebuild: bool = False,
    defer_manifest_errors: bool = False,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    clock: Clock = timezone.now,
) -> SyncReport:
    """Sync all session folders (or ``names``) into the database; see ``SessionSynchronizer``."""
    synchronizer = SessionSynchronizer(results_dir=results_dir, full=full, rebuild=rebuild, clock=clock,
                                       defer_manifest_errors=defer_manifest_errors, progress=progress,
                                       should_stop=should_stop)
    return synchronizer.sync(names)


def mark_missing(*, session_ids: Sequence[int], now: datetime) -> int:
    """Flag sessions whose folder is gone; their stats, images and metadata are kept."""
    if not session_ids:
        return 0
    with transaction.atomic():
        sessions = list(Session.objects.filter(pk__in=session_ids, is_missing=False).only("pk", "name", "status"))
        Session.objects.filter(pk__in=[s.pk for s in sessions]).update(
            is_missing=True, folder_mtime_ns=None, updated_at=now
        )
        record_events(
            [
                EventSpec(session_id=s.pk, kind=EventKind.MISSING, source=EventSource.WATCHDOG,
                          from_status=s.status, to_status=s.status)
                for s in sessions
            ],
            now=now,
        )
    for session in sessions:
        logger.info("%s: folder is gone, marked missing", session.name)
    return len(sessions)


def mark_stale_sessions(*, now: datetime | None = None, stale_after: timedelta | None = None) -> int:
    """Abort ongoing sessions that showed no change for ``SDGEN_STALE_AFTER`` minutes."""
    now = now or timezone.now()
    stale_after = stale_after if stale_after is not None else timedelta(minutes=settings.SDGEN_STALE_AFTER)
    count = 0
    for session in Session.objects.stale(inactive_since=now - stale_after):
        try:
            if transition_status(session=session, to_status=SessionStatus.ABORTED, source=EventSource.SYSTEM,
                                 reason=STALE_REASON, now=now):
                count += 1
        except TransitionRefused as exc:
            logger.info("%s: not marked stale: %s", session.name, exc)
    return count
