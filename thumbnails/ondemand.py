"""Rendering a thumbnail on demand, in the web server: once per file at a time, and a bounded
number at a time per process.

Several requests for the same missing thumbnail (a page of the gallery opened twice, a
browser retrying) wait for the one render and are then served its result. Renders of
different files take turns in each process, so that its memory stays bounded: a 64-megapixel
PNG needs a few hundred megabytes while it is decoded.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from thumbnails.rendering import Job, Outcome, Status, examine, render

LOCK_STRIPES = 64  # lock files, shared by the files whose names hash alike (never deleted)
WAIT_AT_MOST = 30.0  # seconds a request waits for another render (then: try again shortly)
RENDERS_AT_ONCE = 1  # per process
LOCK_POLL = 0.02  # seconds between two tries of a lock another process holds

_stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]
_slots = threading.BoundedSemaphore(RENDERS_AT_ONCE)


def render_once(job: Job, *, lock_dir: Path, renderer: Callable[[Job], Outcome] = render,
                wait_at_most: float | None = None) -> Outcome:
    """``renderer(job)``, unless the thumbnail is up to date (or known to fail): then a few
    ``stat`` calls only. A request that finds another render of the same file under way waits
    for it, then finds its result; BUSY when that takes longer than ``wait_at_most``."""
    _, outcome = examine(job)
    if outcome is not None:
        return outcome
    deadline = time.monotonic() + (WAIT_AT_MOST if wait_at_most is None else wait_at_most)
    busy = Outcome(job, Status.BUSY, "the thumbnail is being made; try again shortly")
    with exclusive(lock_dir, job.target, deadline=deadline) as locked:
        if not locked or not _slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return busy
        try:
            return renderer(job)  # looks again first: made meanwhile, it is up to date now
        finally:
            _slots.release()


@contextmanager
def exclusive(lock_dir: Path, target: str, *, deadline: float) -> Iterator[bool]:
    """Hold the lock of ``target`` against this process's other threads and other processes
    (the web server's workers); yields False when it could not be had by ``deadline``."""
    stripe = zlib.crc32(os.fsencode(target)) % LOCK_STRIPES
    if not _stripes[stripe].acquire(timeout=max(0.0, deadline - time.monotonic())):
        yield False
        return
    try:
        os.makedirs(lock_dir, exist_ok=True)
        fd = os.open(lock_dir / f"{stripe:02}.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            locked = _flock(fd, deadline)
            try:
                yield locked
            finally:
                if locked:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        _stripes[stripe].release()


def _flock(fd: int, deadline: float) -> bool:
    # flock has no timeout: try, and try again, until the deadline.
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(LOCK_POLL)
