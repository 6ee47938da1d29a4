"""A pool of worker processes that render thumbnails, most urgent job first."""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sdgen_site.processes import die_with_parent
from thumbnails import rendering
from thumbnails.rendering import Job, Outcome, Status, render

logger = logging.getLogger(__name__)


def _process_executor(workers: int) -> Executor:
    # spawn: the watcher has threads and database connections that must not be forked.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_started, initargs=(os.getpid(),))


def _worker_started(parent_pid: int) -> None:
    """In each worker, before its first job."""
    # Ctrl+C reaches every process of the terminal's group: the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)
    # Killed with SIGKILL, the parent cannot stop us: the kernel (or a thread) does.
    die_with_parent(parent_pid)


def _stop_worker(signum: int, frame: object) -> None:
    temporary = rendering.current_temporary
    if temporary is not None:
        try:
            os.unlink(temporary)
        except OSError:
            pass
    os._exit(128 + signum)


LIVE, BACKGROUND = 0, 1


class ThumbnailPool:
    """Renders jobs in ``workers`` processes, most urgent first, without blocking callers.

    ``submit`` only queues; the queue holds at most ``max_queued`` jobs and ``submit`` says
    False when it is full (or the pool is closed): callers wait for ``room()`` or keep the job
    themselves. A dispatcher thread hands the most urgent job over whenever a worker is about
    to be free. Every job accepted gives exactly one outcome, collected with ``outcomes()``
    or ``wait_outcome()``; a crashed worker takes its job down with it, not the pool.
    """

    MAX_QUEUED = 10_000
    STOP_WITHIN = 0.5  # seconds ``close()`` gives running jobs before workers are terminated
    FINISH_WITHIN = 60.0  # the same with ``close(wait=True)``

    def __init__(self, *, workers: int, max_queued: int | None = None, max_in_flight: int | None = None,
                 renderer: Callable[[Job], Outcome] = render,
                 executor_factory: Callable[[int], Executor] | None = None) -> None:
        self.workers = workers
        self.max_queued = max_queued or self.MAX_QUEUED
        self._renderer = renderer
        self._executor_factory = executor_factory or _process_executor
        # By default one job running and one waiting per worker: no worker idles while a result
        # travels back, and a live image waits behind at most one job per worker.
        self._max_in_flight = max_in_flight or 2 * workers
        self._heap: list[tuple[tuple[int, float], int, Job]] = []
        self._queued: set[str] = set()
        self._counter = itertools.count()
        self._in_flight = 0
        self._condition = threading.Condition()
        self._outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._closed = False
        self._executor = self._new_executor()
        self._dispatcher = threading.Thread(target=self._dispatch, name="thumbnail-dispatcher", daemon=True)
        self._dispatcher.start()

    def _new_executor(self) -> Executor:
        return self._executor_factory(self.workers)

    def submit(self, job: Job, *, tier: int = LIVE, rank: float | None = None) -> bool:
        """Queue a job; lower (tier, rank) first. Live jobs default to newest-submitted first.

        False when the queue is full or the pool closed: the job is not taken.
        """
        with self._condition:
            if self._closed:
                return False
            if job.source in self._queued:
                return True
            if len(self._heap) >= self.max_queued:
                return False
            key = (tier, -time.monotonic() if rank is None else rank)
            heapq.heappush(self._heap, (key, next(self._counter), job))
            self._queued.add(job.source)
            self._condition.notify()
            return True

    def queued(self) -> int:
        with self._condition:
            return len(self._heap)

    def room(self) -> int:
        """Jobs ``submit`` would take now."""
        with self._condition:
            return 0 if self._closed else self.max_queued - len(self._heap)

    def pending(self) -> int:
        """Jobs taken whose outcome is not out yet (queued or being rendered)."""
        with self._condition:
            return len(self._heap) + self._in_flight

    def outcomes(self) -> list[Outcome]:
        collected = []
        while True:
            try:
                collected.append(self._outcomes.get_nowait())
            except queue.Empty:
                return collected

    def wait_outcome(self, timeout: float) -> Outcome | None:
        try:
            return self._outcomes.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self, *, wait: bool = False) -> None:
        """Drop what is queued and stop the workers: with ``wait`` once their running jobs are
        done (within ``FINISH_WITHIN`` seconds), else within ``STOP_WITHIN``. A worker still
        busy then is terminated: closing never hangs on a stuck render."""
        with self._condition:
            self._closed = True
            self._heap.clear()
            self._queued.clear()
            self._condition.notify_all()
        executor = self._executor
        processes = list((getattr(executor, "_processes", None) or {}).values())
        # The executor's own thread sends each worker its stop and waits for them: wait for that
        # thread, not for the processes (two threads waiting for one process race each other).
        manager = getattr(executor, "_executor_manager_thread", None)
        executor.shutdown(wait=wait and manager is None, cancel_futures=True)
        if manager is not None:
            manager.join(self.FINISH_WITHIN if wait else self.STOP_WITHIN)
            if manager.is_alive():
                logger.info("stopping thumbnail workers in the middle of a render")
                for process in processes:
                    if process.exitcode is None:
                        process.terminate()
                manager.join(1.0)
            for process in processes:
                if process.exitcode is None:
                    process.kill()
        self._dispatcher.join(timeout=1.0)

    def _dispatch(self) -> None:
        while True:
            with self._condition:
                while not self._closed and (not self._heap or self._in_flight >= self._max_in_flight):
                    self._condition.wait()
                if self._closed:
                    return
                _, _, job = heapq.heappop(self._heap)
                self._queued.discard(job.source)
                self._in_flight += 1
            try:
                future = self._executor.submit(self._renderer, job)
            except (BrokenProcessPool, RuntimeError) as exc:
                self._finished(job, None, exc)
                continue
            future.add_done_callback(functools.partial(self._finished_ok, job))

    def _finished_ok(self, job: Job, future: Future) -> None:
        self._finished(job, future, None)

    def _finished(self, job: Job, future: Future | None, error: BaseException | None) -> None:
        if future is not None:
            try:
                outcome = future.result()
            except BaseException as exc:  # a worker died (crash, out of memory), or shutdown
                error = exc
        if error is not None:
            outcome = Outcome(job, Status.FAILED, f"the renderer failed: {error!r}")
            if isinstance(error, BrokenProcessPool):
                self._replace_broken_executor()
        self._outcomes.put(outcome)
        with self._condition:
            self._in_flight -= 1
            self._condition.notify()

    def _replace_broken_executor(self) -> None:
        with self._condition:
            if self._closed or not getattr(self._executor, "_broken", False):
                return
            logger.warning("a thumbnail worker died; starting a new pool")
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
