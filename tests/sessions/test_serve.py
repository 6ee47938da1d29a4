"""``manage.py serve``: the web server and the watcher start and stop together."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from sessions.models import WatcherHeartbeat
from tests.conftest import ROOT, process_env, wait_until

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def test_serve_runs_both_and_ctrl_c_stops_both(tmp_path: Path, live_database_url: str) -> None:
    results = tmp_path / "results"
    results.mkdir()
    port = free_port()
    env = process_env(tmp_path, live_database_url, SDGEN_RESULTS_DIR=str(results))
    serve = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "1"],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/admin/login/"), what="the web server")
        wait_until(lambda: WatcherHeartbeat.objects.filter(stopped_at=None).exists(), what="the watcher")
        serve.send_signal(signal.SIGINT)
        output, _ = serve.communicate(timeout=15)
    finally:
        serve.kill()
    assert serve.returncode == 0, output
    assert not answers(f"http://127.0.0.1:{port}/admin/login/")
    assert WatcherHeartbeat.objects.get().stopped_at is not None


def test_when_the_watcher_cannot_start_the_web_server_is_stopped_too(tmp_path: Path, live_database_url: str) -> None:
    port = free_port()
    env = process_env(tmp_path, live_database_url, SDGEN_RESULTS_DIR=str(tmp_path / "no-such-folder"))
    result = subprocess.run([sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "1"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "the watcher stopped (exit code 2)" in result.stderr
    assert not answers(f"http://127.0.0.1:{port}/admin/login/")
