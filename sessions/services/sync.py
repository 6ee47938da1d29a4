"""Keeping the database in step with the results folder (SPEC section 6, ``syncsessions``).

A sync stamps every session folder (two ``stat`` calls), reads only the folders whose stamp
changed (``sessions.reading``), and writes them in batches (``sessions.services.writing``).
Vanished folders are marked missing, unless so many vanish that the results folder itself
looks wrong.
"""

from __future__ import annotations

import gc
import logging
import time
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from sessions.lifecycle import mark_missing, rename_sessions
from sessions.models import ImageText, ResultsFolderAlarm, Session, SessionImage
from sessions.reading import FolderRead, read_session_folder
from sessions.scanning import FolderSeen, check_results_dir, iter_folder_states, manifest_stamp, see_folder
from sessions.search import rebuild_indexes
from sessions.services.known import Known, KnownSessions, StoredState, load_known, load_named, load_states
from sessions.services.renames import find_renames
from sessions.services.synced_folders import (
    DatabaseMarks,
    database_marks,
    folders_as_synced,
    record_synced_folders,
)
from sessions.services.writing import BatchOutcome, SessionBatchWriter
from sessions.stats import STATS_VERSION

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Progress = Callable[[int, int], None]

# SPEC section 11: a sync that would mark more than half of the present sessions missing (and
# at least this many) marks none: the results folder is more likely wrong than the library gone.
MISSING_ALARM_AT_LEAST = 10


def results_folder_looks_wrong(*, vanishing: int, present: int) -> bool:
    return vanishing >= MISSING_ALARM_AT_LEAST and vanishing * 2 > present


# After a sync that wrote this much, the query planner's statistics are refreshed: the plans of
# the lists (an index walk for a common word, a look-up for a rare one) depend on them.
ANALYZE_AFTER_SESSIONS = 2_000
ANALYZE_AFTER_IMAGES = 50_000


def refresh_planner_statistics() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # VACUUM also marks the pages all-visible, which lets counts and deep pages be read
            # from the indexes alone; it cannot run inside a transaction.
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)")
        else:
            # A sample of each index, not a full scan: seconds on a million rows otherwise.
            cursor.execute("PRAGMA analysis_limit = 1000")
            cursor.execute("ANALYZE")


def forget_unused_image_texts() -> int:
    """Image texts no image uses any more (``--rebuild``): they are only kept to be shared."""
    unused = ImageText.objects.filter(~Exists(SessionImage.objects.filter(text_id=OuterRef("pk"))))
    return unused.delete()[0]


# Past this many names, what the database holds is read whole rather than name by name.
LOAD_NAMED_UP_TO = 500

# A batch is written in one transaction: big enough to amortise the round trips, small
# enough that memory stays flat and the web server never waits long for the write lock.
BATCH_MAX_SESSIONS = 200
BATCH_MAX_IMAGES = 5000


@dataclass
class SyncReport(BatchOutcome):
    sessions_seen: int = 0
    unchanged: int = 0
    missing: int = 0
    renamed: int = 0
    interrupted: bool = False  # stopped early at the caller's request (should_stop)
    # With defer_manifest_errors: unreadable manifests left untouched, to be read again shortly.
    deferred: dict[str, str] = field(default_factory=dict)
    # Sessions that would have been marked missing when the results folder looked wrong.
    held_missing: int = 0
    # The sessions read and written, and those marked missing (what others may want to follow up).
    changed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.sessions_seen} sessions: {self.created} new, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.missing} missing, {self.restored} restored, {self.renamed} renamed, "
            f"{len(self.errors)} with errors; {self.status_changes} status changes; "
            f"{self.images_written} image rows written, {self.images_deleted} removed; {self.seconds:.2f}s"
            + (f"; {self.held_missing} NOT marked missing (the results folder looks wrong)" if self.held_missing
               else "")
        )


