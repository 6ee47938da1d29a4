"""Writing a batch of folder reads: sessions, stats, image rows and events in one transaction.

Bulk inserts (``SessionImageQuerySet.insert_rows``, ``bulk_create``) keep a first sync of a
million images fast; a batch that cannot be stored is split until the one session at fault
is found, and that session gets a ``sync_error`` while the others are stored. Statuses and
events go through ``sessions.lifecycle``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

from django.db import DatabaseError, IntegrityError, transaction

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
    ImageText,
    Session,
    SessionImage,
    SessionMetadata,
    SessionSearch,
    SessionStats,
    fit_to_column,
    integer_range,
)
from sessions.reading import FolderRead
from sessions.scanning import read_image_size
from sessions.search.documents import TextFolder, images_text, own_text, session_words, text_digest
from sessions.stats import StatsData, from_ns

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_MAX_FILENAME: int = SessionImage._meta.get_field("filename").max_length  # type: ignore[union-attr,assignment]
_INDEX_RANGE = integer_range(SessionImage, "index")
_SEED_RANGE = integer_range(SessionImage, "seed")
_SIDE_MAX = min(integer_range(SessionImage, "width")[1], integer_range(SessionImage, "height")[1])
_STATS_DATA_FIELDS = [f.name for f in fields(StatsData)]
_STATS_FIELDS = [*_STATS_DATA_FIELDS, "stats_computed_at"]
_IMAGE_FIELDS = ["index", "seed", "prompt", "negative_prompt", "applied_variations", "file_size", "mtime_ns"]
_SESSION_SYNC_FIELDS = [
    "has_manifest", "sync_error", "created_at", "images_actual", "images_expected", "completion_percentage",
    "last_activity_at", "folder_mtime_ns", "manifest_mtime_ns", "manifest_size", "synced_at", "updated_at",
    "is_missing", "forgotten_at", "cover_image",
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
    errors: dict[str, str] = field(default_factory=dict)


class SessionBatchWriter:
    """Stores folder reads, comparing each with what the database holds."""

    def __init__(self, *, results_dir: Path, rebuild: bool, clock: Clock) -> None:
        self.results_dir = results_dir
        self.rebuild = rebuild
        self.clock = clock
        self.texts = TextFolder()

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
        stored = self._stored_images([s.pk for s in existing.values()])
        # Image headers are read and search texts folded before the transaction, so the write
        # lock is held briefly.
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
            self._write_search_documents(plans, sessions)
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

    def _create_sessions(self, reads: list[FolderRead], now: datetime) -> list[Session]:
        sessions = []
        for read in reads:
            status = status_at_discovery(manifest_status=read.manifest.status if read.manifest else None,
                                         has_manifest=read.listing is not None and read.listing.has_manifest)
            session = Session(name=read.name, status=status, status_source=EventSource.WATCHDOG,
                              status_changed_at=now, first_seen_at=now)
            self._update_session_fields(session, read, now)
            if read.listing is None:  # unreadable folder: nothing known but its name
                session.created_at = session.last_activity_at = now
            sessions.append(session)
        created = Session.objects.bulk_create(sessions)
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
        session.manifest_mtime_ns = listing.manifest_mtime_ns
        session.manifest_size = listing.manifest_size
        session.last_activity_at = from_ns(listing.last_activity_ns)
        if read.error and session.pk is not None:
            return  # keep the last good data
        assert read.counts is not None and read.created_at is not None
        session.has_manifest = listing.has_manifest
        session.created_at = read.created_at
        session.images_actual = read.counts.images_actual
        session.images_expected = fit_to_column(Session, "images_expected", read.counts.images_expected)
        session.completion_percentage = read.counts.completion_percentage
        session.cover_image = cover_image((record.filename, record.index, record.exists) for record in read.records)

    def _write_stats(self, reads: list[FolderRead], sessions: dict[str, Session], now: datetime) -> None:
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
            "session_id", "filename", "pk", *_IMAGE_FIELDS, "width", "height", "text__digest"
        )
        for session_id, filename, *values in rows.order_by():
            stored.setdefault(session_id, {})[filename] = tuple(values)
        return stored

    def _plan_images(self, read: FolderRead, stored: dict[str, tuple]) -> _ImagePlan:
        """Decide which image rows to insert, update and delete; read new files' dimensions."""
        words = session_words(name=read.name, model=read.stats.sd_model if read.stats else None)
        plan = _ImagePlan(session_words=words)
        stored = {} if self.rebuild else dict(stored)
        folder = os.path.join(self.results_dir, read.name)
        image_text = self.texts.image_text
        digests: dict[str, str] = {}
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
            text = image_text(prompt=record.prompt, negative_prompt=record.negative_prompt,
                              variations=record.applied_variations)
            digest = digests.get(text) if text else None
            if text and digest is None:
                digest = digests[text] = text_digest(text)
                plan.texts[digest] = text
            previous = stored.pop(record.filename, None)
            size = None
            if previous is not None:
                pk, *old_values, width, height, old_digest = previous
                same_file = old_values[5:] == [record.file_size, record.mtime_ns]
                if same_file and (width is not None or not record.exists):
                    if tuple(old_values) == values and old_digest == digest:
                        continue
                    size = (width, height) if width is not None else None
            if record.exists and size is None:
                size = read_image_size(f"{folder}/{record.filename}")
            width, height = size if size and max(size) <= _SIDE_MAX else (None, None)
            # The text's id is known once the batch's texts are stored: its digest stands in till then.
            if previous is None:
                plan.create.append((record.filename, *values, width, height, digest))
            else:
                plan.update.append((SessionImage(pk=pk, filename=record.filename, width=width, height=height,
                                                 **dict(zip(_IMAGE_FIELDS, values))), digest))
        plan.delete = [previous[0] for previous in stored.values()]
        return plan

    @staticmethod
    def _write_images(plans: dict[str, _ImagePlan], sessions: dict[str, Session]) -> tuple[int, int]:
        text_ids = _store_texts(plans)
        to_create, to_update, to_delete = [], [], []
        for name, plan in plans.items():
            session_id = sessions[name].pk
            to_create += [(session_id, *row[:-1], text_ids.get(row[-1]) if row[-1] else None) for row in plan.create]
            for image, digest in plan.update:
                image.session_id = session_id
                image.text_id = text_ids.get(digest) if digest else None
                to_update.append(image)
            to_delete += plan.delete
        if to_delete:
            SessionImage.objects.filter(pk__in=to_delete).delete()
        SessionImage.objects.insert_rows(to_create)
        if to_update:
            SessionImage.objects.bulk_update(to_update, [*_IMAGE_FIELDS, "width", "height", "text"], batch_size=500)
        return len(to_create) + len(to_update), len(to_delete)

    @staticmethod
    def _write_search_documents(plans: dict[str, _ImagePlan], sessions: dict[str, Session]) -> None:
        """Each session's own words (with its tags and note) and its images' distinct words."""
        ids = {name: sessions[name].pk for name in plans}
        metadata = dict(SessionMetadata.objects.filter(session_id__in=ids.values())
                        .values_list("session_id", "search_text"))
        rows = [SessionSearch(session_id=ids[name], images_text=images_text(sorted(plan.texts.values())),
                              own_text=own_text(words=plan.session_words, metadata=metadata.get(ids[name], "")))
                for name, plan in plans.items()]
        SessionSearch.objects.bulk_create(rows, update_conflicts=True, unique_fields=["session"],
                                          update_fields=["own_text", "images_text"])

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


