#!/usr/bin/env python
"""Open live streams against API latency: granian as ``manage.py serve`` runs it (2 workers,
threads for SDGEN_STREAMS_PER_PROCESS streams each plus the rest), SQLite, a library of 1,000
sessions × 10 images.

    python bench/stream.py [--streams 50] [--requests 300]

First the API alone; then the same requests while ``--streams`` clients hold /api/stream open
and a session changes status twice a second (every stream is sent each change). Requests go one
after another over a kept-alive connection.
"""

from __future__ import annotations

import argparse
import http.client
import tempfile
import threading
import time
from pathlib import Path

from api import Server, summary, timings
from common import library, setup_django


class StreamClient(threading.Thread):
    """Holds one /api/stream open and counts the events it is sent."""

    def __init__(self, port: int, token: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.stop = port, token, stop
        self.status: int | None = None
        self.events = 0
        self.opened = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/api/stream", headers={"Authorization": f"Bearer {self.token}",
                                                              "Accept": "text/event-stream"})
            response = connection.getresponse()
            self.status = response.status
            self.opened.set()
            if response.status != 200:
                return
            while not self.stop.is_set():
                try:
                    line = response.fp.readline()
                except TimeoutError:
                    continue
                if not line:
                    return
                if line.startswith(b"event: "):
                    self.events += 1
        finally:
            self.opened.set()
            connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    data_dir = setup_django(data_dir=Path(tempfile.mkdtemp(prefix="sdgen-bench-stream-")))
    from django.conf import settings
    from django.contrib.auth.models import User

    from accounts.services import create_api_token
    from sessions.lifecycle import transition_status
    from sessions.models import Session
    from sessions.services import sync_sessions

    results = library(1000, 10)
    sync_sessions(results_dir=results)
    token = create_api_token(user=User.objects.create_user("bench", is_staff=True))
    name = Session.objects.order_by("-created_at").values_list("name", flat=True)[500]
    server = Server(results)
    port = server.port
    stop = threading.Event()
    try:
        paths = {"list": "/api/sessions/?limit=50", "one": f"/api/sessions/{name}/",
                 "images": f"/api/sessions/{name}/images/"}
        print(f"1000 sessions × 10 images, SQLite ({data_dir}); {settings.SDGEN_STREAMS_PER_PROCESS} streams "
              "per process at most, 2 processes")
        before = {label: timings(port, token, path, args.requests) for label, path in paths.items()}
        clients = [StreamClient(port, token, stop) for _ in range(args.streams)]
        for client in clients:
            client.start()
        for client in clients:
            client.opened.wait(10)
        held = sum(client.status == 200 for client in clients)

        def change() -> None:
            session = Session.objects.get(name=name)
            to = "aborted"
            while not stop.is_set():
                transition_status(session=session, to_status=to, source="admin", performer="bench", reason="bench")
                to = "completed" if to == "aborted" else "aborted"
                session.refresh_from_db()
                stop.wait(0.5)

        changer = threading.Thread(target=change, daemon=True)
        changer.start()
        time.sleep(1)
        during = {label: timings(port, token, path, args.requests) for label, path in paths.items()}
        time.sleep(1)
        stop.set()
        changer.join(5)
        events = sorted(client.events for client in clients if client.status == 200)
        print(f"streams open: {held} of {args.streams} (refused: "
              f"{sorted({client.status for client in clients if client.status != 200})}); events each stream "
              f"received: min {events[0] if events else 0}, max {events[-1] if events else 0}")
        print("| request | alone | with the streams open |\n|---|---|---|")
        for label, path in paths.items():
            print(f"| `{path}` | {summary(before[label])} | {summary(during[label])} |")
    finally:
        stop.set()
        server.stop()


if __name__ == "__main__":
    main()