class SessionSynchronizer:
    """Brings sessions in the database in line with the folders under ``results_dir``."""

    def __init__(
        self,
        *,
        results_dir: Path,
        full: bool = False,
        rebuild: bool = False,
        defer_manifest_errors: bool = False,
        accept_missing: bool = False,
        clock: Clock = timezone.now,
        time_zone: tzinfo | None = None,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
        known: KnownSessions | None = None,
    ) -> None:
        """``known``: what the database holds, kept by a caller that syncs again and again.
        ``defer_manifest_errors``: leave a session whose manifest cannot be parsed as it is
        and report it in ``SyncReport.deferred`` (the watcher reads a manifest that is being
        rewritten again a moment later instead of recording the half-written state).
        ``accept_missing``: mark vanished sessions missing even when the results folder looks
        wrong (see ``results_folder_looks_wrong``)."""
        self.results_dir = results_dir
        self.full = full or rebuild
        self.rebuild = rebuild
        self.accept_missing = accept_missing
        self.defer_manifest_errors = defer_manifest_errors
        self.clock = clock
        self.time_zone = time_zone or zoneinfo.ZoneInfo(settings.SDGEN_TIME_ZONE)
        self.progress = progress
        self.should_stop = should_stop
        self.known = known
        self.writer = SessionBatchWriter(results_dir=results_dir, rebuild=rebuild, clock=clock)
        # The database's marks and the stored states a whole pass compared the folders with.
        self._compared: tuple[DatabaseMarks, set[StoredState]] | None = None

    def sync(self, names: Sequence[str] | None = None) -> SyncReport:
        """Sync every session folder, or only ``names``; vanished sessions are marked missing."""
        started = time.perf_counter()
        check_results_dir(self.results_dir)
        report = SyncReport()
        self._compared = None
        untouched = 0  # folders on disk left out of ``folders``: known, and showing what was stored
        if names is None:
            with _collector_ignoring_old_objects(enabled=True):  # a library's worth of states
                folders, known, untouched = self._differing_folders()
        else:
            names = list(dict.fromkeys(names))
            folders = {name: seen for name in names if (seen := see_folder(self.results_dir, name)) is not None}
            known = load_named(names)
        renamed = self._follow_renames(folders, known, report)
        vanishing = sum(1 for name, entry in known.items() if name not in folders and not entry.is_missing)
        held = vanishing > 0 and not self.accept_missing and self._hold_missing(vanishing)
        if held:
            # The folder looks wrong: mark nothing missing, and take nothing new from it either.
            report.held_missing = vanishing
            folders = {name: seen for name, seen in folders.items() if name in known}
        elif names is None:
            ResultsFolderAlarm.objects.filter(pk=1).delete()  # a whole pass that looks right
        # Newest first (names start with the run's date), so a long first sync shows recent runs early.
        to_read = sorted((name for name, seen in folders.items() if self._changed(name, seen, known.get(name))),
                         reverse=True)
        report.unchanged = untouched + len(folders) - len(to_read)
        with _collector_ignoring_old_objects(enabled=len(to_read) >= BATCH_MAX_SESSIONS):
            self._read_and_write(to_read, folders, report)
        report.sessions_seen = untouched + len(folders)
        vanished = []
        if not held:
            # Folders emptied of every image and manifest left ``folders`` while being read.
            vanished = [name for name, entry in known.items() if name not in folders and not entry.is_missing]
            report.missing = mark_missing(session_ids=[known[name].pk for name in vanished], now=self.clock())
            report.changed += vanished
            if self._compared is not None and not report.interrupted:
                self._record_synced_folders(wrote=bool(to_read or vanished or renamed))
        if self.known is not None and (to_read or vanished or renamed):
            self.known.forget([*to_read, *vanished, *renamed])
        if self.rebuild and names is None and not report.interrupted:
            forget_unused_image_texts()
            rebuild_indexes()
        if report.created + report.updated >= ANALYZE_AFTER_SESSIONS or report.images_written >= ANALYZE_AFTER_IMAGES:
            refresh_planner_statistics()
        report.seconds = time.perf_counter() - started
        return report

    def _differing_folders(self) -> tuple[dict[str, FolderSeen], dict[str, Known], int]:
        """The folders on disk and the sessions known whose names differ between the two (new,
        changed, renamed, vanished or come back; every one with ``full``), and how many folders
        are left out as known and unchanged. The two sides are compared as sets of folder states
        (``FolderState``): one pass over the disk and one plain query, then only the names that
        differ are looked at one by one. The query is left out while the database is as the last
        whole sync left it and the folders give the digest it recorded (``synced_folders``)."""
        on_disk = list(iter_folder_states(self.results_dir))
        if self.known is not None:
            entries = self.known.current(now=self.clock())
            stored = self.known.states()
        else:
            marks = database_marks()  # before the states, which may be written meanwhile
            if not self.full and folders_as_synced(on_disk, marks):
                return {}, {}, len(on_disk)
            entries, stored = None, load_states()
            self._compared = marks, stored
        if self.full:
            differing = {state[0] for state in on_disk} | {state[0] for state in stored}
        else:
            differing = {state[0] for state in stored.symmetric_difference(on_disk)}
        if entries is not None:
            known = {name: entries[name] for name in differing if name in entries}
        elif len(differing) > LOAD_NAMED_UP_TO:
            known = {name: entry for name, entry in load_known().items() if name in differing}
        else:
            known = load_named(sorted(differing)) if differing else {}
        folders = {state[0]: FolderSeen(*state[1:4]) for state in on_disk if state[0] in differing}
        return folders, known, len(on_disk) - len(folders)

    def _record_synced_folders(self, *, wrote: bool) -> None:
        """After a whole pass that compared every stored state (``_compared``): their digest, for
        the next sync to find nothing to read without loading them. What this pass wrote is read
        back; the states it compared stand as they are when it wrote nothing."""
        assert self._compared is not None
        marks, stored = self._compared
        if wrote:
            record_synced_folders(marks=database_marks())
        else:
            record_synced_folders(marks=marks, states=stored)

    def _hold_missing(self, vanishing: int) -> bool:
        """Raise the alarm (and say so) when ``vanishing`` sessions are too many to believe."""
        if vanishing < MISSING_ALARM_AT_LEAST:
            return False
        present = Session.objects.present().count()
        if not results_folder_looks_wrong(vanishing=vanishing, present=present):
            return False
        alarm, raised = ResultsFolderAlarm.objects.update_or_create(pk=1, defaults={
            "results_dir": str(self.results_dir), "raised_at": self.clock(), "sessions_present": present,
            "sessions_vanished": vanishing})
        # Loud once; the watcher meets the same folder at every sweep.
        (logger.error if raised else logger.info)("%s", alarm.message())
        return True

    def _read_and_write(self, to_read: list[str], folders: dict[str, FolderSeen], report: SyncReport) -> None:
        pending: list[FolderRead] = []
        pending_images = done = 0
        for name in to_read:
            read = read_session_folder(results_dir=self.results_dir, name=name, tz=self.time_zone)
            if not read.is_session:
                del folders[name]  # emptied: no manifest and no image left
                continue
            if read.manifest_unreadable and self.defer_manifest_errors:
                report.deferred[name] = read.error or ""
                continue
            pending.append(read)
            report.changed.append(name)
            pending_images += len(read.records)
            if len(pending) >= BATCH_MAX_SESSIONS or pending_images >= BATCH_MAX_IMAGES:
                done += self.writer.write(pending, report)
                pending, pending_images = [], 0
                if self.progress:
                    self.progress(done, len(to_read))
                if self.should_stop is not None and self.should_stop():
                    report.interrupted = True
                    return
        if pending:
            done += self.writer.write(pending, report)
        if self.progress:
            self.progress(len(to_read), len(to_read))

    # --- reading ------------------------------------------------------------------------

    def _follow_renames(self, folders: dict[str, FolderSeen], known: dict[str, Known], report: SyncReport) -> list[str]:
        """Sessions whose folder was renamed or moved take their new names (``known`` is brought
        up to date); returns every name involved."""
        renames = find_renames(results_dir=self.results_dir, folders=folders, known=known, tz=self.time_zone)
        if not renames:
            return []
        renamed = rename_sessions(renames, now=self.clock())
        involved = [name for session, old_name in renamed for name in (old_name, session.name)]
        for name in involved:
            known.pop(name, None)
        known.update(load_named(involved))
        report.renamed += len(renames)
        return involved

    def _changed(self, name: str, seen: FolderSeen, known: Known | None) -> bool:
        """Whether the folder must be read again: its mtime, then its manifest's (rewritten in place,
        the manifest does not change its folder's mtime)."""
        if known is None or self.full or known.is_missing:
            return True
        if known.stats_version is not None and known.stats_version != STATS_VERSION:
            return True
        if seen.mtime_ns != known.folder_mtime_ns or (seen.device, seen.inode) != known.identity:
            return True
        return manifest_stamp(self.results_dir, name) != (known.manifest_mtime_ns, known.manifest_size)


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
    accept_missing: bool = False,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    clock: Clock = timezone.now,
    known: KnownSessions | None = None,
) -> SyncReport:
    """Sync all session folders (or ``names``) into the database; see ``SessionSynchronizer``."""
    synchronizer = SessionSynchronizer(results_dir=results_dir, full=full, rebuild=rebuild, clock=clock,
                                       defer_manifest_errors=defer_manifest_errors, accept_missing=accept_missing,
                                       progress=progress, should_stop=should_stop, known=known)
    return synchronizer.sync(names)