@dataclass
class _ImagePlan:
    session_words: str = ""
    # New rows as tuples in SessionImageQuerySet.INSERT_FIELDS order, without the session id.
    create: list[tuple] = field(default_factory=list)
    update: list[tuple[SessionImage, str | None]] = field(default_factory=list)  # with its text's digest
    delete: list[int] = field(default_factory=list)
    # The distinct texts of its images (search), by digest.
    texts: dict[str, str] = field(default_factory=dict)


def _store_texts(plans: dict[str, _ImagePlan]) -> dict[str, int]:
    """The ids of the batch's image texts, storing those not stored yet (digest → id)."""
    texts = {digest: text for plan in plans.values() for digest, text in plan.texts.items()}
    if not texts:
        return {}
    ids: dict[str, int] = {}
    digests = list(texts)
    for start in range(0, len(digests), 1000):  # within any database's limit of parameters
        chunk = digests[start:start + 1000]
        ids.update(ImageText.objects.filter(digest__in=chunk).values_list("digest", "id"))
    missing = [ImageText(digest=digest, text=texts[digest]) for digest in digests if digest not in ids]
    if missing:
        ImageText.objects.bulk_create(missing, ignore_conflicts=True)  # another writer may store one too
        for start in range(0, len(missing), 1000):
            chunk = [text.digest for text in missing[start:start + 1000]]
            ids.update(ImageText.objects.filter(digest__in=chunk).values_list("digest", "id"))
    return ids
