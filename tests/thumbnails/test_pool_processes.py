"""The pool's worker processes: Ctrl+C is their parent's business, and they never outlive it.

This module imports nothing from Django: the workers import it to find ``stuck``.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from PIL import Image

from tests.conftest import ROOT
from tests.processes import alive, children_of, kill, wait_gone
from thumbnails.pool import ThumbnailPool
from thumbnails.rendering import Job, Status, ThumbnailSettings


def stuck(job: Job):
    """A render that never ends (a file system that stopped answering)."""
    time.sleep(3600)


def png(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 96), (10, 200, 30)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def worker_pids(pool: ThumbnailPool) -> list[int]:
    return list(pool._executor._processes)


def render_one(pool: ThumbnailPool, tmp_path: Path, name: str):
    pool.submit(Job(str(png(tmp_path / f"{name}.png")), str(tmp_path / "out" / f"{name}.webp"), ThumbnailSettings()))
    return pool.wait_outcome(timeout=60)


def test_workers_ignore_ctrl_c_and_stop_with_the_pool(tmp_path: Path) -> None:
    pool = ThumbnailPool(workers=1)
    try:
        assert render_one(pool, tmp_path, "a").status is Status.RENDERED
        [worker] = worker_pids(pool)
        os.kill(worker, signal.SIGINT)  # what a terminal's Ctrl+C sends to every process of the group
        assert wait_gone([worker], timeout=2) == [worker]  # still there: its parent decides
        assert render_one(pool, tmp_path, "b").status is Status.RENDERED
        assert worker_pids(pool) == [worker]
    finally:
        pool.close()
    assert wait_gone([worker], timeout=5) == []


def test_closing_never_waits_for_a_stuck_render(tmp_path: Path) -> None:
    pool = ThumbnailPool(workers=1, renderer=stuck)
    pool.STOP_WITHIN = 0.5
    pool.submit(Job(str(tmp_path / "a.png"), str(tmp_path / "a.webp"), ThumbnailSettings()))
    deadline = time.monotonic() + 30
    while not worker_pids(pool):  # the worker starts with the first job
        assert time.monotonic() < deadline
        time.sleep(0.01)
    [worker] = worker_pids(pool)
    started = time.monotonic()
    pool.close()
    try:
        assert time.monotonic() - started < 5
        assert wait_gone([worker], timeout=5) == []
    finally:
        kill([worker])


PARENT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from thumbnails.pool import ThumbnailPool
    from thumbnails.rendering import Job, ThumbnailSettings

    pool = ThumbnailPool(workers=2)
    for n, source in enumerate(sys.argv[1:]):
        pool.submit(Job(source, source + ".webp", ThumbnailSettings()))
    for _ in sys.argv[1:]:
        pool.wait_outcome(timeout=60)
    print(" ".join(str(pid) for pid in pool._executor._processes), flush=True)
    sys.stdin.read()  # until killed
""")


def test_workers_exit_when_their_parent_is_killed(tmp_path: Path) -> None:
    sources = [str(png(tmp_path / f"{n}.png")) for n in range(4)]
    parent = subprocess.Popen([sys.executable, "-c", PARENT, *sources], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    helpers: list[int] = []
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(alive(pid) for pid in workers)
        helpers = children_of(parent.pid)  # the workers and multiprocessing's resource tracker
        assert set(workers) < set(helpers)
        parent.kill()  # kill -9: no chance to stop anything
        parent.wait()
        assert wait_gone(helpers, timeout=10) == []
    finally:
        parent.kill()
        parent.wait()
        kill(helpers)


def test_fifos_named_like_pngs_do_not_stall_the_workers(tmp_path: Path) -> None:
    fifos = [tmp_path / "fifo-1.png", tmp_path / "fifo-2.png"]  # as many as there are workers
    for fifo in fifos:
        os.mkfifo(fifo)
    pool = ThumbnailPool(workers=2)
    settings = ThumbnailSettings()
    try:
        for source in [*fifos, *(png(tmp_path / f"{n}.png") for n in range(4))]:
            pool.submit(Job(str(source), str(tmp_path / "out" / (source.stem + ".webp")), settings))
        outcomes = [pool.wait_outcome(timeout=30) for _ in range(6)]
    finally:
        for fifo in fifos:  # a worker stuck in open() gets out when the other end opens
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        pool.close()
    assert None not in outcomes
    statuses = sorted((Path(outcome.job.source).name, outcome.status.value) for outcome in outcomes)
    assert statuses == [("0.png", "rendered"), ("1.png", "rendered"), ("2.png", "rendered"), ("3.png", "rendered"),
                        ("fifo-1.png", "failed"), ("fifo-2.png", "failed")]
