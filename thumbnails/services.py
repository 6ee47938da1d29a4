"""Thumbnails: where they live, which ones a session lacks, the smart catch-up, the live side.

Rendering itself is in ``thumbnails.rendering`` and runs in worker processes; everything
here runs in the caller's process (the watcher, ``catchupthumbnails``, the web server).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from sessions.image_files import is_thumbnail_source
from sessions.models import Session
from thumbnails.failures import FAILED_SUFFIX, is_stale_temporary, is_temporary
from thumbnails.models import ThumbnailCount
from thumbnails.ondemand import render_once
from thumbnails.pool import BACKGROUND, ThumbnailPool
from thumbnails.rendering import Job, Outcome, Status, ThumbnailSettings, render
from thumbnails.storage import (
    THUMBNAIL_SUFFIX,
    ThumbnailStore,
    is_thumbnail_file,
    local_listing,
    thumbnail_name,
    thumbnail_store,
    unlink_all,
)

logger = logging.getLogger(__name__)

LOCK_FOLDER = ".locks"  # in the thumbnail root: hidden, so never taken for a session's folder


def thumbnail_settings() -> ThumbnailSettings:
    return ThumbnailSettings(height=settings.SDGEN_THUMBNAIL_HEIGHT, quality=settings.SDGEN_THUMBNAIL_QUALITY,
                             method=settings.SDGEN_THUMBNAIL_METHOD)


def thumbnail_path(thumbnails_dir: Path, session_name: str, filename: str) -> Path:
    """The thumbnail's place in the local folder (its failure record goes beside it)."""
    return thumbnails_dir / session_name / thumbnail_name(filename)


def job_for(results_dir: Path, thumbnails_dir: Path, session_name: str, filename: str,
            render_settings: ThumbnailSettings, store: ThumbnailStore | None = None) -> Job:
    store = store or thumbnail_store(thumbnails_dir)
    return Job(str(results_dir / session_name / filename),
               str(thumbnail_path(thumbnails_dir, session_name, filename)), render_settings,
               store_as="" if store.local else f"{session_name}/{thumbnail_name(filename)}")


@dataclass
class SessionCheck:
    """A session's images compared with its thumbnails, from two listings (one directory
    listing each on the local folder)."""

    name: str
    folder_mtime_ns: int
    png_count: int  # the session's thumbnail sources (PNG, JPEG, WebP)
    up_to_date: int
    failed: int = 0  # sources whose failure is on record and that did not change since
    jobs: list[Job] = field(default_factory=list)
    # Failure records whose source is gone, and temporary files left by a killed writer (local
    # files); thumbnails whose source is gone (names in the session's thumbnail folder).
    orphans: list[Path] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    @property
    def is_complete(self) -> bool:
        return not self.jobs and not self.orphans and not self.stale


def check_session(*, results_dir: Path, thumbnails_dir: Path, name: str,
                  render_settings: ThumbnailSettings) -> SessionCheck | None:
    """List what the session lacks; None when its folder is gone."""
    folder = results_dir / name
    try:
        folder_mtime_ns = os.stat(folder).st_mtime_ns
        sources = _listing(folder, is_thumbnail_source)
    except OSError:
        return None
    store = thumbnail_store(thumbnails_dir)
    local = local_listing(thumbnails_dir / name)
    # On the local folder one listing holds all; elsewhere the storage is asked for the thumbnails.
    thumbnails = ({entry: mtime for entry, mtime in local.items() if is_thumbnail_file(entry)}
                  if store.local else store.listing(name))
    records: dict[str, int] = {}
    check = SessionCheck(name, folder_mtime_ns, len(sources), 0)
    now_ns = time.time_ns()
    for entry, mtime_ns in local.items():
        if is_temporary(entry):
            if is_stale_temporary(entry, mtime_ns, now_ns=now_ns):
                check.orphans.append(thumbnails_dir / name / entry)
        elif entry.endswith(THUMBNAIL_SUFFIX + FAILED_SUFFIX):
            records[entry[: -len(FAILED_SUFFIX)]] = mtime_ns
    expected = set()
    for filename, mtime_ns in sources.items():
        thumbnail = thumbnail_name(filename)
        expected.add(thumbnail)
        if thumbnails.get(thumbnail, 0) > mtime_ns:
            check.up_to_date += 1
        elif records.get(thumbnail, 0) > mtime_ns:
            check.failed += 1
        else:
            check.jobs.append(job_for(results_dir, thumbnails_dir, name, filename, render_settings, store))
    check.stale = sorted(thumbnail for thumbnail in thumbnails if thumbnail not in expected)
    check.orphans += [thumbnails_dir / name / (thumbnail + FAILED_SUFFIX)
                      for thumbnail in records if thumbnail not in expected]
    return check


