#!/usr/bin/env python
"""API latency through a real server: granian on 127.0.0.1, SQLite, libraries of 1,000 and
10,000 sessions × 100 images (made by mklib.py, synced first; one session in ten liked and
tagged).

    python bench/api.py [--requests 300]

Requests go one after another over a kept-alive connection; each time is from sending the
request to having read the whole answer.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, library, setup_django


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(sessions: int) -> tuple[Path, str]:
    """A synced database for the library; returns (data dir, a token)."""
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from accounts.services import create_api_token
    from sessions.models import Session
    from sessions.services import sync_sessions, update_metadata

    results = library(sessions, 100)
    call_command("flush", interactive=False, verbosity=0)
    sync_sessions(results_dir=results)
    rng = random.Random(3)
    for session in Session.objects.all():
        if rng.random() < 0.1:
            update_metadata(session=session, changes={"is_favorite": True, "tags": ["keeper", f"batch{rng.randrange(9)}"]})
    user = User.objects.create_user("bench", is_staff=True)
    return results, create_api_token(user=user)


class Server:
    def __init__(self, results: Path, *, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        env = {**os.environ, "SDGEN_RESULTS_DIR": str(results), "SDGEN_LOG_LEVEL": "WARNING", **(env or {})}
        from sessions.management.commands.serve import web_server_command

        # granian as `manage.py serve` runs it; its access log is thrown away.
        self.process = subprocess.Popen(web_server_command(bind=f"127.0.0.1:{self.port}", workers=2), cwd=ROOT,
                                        env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the web server did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)


def timings(port: int, token: str, path: str, count: int, *, headers: dict[str, str] | None = None) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = headers or {"Authorization": f"Bearer {token}"}
    for _ in range(10):  # warm up: connections, caches, code paths
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, (path, response.status, body[:300])
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        seconds.append(time.perf_counter() - started)
    connection.close()
    return seconds


def summary(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered) * 1000:5.1f} ms, p95 {p95 * 1000:5.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    data_dir = setup_django(data_dir=Path(tempfile.mkdtemp(prefix="sdgen-bench-api-")))
    from sessions.models import Session

    medians = {}
    for sessions in (1000, 10000):
        results, token = prepare(sessions)
        name = Session.objects.order_by("-created_at").values_list("name", flat=True)[sessions // 2]
        server = Server(results)
        try:
            checks = {
                "list": "/api/sessions/?limit=100",
                "filtered": "/api/sessions/?model=v1-5&liked=true&complete=true&limit=100",
                "stats": f"/api/sessions/{name}/stats",
            }
            print(f"{sessions} sessions × 100 images ({data_dir}):")
            for label, path in checks.items():
                seconds = timings(server.port, token, path, args.requests)
                medians[(sessions, label)] = statistics.median(seconds)
                print(f"  {label:9} {path:70} {summary(seconds)}", flush=True)
            connection = http.client.HTTPConnection("127.0.0.1", server.port)
            connection.request("GET", checks["filtered"], headers={"Authorization": f"Bearer {token}"})
            print(f"  (the filtered list matches {json.loads(connection.getresponse().read())['total_count']} sessions)")
        finally:
            server.stop()
    for label in ("list", "filtered", "stats"):
        ratio = medians[(10000, label)] / medians[(1000, label)]
        print(f"{label}: median at 10,000 sessions is {ratio:.2f}x the median at 1,000 (goal <= 1.5x)")


if __name__ == "__main__":
    main()
