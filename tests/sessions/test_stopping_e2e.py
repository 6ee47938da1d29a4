"""Stopping, end to end: whatever stops ``runwatchdog``, ``serve`` or ``make demo``, and
whenever, nothing they started is left running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from sessions.models import WatcherHeartbeat
from sessions.simulator import png_bytes
from tests.conftest import ROOT, process_env, wait_until
from tests.processes import descendants, kill, wait_gone, with_environment

pytestmark = pytest.mark.e2e


def a_library(results: Path, sessions: int = 3, images: int = 6) -> Path:
    """Finished runs whose thumbnails are still to be made: the watcher starts its workers."""
    for n in range(sessions):
        folder = results / f"2025110{n + 1}_120000-run"
        folder.mkdir(parents=True)
        for m in range(images):
            (folder / f"image_{m:04}_seed-{m}.png").write_bytes(png_bytes(width=64, height=96, seed=m, parameters="x"))
    return results


def ours(tmp_path: Path) -> list[int]:
    """The processes started for this test (they all carry its data dir in their environment)."""
    return with_environment("SDGEN_DATA_DIR", str(tmp_path / "data"))


def thumbnail_workers(pid: int) -> list[int]:
    return [child for child in descendants(pid) if b"multiprocessing.spawn" in _cmdline(child)]


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def leftovers(tmp_path: Path):
    """Whatever the test leaves running is killed after it (and makes it fail, in its asserts)."""
    yield
    kill(ours(tmp_path))


def test_a_watcher_killed_with_sigkill_leaves_no_worker_behind(tmp_path: Path, live_database_url: str,
                                                                leftovers: None) -> None:
    results = a_library(tmp_path / "results")
    env = process_env(tmp_path, live_database_url)
    with open(tmp_path / "watcher.log", "wb") as log:
        watcher = subprocess.Popen([sys.executable, "manage.py", "runwatchdog", "--results", str(results)], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: len(thumbnail_workers(watcher.pid)) == 2, what="the thumbnail workers")
        started = descendants(watcher.pid)  # the workers and multiprocessing's resource tracker
        watcher.kill()
        watcher.wait()
        assert wait_gone(started, timeout=10) == [], (tmp_path / "watcher.log").read_text()
    finally:
        watcher.kill()
        watcher.wait()


def start_serve(tmp_path: Path, live_database_url: str, port: int, **env: str) -> subprocess.Popen:
    results = tmp_path / "results"
    if not results.exists():
        a_library(results)
    # Its own process group, as a shell gives a command: the test can press Ctrl+C the way a terminal does.
    return subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "1"],
                            cwd=ROOT, env=process_env(tmp_path, live_database_url, SDGEN_RESULTS_DIR=str(results), **env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


@pytest.mark.parametrize("when", ["at once", "while starting", "while serving"])
def test_ctrl_c_on_serve_stops_everything_within_seconds_whenever_it_comes(
    tmp_path: Path, live_database_url: str, leftovers: None, when: str
) -> None:
    port = free_port()
    serve = start_serve(tmp_path, live_database_url, port)
    try:
        if when == "while starting":
            wait_until(lambda: len(descendants(serve.pid)) >= 2, what="serve's children")
        elif when == "while serving":
            wait_until(lambda: answers(f"http://127.0.0.1:{port}/admin/login/"), what="the web server")
            wait_until(lambda: thumbnail_workers(serve.pid), what="the thumbnail workers")
        started = descendants(serve.pid)
        os.killpg(serve.pid, signal.SIGINT)  # Ctrl+C: the terminal signals the whole foreground group
        output, _ = serve.communicate(timeout=15)
    finally:
        serve.kill()
        serve.wait()
    assert wait_gone(started + ours(tmp_path), timeout=5) == [], output
    if when != "at once":  # before serve set up its handlers, Python's own Ctrl+C handling applies
        assert serve.returncode == 0, output
        assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert not answers(f"http://127.0.0.1:{port}/admin/login/")


def test_serve_stops_everything_when_the_port_is_taken(tmp_path: Path, live_database_url: str,
                                                        leftovers: None) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        serve = start_serve(tmp_path, live_database_url, busy.getsockname()[1])
        try:
            output, _ = serve.communicate(timeout=60)
        finally:
            serve.kill()
            serve.wait()
    assert serve.returncode == 2  # said before anything starts
    assert "is already in use" in output
    assert wait_gone(ours(tmp_path), timeout=5) == [], output


def test_serve_sigterm_stops_both(tmp_path: Path, live_database_url: str, leftovers: None) -> None:
    port = free_port()
    serve = start_serve(tmp_path, live_database_url, port)
    try:
        wait_until(lambda: WatcherHeartbeat.objects.filter(stopped_at=None).exists(), what="the watcher")
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/admin/login/"), what="the web server")
        serve.terminate()
        output, _ = serve.communicate(timeout=15)
    finally:
        serve.kill()
        serve.wait()
    assert serve.returncode == 0, output
    assert wait_gone(ours(tmp_path), timeout=5) == [], output
    assert WatcherHeartbeat.objects.get().stopped_at is not None


def test_serve_killed_with_sigkill_leaves_nothing_behind(tmp_path: Path, live_database_url: str,
                                                         leftovers: None) -> None:
    port = free_port()
    serve = start_serve(tmp_path, live_database_url, port)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/admin/login/"), what="the web server")
        wait_until(lambda: thumbnail_workers(serve.pid), what="the thumbnail workers")
        started = descendants(serve.pid)
        serve.kill()
        serve.communicate(timeout=15)
    finally:
        serve.kill()
        serve.wait()
    assert wait_gone(started + ours(tmp_path), timeout=15) == []


def test_a_demo_whose_server_cannot_start_leaves_no_simulator_running(tmp_path: Path, leftovers: None) -> None:
    env = {key: value for key, value in process_env(tmp_path, "").items() if key != "DATABASE_URL"}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        demo = subprocess.run(["make", "--no-print-directory", "demo", f"DEMO_DIR={tmp_path / 'data'}",
                               f"PORT={busy.getsockname()[1]}"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=240)
    assert demo.returncode != 0, demo.stdout + demo.stderr
    assert "is already in use" in demo.stderr
    assert (tmp_path / "data" / "live-run.log").exists()  # the simulator did start
    assert wait_gone(ours(tmp_path), timeout=5) == [], demo.stdout + demo.stderr
