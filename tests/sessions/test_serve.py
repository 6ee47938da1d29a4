"""``manage.py serve``: the web server and the watcher start and stop together."""

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
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True,
                   timeout=120)  # as make run does
    serve = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "1"],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/admin/login/"), what="the web server")
        wait_until(lambda: WatcherHeartbeat.objects.filter(stopped_at=None).exists(), what="the watcher")
        assert answers(f"http://127.0.0.1:{port}/static/admin/css/base.css")
        serve.send_signal(signal.SIGINT)
        output, _ = serve.communicate(timeout=15)
    finally:
        serve.kill()
    assert serve.returncode == 0, output
    assert f"Serving http://127.0.0.1:{port}/ (the gallery)" in output
    assert f"admin: http://127.0.0.1:{port}/admin/" in output
    # The access log has the pages, not a line per static file.
    assert '"GET /admin/login/ HTTP/1.1" 200' in output and "/static/" not in output, output
    assert not answers(f"http://127.0.0.1:{port}/admin/login/")
    assert WatcherHeartbeat.objects.get().stopped_at is not None


def test_when_the_watcher_stops_the_web_server_is_stopped_too(tmp_path: Path, live_database_url: str) -> None:
    results = tmp_path / "results"
    results.mkdir()
    port = free_port()
    env = process_env(tmp_path, live_database_url, SDGEN_RESULTS_DIR=str(results))
    serve = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "1"],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/admin/login/"), what="the web server")
        heartbeat = wait_until(lambda: WatcherHeartbeat.objects.filter(stopped_at=None).first(), what="the watcher")
        os.kill(heartbeat.pid, signal.SIGTERM)  # the watcher ends on its own
        output, _ = serve.communicate(timeout=20)
    finally:
        serve.kill()
    assert "the watcher stopped" in output, output
    assert not answers(f"http://127.0.0.1:{port}/admin/login/")


def serve_once(tmp_path: Path, database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "serve", "--workers", "1", *args], cwd=ROOT,
                          env=process_env(tmp_path, database_url, **env), capture_output=True, text=True, timeout=30)


def test_a_missing_results_folder_names_the_setting(tmp_path: Path, live_database_url: str) -> None:
    result = serve_once(tmp_path, live_database_url, "--port", str(free_port()),
                        SDGEN_RESULTS_DIR=str(tmp_path / "no-such-folder"))
    assert result.returncode == 2
    assert "does not exist. Point SDGEN_RESULTS_DIR at your generator's results folder" in result.stderr


def test_a_busy_port_names_the_setting(tmp_path: Path, live_database_url: str) -> None:
    (tmp_path / "results").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve_once(tmp_path, live_database_url, "--port", str(port),
                            SDGEN_RESULTS_DIR=str(tmp_path / "results"))
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert f"PORT={port + 1} make run" in result.stderr
