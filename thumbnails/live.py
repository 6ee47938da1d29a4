"""The watcher's thumbnail side: every new PNG gets its thumbnail, the catch-up runs behind."""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sessions.models import Session
from thumbnails.pool import BACKGROUND, ThumbnailPool
from thumbnails.rendering import Job, Outcome, Status
from thumbnails.services import (
    CatchUpReport,
    SessionCheck,
    check_session,
    is_thumbnail_source,
    job_for,
    plan_catch_up,
    record_count,
    remove_orphans,
    remove_session_thumbnails,
    thumbnail_settings,
)

logger = logging.getLogger(__name__)


class LiveThumbnails:
    """The watcher's thumbnail side: every new PNG gets its thumbnail, newest first.

    Called from the watcher's thread only; rendering happens in the pool's processes. A PNG
    still being written is tried again with a growing delay (and on every change the watcher
    sees); a PNG that fails is tried again once its file changes.
    """

    RETRY_FIRST = 0.25
    RETRY_LONGEST = 5.0
    RETRY_GIVE_UP = 120.0  # seconds a PNG may stay incomplete before it counts as failed
    COUNT_EVERY = 2.0  # seconds between two recordings of one session's counts

    def __init__(self, *, results_dir: Path, thumbnails_dir: Path, workers: int,
                 pool: ThumbnailPool | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.results_dir = results_dir
        self.thumbnails_dir = thumbnails_dir
        self.settings = thumbnail_settings()
        self.pool = pool or ThumbnailPool(workers=workers)
        self.monotonic = monotonic
        self.report = CatchUpReport()
        self._plan: Iterator[tuple[int, SessionCheck]] | None = None
        self._background_rank = itertools.count()
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
        self._submit(job_for(self.results_dir, self.thumbnails_dir, session, filename, self.settings))

    def session_synced(self, name: str) -> None:
        """Queue whatever the session lacks (in polling mode the only way PNGs are noticed)."""
        check = check_session(results_dir=self.results_dir, thumbnails_dir=self.thumbnails_dir, name=name,
                              render_settings=self.settings)
        if check is None:
            remove_session_thumbnails(self.thumbnails_dir, name)
            return
        if check.orphans:
            self.report.removed += remove_orphans(check)
            self._dirty.add(name)
        for job in check.jobs:
            self._submit(job)

    def pump(self, *, wait: float = 0.0) -> None:
        """Take finished work (waiting up to ``wait`` seconds for some), retry what was still
        being written, keep the background fed."""
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
                self.pool.submit(retry.job)
        self._feed_background()
        self._record_counts(now)

    def close(self) -> None:
        self.pool.close(wait=False)

    def _submit(self, job: Job) -> None:
        failed_mtime = self._failed.get(job.source)
        if failed_mtime is not None:
            try:
                if os.stat(job.source).st_mtime_ns == failed_mtime:
                    return  # still the very file that failed
            except OSError:
                pass
            del self._failed[job.source]
        self.pool.submit(job)

    def _finished(self, outcome: Outcome, now: float) -> None:
        source = outcome.job.source
        if outcome.status is Status.INCOMPLETE:
            retry = self._incomplete.setdefault(source, _Retry(outcome.job, first=now))
            if now - retry.first < self.RETRY_GIVE_UP:
                retry.due = now + min(self.RETRY_LONGEST, self.RETRY_FIRST * 2 ** retry.attempts)
                retry.attempts += 1
                return
            outcome = Outcome(outcome.job, Status.FAILED, "the PNG stayed incomplete", outcome.source_stamp)
        self._incomplete.pop(source, None)
        self.report.count(outcome)
        if outcome.status is Status.FAILED:
            logger.warning("%s: no thumbnail: %s", source, outcome.error)
            if outcome.source_stamp is not None:
                self._failed[source] = outcome.source_stamp[1]
        self._dirty.add(Path(source).parent.name)

    def _feed_background(self) -> None:
        while self._plan is not None and self.pool.queued() < self.pool.workers * 2:
            try:
                _, check = next(self._plan)
            except StopIteration:
                self._plan = None
                return
            self.report.sessions += 1
            self.report.removed += remove_orphans(check)
            rank = float(next(self._background_rank))
            for job in check.jobs:
                self.pool.submit(job, tier=BACKGROUND, rank=rank)
            self._dirty.add(check.name)

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
