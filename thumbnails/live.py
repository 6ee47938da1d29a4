"""The watcher's thumbnail side: live images first, the catch-up behind them, nothing dropped."""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sessions.models import Session
from thumbnails import failures
from thumbnails.pool import BACKGROUND, ThumbnailPool
from thumbnails.rendering import Job, Outcome, Status
from thumbnails.services import (
    CatchUpReport,
    SessionCheck,
    SessionTally,
    check_session,
    is_thumbnail_source,
    job_for,
    plan_catch_up,
    record_count,
    remove_orphans,
    remove_session_thumbnails,
    thumbnail_settings,
    thumbnail_store,
)

logger = logging.getLogger(__name__)


class LiveThumbnails:
    """Every new image gets its thumbnail, newest first; the smart catch-up runs behind them.

    Called from the watcher's thread only; rendering happens in the pool's processes. Nothing
    is dropped: a job the pool's queue has no room for waits in an overflow (newest first)
    until there is. The catch-up keeps ``BACKGROUND_AHEAD`` jobs queued behind the live ones
    (live jobs always go first), so the workers never wait for the watcher's next turn. An image
    still being written is tried again with a growing delay (and on every change the watcher
    sees); an image that fails is tried again once its file changes.
    """

    RETRY_FIRST = 0.25
    RETRY_LONGEST = 5.0
    RETRY_GIVE_UP = 120.0  # seconds an image may stay incomplete before it counts as failed
    COUNT_EVERY = 2.0  # seconds between two recordings of one session's counts
    BACKGROUND_AHEAD = 256  # catch-up jobs kept queued: work for the workers between two pumps
    BUSY_PUMP_EVERY = 0.05  # seconds between pumps while work is out

    def __init__(self, *, results_dir: Path, thumbnails_dir: Path, workers: int,
                 pool: ThumbnailPool | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.results_dir = results_dir
        self.thumbnails_dir = thumbnails_dir
        self.settings = thumbnail_settings()
        self.store = thumbnail_store(thumbnails_dir)
        self.pool = pool or ThumbnailPool(workers=workers)
        self.monotonic = monotonic
        self.report = CatchUpReport()
        self._overflow: dict[str, tuple[float, Job]] = {}  # source → (rank, job), oldest first
        self._plan: Iterator[tuple[int, SessionCheck]] | None = None
        # Synced sessions whose jobs did not all fit (looked at again, ahead of the catch-up).
        self._unchecked: dict[str, None] = {}
        self._background: deque[Job] = deque()  # the current session's jobs not queued yet
        self._background_rank = 0.0
        self._ranks = itertools.count()
        self._tally = SessionTally(thumbnails_dir)
        self._failed: dict[str, int] = {}  # source → its mtime when it failed
        self._incomplete: dict[str, _Retry] = {}
        self._dirty: set[str] = set()  # sessions whose counts changed
        self._recorded_at: dict[str, float] = {}

    def start_catch_up(self) -> None:
        """Feed the smart catch-up to the pool in the background, behind live images."""
        self._plan = plan_catch_up(results_dir=self.results_dir, thumbnails_dir=self.thumbnails_dir)

    def image_changed(self, path: Path) -> None:
        try:
            relative = path.relative_to(self.results_dir)
        except ValueError:
            return
        if len(relative.parts) != 2 or not is_thumbnail_source(relative.parts[1]):
            return
        session, filename = relative.parts
        self._submit(job_for(self.results_dir, self.thumbnails_dir, session, filename, self.settings, self.store))

    def session_synced(self, name: str) -> None:
        """Queue whatever the session lacks (in polling mode the only way images are noticed).

        What the pool has no room for now is not held here job by job (a folder restored from
        a backup may lack a million thumbnails): the session is looked at again when there is
        room, ahead of the catch-up."""
        check = check_session(results_dir=self.results_dir, thumbnails_dir=self.thumbnails_dir, name=name,
                              render_settings=self.settings)
        if check is None:
            remove_session_thumbnails(self.thumbnails_dir, name)
            return
        if check.orphans:
            self.report.removed += remove_orphans(check, thumbnails_dir=self.thumbnails_dir)
            self._dirty.add(name)
        room = self.pool.room()
        rank = -self.monotonic()
        for job in check.jobs[:room]:
            self.pool.submit(job, rank=rank)
        if len(check.jobs) > room:
            self._unchecked[name] = None

    def pump(self, *, wait: float = 0.0) -> None:
        """Take finished work (waiting up to ``wait`` seconds for some), retry what was still
        being written, move waiting jobs into the pool, keep the background fed."""
        outcomes = self.pool.outcomes()
        if not outcomes and wait > 0:
            first = self.pool.wait_outcome(timeout=wait)
            outcomes = [first, *self.pool.outcomes()] if first is not None else []
        now = self.monotonic()
        for outcome in outcomes:
            self._finished(outcome, now)
        for retry in self._incomplete.values():
            if retry.due <= now:
                retry.due = float("inf")  # until its outcome is back
                self._submit(retry.job)
        self._refill()
        self._feed_background()
        self._record_counts(now)

    def pump_within(self) -> float | None:
        """Seconds after which ``pump`` should run again (None: no hurry, only on news)."""
        if (self._overflow or self._unchecked or self._plan is not None or self._background or len(self._tally)
                or self.pool.pending()):
            return self.BUSY_PUMP_EVERY
        now = self.monotonic()
        due = min((retry.due for retry in self._incomplete.values()), default=float("inf"))
        if self._dirty:
            due = min(due, min(self._recorded_at.get(name, -self.COUNT_EVERY) for name in self._dirty) + self.COUNT_EVERY)
        return None if due == float("inf") else max(0.0, due - now)

    @property
    def waiting(self) -> int:
        """Jobs held here for want of room in the pool's queue."""
        return len(self._overflow)

    def close(self) -> None:
        self.pool.close(wait=False)

    def _submit(self, job: Job) -> None:
        """A file that changed: it goes first, and waits here when the pool has no room."""
        failed_mtime = self._failed.get(job.source)
        if failed_mtime is not None:
            try:
                if os.stat(job.source).st_mtime_ns == failed_mtime:
                    return  # still the very file that failed
            except OSError:
                pass
            del self._failed[job.source]
        rank = -self.monotonic()  # newest first
        self._overflow.pop(job.source, None)
        if not self.pool.submit(job, rank=rank):
            self._overflow[job.source] = (rank, job)

    def _refill(self) -> None:
        while self._overflow and self.pool.room() > 0:
            source, (rank, job) = self._overflow.popitem()  # the newest
            if not self.pool.submit(job, rank=rank):
                self._overflow[source] = (rank, job)
                return

    def _feed_background(self) -> None:
        if self._overflow:
            return  # live images waiting for room come first
        while self.pool.queued() < self.BACKGROUND_AHEAD:
            if not self._background and not self._next_background_session():
                return
            job = self._background.popleft()
            if not self.pool.submit(job, tier=BACKGROUND, rank=self._background_rank):
                self._background.appendleft(job)
                return

    def _next_background_session(self) -> bool:
        """Take the next synced session that still lacks thumbnails, or else plan the next
        session of the catch-up; False when there is none."""
        while self._unchecked:
            name = next(iter(self._unchecked))
            del self._unchecked[name]
            check = check_session(results_dir=self.results_dir, thumbnails_dir=self.thumbnails_dir, name=name,
                                  render_settings=self.settings)
            if check is not None and check.jobs:
                self._background.extend(check.jobs)
                self._background_rank = -1.0  # ahead of the catch-up's sessions
                return True
        if self._plan is None:
            return False
        try:
            pk, check = next(self._plan)
        except StopIteration:
            self._plan = None
            logger.info("thumbnail catch-up planned: %d sessions looked at, the last of their thumbnails queued",
                        self.report.sessions)
            return False
        except Exception:
            # The database went away in the middle: the next start (or catchupthumbnails) resumes.
            logger.exception("the thumbnail catch-up stopped")
            self._plan = None
            return False
        self.report.sessions += 1
        self.report.removed += remove_orphans(check, thumbnails_dir=self.thumbnails_dir)
        if check.jobs:
            self._tally.add(pk, check)
            self._background.extend(check.jobs)
            self._background_rank = float(next(self._ranks))
        else:
            record_count(session_id=pk, check=check, thumbnails_dir=self.thumbnails_dir)
        return True

    def _finished(self, outcome: Outcome, now: float) -> None:
        outcome = self.store.settle(outcome)  # a WebP for another storage is stored now
        source = outcome.job.source
        tallied = self._tally.finished(outcome)
        if outcome.status in (Status.INCOMPLETE, Status.BUSY):
            retry = self._incomplete.setdefault(source, _Retry(outcome.job, first=now))
            if now - retry.first < self.RETRY_GIVE_UP:
                retry.due = now + min(self.RETRY_LONGEST, self.RETRY_FIRST * 2 ** retry.attempts)
                retry.attempts += 1
                return
            reason = "the image stayed incomplete"
            outcome = Outcome(outcome.job, Status.FAILED, reason, outcome.source_stamp,
                              recorded=failures.remember(outcome.job.target, reason))
        self._incomplete.pop(source, None)
        self.report.count(outcome)
        if outcome.status is Status.FAILED:
            if outcome.remembered:
                logger.debug("%s: no thumbnail (known): %s", source, outcome.error)
            else:
                logger.warning("%s: no thumbnail: %s", source, outcome.error)
            if outcome.source_stamp is not None:
                self._failed[source] = outcome.source_stamp[1]
        if not tallied:
            self._dirty.add(Path(source).parent.name)

    def _record_counts(self, now: float) -> None:
        due = [name for name in self._dirty if now - self._recorded_at.get(name, -self.COUNT_EVERY) >= self.COUNT_EVERY]
        if not due:
            return
        ids = dict(Session.objects.filter(name__in=due).values_list("name", "pk"))
        for name in due:
            self._dirty.discard(name)
            self._recorded_at[name] = now
            check = check_session(results_dir=self.results_dir, thumbnails_dir=self.thumbnails_dir, name=name,
                                  render_settings=self.settings)
            if check is not None and name in ids:
                record_count(session_id=ids[name], check=check, thumbnails_dir=self.thumbnails_dir)


@dataclass
class _Retry:
    job: Job
    first: float
    due: float = float("inf")
    attempts: int = 0