def _listing(folder: Path, wanted: Callable[[str], bool]) -> dict[str, int]:
    """The regular files (not symlinks, FIFOs or folders) with a ``wanted`` name, and their mtimes."""
    with os.scandir(folder) as entries:
        return {entry.name: entry.stat(follow_symlinks=False).st_mtime_ns
                for entry in entries if wanted(entry.name) and entry.is_file(follow_symlinks=False)}


def remove_orphans(check: SessionCheck, *, thumbnails_dir: Path | None = None) -> int:
    """Delete thumbnails and failure records whose source image is gone, and stale temporary files."""
    removed = thumbnail_store(thumbnails_dir).delete(check.name, check.stale) if check.stale else 0
    return removed + unlink_all(check.orphans)


def remove_session_thumbnails(thumbnails_dir: Path, name: str) -> bool:
    """Delete the thumbnails of a session whose folder is gone (they are made again if it returns)."""
    return thumbnail_store(thumbnails_dir).remove_session(name)


def remove_orphan_folders(*, results_dir: Path, thumbnails_dir: Path) -> int:
    """Thumbnail folders whose session folder no longer exists: removed (hidden ones are ours)."""
    store = thumbnail_store(thumbnails_dir)
    names = set(store.sessions())
    if not store.local:  # failure records of sessions with no thumbnail left in the storage
        names.update(ThumbnailStore(thumbnails_dir).sessions())
    return sum(store.remove_session(name) for name in sorted(names) if not (results_dir / name).is_dir())


def move_session_thumbnails(*, thumbnails_dir: Path | None = None, old_name: str, new_name: str) -> int:
    """A renamed session keeps its thumbnails: they move with it, nothing is rendered again."""
    moved = thumbnail_store(thumbnails_dir).move_session(old_name, new_name)
    if moved:
        logger.info("%s: %d thumbnails moved from %s", new_name, moved, old_name)
    return moved


def record_count(*, session_id: int, check: SessionCheck, thumbnails_dir: Path, rendered: int = 0,
                 failed: int = 0) -> None:
    """Store what a session has, with both folders' mtimes: ``check``'s counts plus what was
    ``rendered`` and ``failed`` since. The thumbnail folder is stamped now, after the work."""
    ThumbnailCount.objects.update_or_create(
        session_id=session_id,
        defaults={"png_count": check.png_count, "thumbnail_count": check.up_to_date + rendered,
                  "failed_count": check.failed + failed, "folder_mtime_ns": check.folder_mtime_ns,
                  "thumbnails_mtime_ns": thumbnail_store(thumbnails_dir).folder_stamp(check.name),
                  "counted_at": timezone.now()},
    )


