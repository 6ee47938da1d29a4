"""Writing a batch of folder reads: sessions, stats, image rows and events in one transaction.

Bulk inserts (``SessionImageQuerySet.insert_rows``, ``insert_objects``) keep a first sync of a
million images fast; a batch that cannot be stored is split until the one session at fault
is found, and that session gets a ``sync_error`` while the others are stored. Statuses and
events go through ``sessions.lifecycle``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

from django.db import DatabaseError, IntegrityError, transaction

from sessions.bulk_insert import insert_objects
from sessions.changes import reserve_changes, stamp_changes
from sessions.image_files import cover_image
from sessions.lifecycle import (
    TransitionRefused,
    discovered_events,
    record_events,
    restored_events,
    status_at_discovery,
    transition_status,
)
from sessions.models import (
    EventSource,
    Session,
    SessionImage,
    SessionMetadata,
    SessionSearch,
    SessionStats,
    fit_to_column,
)
from sessions.reading import FolderRead
from sessions.search.documents import images_text, own_text
from sessions.services.image_rows import ImagePlan, ImagePlanner, write_images
from sessions.stats import StatsData, from_ns
from sessions.stats_object import render, stats_object

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_STATS_DATA_FIELDS = [f.name for f in fields(StatsData)]
_STATS_FIELDS = [*_STATS_DATA_FIELDS, "stats_computed_at"]
_SESSION_SYNC_FIELDS = [
    "has_manifest", "sync_error", "created_at", "images_actual", "images_expected", "completion_percentage",
    "last_activity_at", "folder_mtime_ns", "manifest_mtime_ns", "manifest_size", "synced_at", "updated_at",
    "is_missing", "forgotten_at", "cover_image", "folder_device", "folder_inode", "fingerprint",
]


@dataclass
class BatchOutcome:
    """What writing batches did (``SyncReport`` adds the rest of a sync's story)."""

    sessions_read: int = 0
    created: int = 0
    updated: int = 0
    restored: int = 0
    status_changes: int = 0
    images_written: int = 0
    images_deleted: int = 0
    unreadable_images: int = 0  # files with an image's name that are not readable images
    errors: dict[str, str] = field(default_factory=dict)


class SessionBatchWriter:
    """Stores folder reads, comparing each with what the database holds."""

    def __init__(self, *, results_dir: Path, rebuild: bool, clock: Clock) -> None:
        self.results_dir = results_dir
        self.rebuild = rebuild
        self.clock = clock
        self.images = ImagePlanner(results_dir=results_dir, rebuild=rebuild)

    def write(self, reads: list[FolderRead], report: BatchOutcome) -> int:
        """Store ``reads`` (one transaction, or one per session if the batch cannot be stored)."""
        return self._write_with_retry(reads, report)

    def _write_with_retry(self, reads: list[FolderRead], report: BatchOutcome) -> int:
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

    def _write_unstorable(self, read: FolderRead, exc: Exception, report: BatchOutcome) -> None:
        """Keep the session's last good data and say why the new data could not be stored."""
        logger.exception("%s: cannot store what was read", read.name)
        failed = FolderRead(read.name, listing=read.listing, error=f"cannot store what was read: {exc}",
                             counts=read.counts, created_at=read.created_at)
        try:
            self._write([failed], report)
        except (DatabaseError, ValueError, OverflowError):
            logger.exception("%s: cannot record the error either", read.name)
            report.errors[read.name] = failed.error or ""

    def _write(self, reads: list[FolderRead], report: BatchOutcome) -> None:
        existing = {s.name: s for s in Session.objects.filter(name__in=[read.name for read in reads])}
        stored = self.images.stored([s.pk for s in existing.values()])
        # Image headers and parameters are read and search texts folded before the transaction,
        # so the write lock is held briefly.
        plans = {
            read.name: self.images.plan(read, stored.get(existing[read.name].pk, {}) if read.name in existing else {})
            for read in reads
            if not read.error
        }
        now = self.clock()
        with transaction.atomic():
            restored = [s for s in existing.values() if s.is_missing]
            for read in reads:
                if read.name in existing:
                    self._update_session_fields(existing[read.name], read, now)
                if read.error:
                    report.errors[read.name] = read.error
                    logger.warning("%s: %s", read.name, read.error)
            Session.objects.bulk_update(list(existing.values()), _SESSION_SYNC_FIELDS)
            # Rows first, then the change counter, as every writer locks them (lifecycle).
            stamp_changes([session.pk for session in existing.values()])
            created = self._create_sessions([read for read in reads if read.name not in existing], now)
            sessions = {**existing, **{s.name: s for s in created}}
            readable = [read for read in reads if not read.error]
            if self.rebuild:
                ids = [sessions[read.name].pk for read in readable]
                SessionStats.objects.filter(session_id__in=ids).delete()
                SessionImage.objects.filter(session_id__in=ids).delete()
            new = {session.pk for session in created}
            self._write_stats(readable, sessions, now, new=new)
            written, deleted = write_images(plans, sessions)
            self._write_search_documents(plans, sessions, new=new)
            record_events(restored_events(restored), now=now)
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
        report.unreadable_images += sum(plan.unreadable for plan in plans.values())

    def _create_sessions(self, reads: list[FolderRead], now: datetime) -> list[Session]:
        if not reads:
            return []
        sessions = []
        # Each new session is written with its change number: numbering them afterwards wrote
        # each row a second time, with every index it has.
        for change, read in enumerate(reads, start=reserve_changes(len(reads))):
            status = status_at_discovery(manifest_status=read.manifest.status if read.manifest else None,
                                         has_manifest=read.listing is not None and read.listing.has_manifest)
            session = Session(name=read.name, status=status, status_source=EventSource.WATCHDOG,
                              status_changed_at=now, first_seen_at=now, change_seq=change)
            self._update_session_fields(session, read, now)
            if read.listing is None:  # unreadable folder: nothing known but its name
                session.created_at = session.last_activity_at = now
            sessions.append(session)
        insert_objects(sessions, returning_pk=True)
        created = sessions
        record_events(discovered_events(created), now=now)
        for session in created:
            logger.info("%s: discovered (%s, %d images)", session.name, session.status, session.images_actual)
        return created

    @staticmethod
    def _update_session_fields(session: Session, read: FolderRead, now: datetime) -> None:
        session.is_missing = False
        session.forgotten_at = None  # a forgotten session whose folder is back returns
        session.synced_at = now
        session.updated_at = now
        session.sync_error = read.error
        listing = read.listing
        if listing is None:
            return  # the folder could not be listed: keep everything else
        session.folder_mtime_ns = listing.mtime_ns
        session.folder_device = fit_to_column(Session, "folder_device", listing.device)
        session.folder_inode = fit_to_column(Session, "folder_inode", listing.inode)
        session.manifest_mtime_ns = listing.manifest_mtime_ns
        session.manifest_size = listing.manifest_size
        session.last_activity_at = from_ns(listing.last_activity_ns)
        if read.error and session.pk is not None:
            return  # keep the last good data
        assert read.counts is not None and read.created_at is not None
        session.fingerprint = read.fingerprint
        session.has_manifest = listing.has_manifest
        session.created_at = read.created_at
        session.images_actual = read.counts.images_actual
        session.images_expected = fit_to_column(Session, "images_expected", read.counts.images_expected)
        session.completion_percentage = read.counts.completion_percentage
        session.cover_image = cover_image((record.filename, record.index, record.exists) for record in read.records)

    def _write_stats(self, reads: list[FolderRead], sessions: dict[str, Session], now: datetime, *,
                     new: set[int]) -> None:
        sessions_by_pk = {session.pk: session for session in sessions.values()}
        rows = [
            SessionStats(session_id=sessions[read.name].pk, stats_computed_at=now,
                         **{name: fit_to_column(SessionStats, name, getattr(read.stats, name))
                            for name in _STATS_DATA_FIELDS})
            for read in reads
            if read.stats is not None
        ]
        for row in rows:  # with the session's counts, written in this same transaction
            row.rendered = render(stats_object(row, sessions_by_pk[row.session_id]))
        _insert_or_replace(rows, new=new, update_fields=[*_STATS_FIELDS, "rendered"])
        without = [sessions[read.name].pk for read in reads if read.stats is None]
        if without:
            SessionStats.objects.filter(session_id__in=without).delete()

    @staticmethod
    def _write_search_documents(plans: dict[str, ImagePlan], sessions: dict[str, Session], *, new: set[int]) -> None:
        """Each session's own words (with its tags and note) and its images' distinct words."""
        ids = {name: sessions[name].pk for name in plans}
        metadata = dict(SessionMetadata.objects.filter(session_id__in=ids.values())
                        .values_list("session_id", "search_text"))
        rows = [SessionSearch(session_id=ids[name], images_text=images_text(sorted(plan.texts.values())),
                              own_text=own_text(words=plan.session_words, metadata=metadata.get(ids[name], "")))
                for name, plan in plans.items()]
        _insert_or_replace(rows, new=new, update_fields=["own_text", "images_text"])

    @staticmethod
    def _apply_manifest_status(session: Session, read: FolderRead, now: datetime) -> bool:
        if read.manifest is None or read.listing is None or read.manifest.status == session.status:
            return False
        try:
            event = transition_status(session=session, to_status=read.manifest.status, source=EventSource.WATCHDOG,
                                      manifest_mtime_ns=read.listing.manifest_mtime_ns, now=now)
        except TransitionRefused as exc:
            logger.info("%s: manifest says %s, status stays %s: %s", session.name, read.manifest.status,
                        session.status, exc)
            return False
        return event is not None


def _insert_or_replace(rows: list[SessionStats] | list[SessionSearch], *, new: set[int],
                       update_fields: list[str]) -> None:
    """A session's one row of ``rows``' model: a plain insert for a session created in this batch
    (on PostgreSQL a COPY, which spares the driver quoting every value into one statement and
    parsing it again), else replacing what is stored."""
    insert_objects([row for row in rows if row.session_id in new])
    insert_objects([row for row in rows if row.session_id not in new],
                   update_conflicts_on=["session"], update_fields=update_fields)