def plan_catch_up(*, results_dir: Path, thumbnails_dir: Path, full: bool = False,
                  names: Sequence[str] | None = None) -> Iterator[tuple[int, SessionCheck]]:
    """The sessions whose thumbnails need work, newest first, as (session id, check).

    A session the database knows to be complete (every PNG with a thumbnail or a failure on
    record, neither its folder nor its thumbnail folder changed since) is skipped after two
    ``stat`` calls; one it knows to be incomplete or changed is always checked, however old.
    A thumbnail folder deleted or emptied by hand shows as changed, and is made again. Sessions
    it knows nothing about follow the original rule: check them newest first and stop at the
    first complete one found after an incomplete one. With ``full`` (or ``names``) every
    session is checked on disk. Complete sessions found on the way are recorded, not yielded.
    """
    render_settings = thumbnail_settings()
    store = thumbnail_store(thumbnails_dir)
    sessions = Session.objects.present().order_by("-created_at", "-id")
    if names is not None:
        sessions = sessions.filter(name__in=names)
    # Read at once (small tuples): the caller may interleave other queries, or reconnect.
    rows = list(sessions.values_list(
        "pk", "name", "thumbnail_count__png_count", "thumbnail_count__thumbnail_count",
        "thumbnail_count__failed_count", "thumbnail_count__folder_mtime_ns", "thumbnail_count__thumbnails_mtime_ns"))
    found_incomplete = stop_unknown = False
    for pk, name, png_count, thumbnail_count, failed_count, counted_mtime, thumbnails_mtime in rows:
        known = png_count is not None
        if not (full or names is not None):
            if (known and thumbnail_count + failed_count >= png_count
                    and _folder_mtime(results_dir / name) == counted_mtime
                    and store.folder_stamp(name) == thumbnails_mtime):
                continue
            if not known and stop_unknown:
                continue
        check = check_session(results_dir=results_dir, thumbnails_dir=thumbnails_dir, name=name,
                              render_settings=render_settings)
        if check is None:
            continue
        if check.is_complete:
            record_count(session_id=pk, check=check, thumbnails_dir=thumbnails_dir)
            if not known and found_incomplete:
                stop_unknown = True
            continue
        found_incomplete = True
        yield pk, check


def _folder_mtime(folder: Path) -> int | None:
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return None


# --- catch-up ---------------------------------------------------------------------------


@dataclass
class CatchUpReport:
    rendered: int = 0
    up_to_date: int = 0
    failed: int = 0
    incomplete: int = 0
    removed: int = 0
    sessions: int = 0
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)

    def count(self, outcome: Outcome) -> None:
        if outcome.status is Status.RENDERED:
            self.rendered += 1
        elif outcome.status is Status.UP_TO_DATE:
            self.up_to_date += 1
        elif outcome.status is Status.REMOVED:
            self.removed += 1
        elif outcome.status in (Status.INCOMPLETE, Status.BUSY):
            self.incomplete += 1
        else:
            self.failed += 1
            self.errors[outcome.job.source] = outcome.error

    def summary(self) -> str:
        return (f"{self.rendered} rendered, {self.up_to_date} skipped (up to date), {self.failed} failed, "
                f"{self.incomplete} still being written, {self.removed} removed; {self.sessions} sessions touched; "
                f"{self.seconds:.1f}s")


class SessionTally:
    """Sessions whose jobs are out: each one's counts are recorded when its last outcome is in,
    from the check that planned it and what came back (no second listing)."""

    def __init__(self, thumbnails_dir: Path) -> None:
        self.thumbnails_dir = thumbnails_dir
        self.store = thumbnail_store(thumbnails_dir)
        self._sessions: dict[int, list] = {}  # session id → [check, jobs left, rendered, failed]
        self._session_of: dict[str, int] = {}

    def add(self, session_id: int, check: SessionCheck) -> None:
        self._sessions[session_id] = [check, len(check.jobs), 0, 0]
        for job in check.jobs:
            self._session_of[job.source] = session_id

    def __len__(self) -> int:
        return len(self._sessions)

    def finished(self, outcome: Outcome) -> bool:
        """Count an outcome (stored first, see ``settle``); False when it is not one of ours."""
        session_id = self._session_of.pop(outcome.job.source, None)
        if session_id is None:
            return False
        entry = self._sessions[session_id]
        entry[1] -= 1
        entry[2] += outcome.status is Status.RENDERED
        entry[3] += outcome.status is Status.FAILED and outcome.recorded
        if entry[1] == 0:
            del self._sessions[session_id]
            record_count(session_id=session_id, check=entry[0], thumbnails_dir=self.thumbnails_dir,
                         rendered=entry[2], failed=entry[3])
        return True


def catch_up_thumbnails(*, results_dir: Path, thumbnails_dir: Path, workers: int, full: bool = False,
                        names: Sequence[str] | None = None,
                        progress: Callable[[int, int], None] | None = None,
                        should_stop: Callable[[], bool] = lambda: False) -> CatchUpReport:
    """Render what the smart catch-up finds, in a pool of ``workers`` processes; wait for all
    (or, once ``should_stop()``, for what is running: the rest is found again next time)."""
    started = time.perf_counter()
    report = CatchUpReport()
    pool = ThumbnailPool(workers=workers)
    tally = SessionTally(thumbnails_dir)
    store = tally.store
    submitted = done = 0

    def collect(outcome: Outcome | None) -> None:
        nonlocal done
        if outcome is None:
            return
        outcome = store.settle(outcome)
        done += 1
        report.count(outcome)
        tally.finished(outcome)
        if progress:
            progress(done, submitted)

    if full:
        report.removed += remove_orphan_folders(results_dir=results_dir, thumbnails_dir=thumbnails_dir)
    try:
        for rank, (pk, check) in enumerate(plan_catch_up(results_dir=results_dir, thumbnails_dir=thumbnails_dir,
                                                         full=full, names=names)):
            report.sessions += 1
            report.removed += remove_orphans(check, thumbnails_dir=thumbnails_dir)
            if not check.jobs:
                record_count(session_id=pk, check=check, thumbnails_dir=thumbnails_dir)
                continue
            tally.add(pk, check)
            for job in check.jobs:
                if not _submit_when_room(pool, job, float(rank), collect, should_stop):
                    break
                submitted += 1
            if should_stop():
                break
        while len(tally) and not should_stop():
            outcome = pool.wait_outcome(timeout=0.5)
            if outcome is None and pool.pending() == 0:
                # Outcomes are out before a job stops counting as pending: nothing more will come.
                outcome = pool.wait_outcome(timeout=0)
                if outcome is None:
                    logger.error("thumbnail catch-up: %d sessions never got all their outcomes", len(tally))
                    break
            collect(outcome)
    finally:
        pool.close(wait=True)
    report.seconds = time.perf_counter() - started
    return report


def _submit_when_room(pool: ThumbnailPool, job: Job, rank: float, collect: Callable[[Outcome | None], None],
                      should_stop: Callable[[], bool]) -> bool:
    """Backpressure: queue ``job`` once the pool has room, taking outcomes meanwhile. The queue
    is kept short (planned only a little ahead of the workers: memory stays flat on any
    library) and a session of any size is fed job by job. False once ``should_stop()``."""
    ahead = min(pool.workers * 8, pool.max_queued)
    while not should_stop():
        if pool.queued() < ahead and pool.submit(job, tier=BACKGROUND, rank=rank):
            return True
        if pool.pending() == 0 and not pool.room():
            collect(Outcome(job, Status.FAILED, "the rendering pool is closed"))
            return True
        collect(pool.wait_outcome(timeout=0.5))
    return False


def ensure_thumbnail(*, results_dir: Path, thumbnails_dir: Path, session_name: str, filename: str) -> Outcome:
    """Render one thumbnail now, in this process, unless an up-to-date one exists; requests
    for the same file wait for one render (see ``thumbnails.ondemand``)."""
    store = thumbnail_store(thumbnails_dir)
    job = job_for(results_dir, thumbnails_dir, session_name, filename, thumbnail_settings(), store)
    if store.local:
        return render_once(job, lock_dir=thumbnails_dir / LOCK_FOLDER, renderer=render)

    def stored_render(job: Job) -> Outcome:
        # Under the file's lock: a request that waited finds what the first one stored.
        up_to_date = _stored_up_to_date(store, job, session_name)
        return up_to_date or store.settle(render(job))

    up_to_date = _stored_up_to_date(store, job, session_name)
    if up_to_date is not None:
        return up_to_date
    # A source that is gone takes its thumbnail with it (settled here: it was not rendered).
    return store.settle(render_once(job, lock_dir=thumbnails_dir / LOCK_FOLDER, renderer=stored_render))


def _stored_up_to_date(store: ThumbnailStore, job: Job, session_name: str) -> Outcome | None:
    try:
        source_mtime = os.stat(job.source).st_mtime_ns
    except OSError:
        return None
    stamp = store.stamp(session_name, job.store_as.partition("/")[2])
    return Outcome(job, Status.UP_TO_DATE) if stamp is not None and stamp[1] > source_mtime else None
