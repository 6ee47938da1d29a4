#!/usr/bin/env python
"""The API's lean answers through a real server (granian on 127.0.0.1, SQLite, 1,000 sessions
× 10 images made by mklib.py, one session in ten liked and tagged): the cached stats, the 304
path, and what a page of 100 sessions weighs; with --profile, where a stats request's time
goes (cProfile through Django's test client, in this process) and its queries.

    python bench/lean_api.py [--requests 300] [--profile]

Requests go one after another over a kept-alive connection; each time is from sending the
request to having read the whole answer. Checks the server does not offer yet say so.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import http.client
import io
import pstats
import random
import tempfile
import time
from pathlib import Path

from api import Server, summary
from common import library, setup_django

FEW = "session_id,status,images_actual,thumbnail_url"


def prepare(sessions: int, images: int) -> tuple[Path, str]:
    from django.contrib.auth.models import User

    from accounts.services import create_api_token
    from sessions.models import Session
    from sessions.services import sync_sessions, update_metadata

    results = library(sessions, images)
    sync_sessions(results_dir=results)
    rng = random.Random(3)
    for session in Session.objects.all():
        if rng.random() < 0.1:
            update_metadata(session=session, changes={"is_favorite": True, "tags": ["keeper", f"batch{rng.randrange(9)}"]})
    return results, create_api_token(user=User.objects.create_user("bench", is_staff=True))


def ask(connection: http.client.HTTPConnection, path: str,
        headers: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes]:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    return response, response.read()


def measure(port: int, path: str, headers: dict[str, str], count: int, expect: int) -> list[float] | None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    try:
        for _ in range(10):  # warm up
            if ask(connection, path, headers)[0].status != expect:
                return None
        seconds = []
        for _ in range(count):
            started = time.perf_counter()
            ask(connection, path, headers)
            seconds.append(time.perf_counter() - started)
        return seconds
    finally:
        connection.close()


def served(port: int, token: str, name: str, count: int) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    connection = http.client.HTTPConnection("127.0.0.1", port)
    etags = {path: ask(connection, path, auth)[0].getheader("ETag") for path in
             (f"/api/sessions/{name}/stats", "/api/sessions/?limit=100")}
    rows = [
        ("stats", f"/api/sessions/{name}/stats", auth, 200),
        ("stats, 304", f"/api/sessions/{name}/stats",
         {**auth, "If-None-Match": etags[f"/api/sessions/{name}/stats"] or "-"}, 304),
        ("list of 100", "/api/sessions/?limit=100", auth, 200),
        ("list, 304", "/api/sessions/?limit=100", {**auth, "If-None-Match": etags["/api/sessions/?limit=100"] or "-"},
         304),
        ("list, 4 fields", f"/api/sessions/?limit=100&fields={FEW}", auth, 200),
    ]
    for label, path, headers, expect in rows:
        seconds = measure(port, path, headers, count, expect)
        print(f"  {label:15} {summary(seconds) if seconds else 'not offered by this version'}", flush=True)
    connection.close()  # idle while the rest was measured: the server may have closed it
    connection = http.client.HTTPConnection("127.0.0.1", port)
    _, full = ask(connection, "/api/sessions/?limit=100", auth)
    few, few_body = ask(connection, f"/api/sessions/?limit=100&fields={FEW}", auth)
    zipped, zipped_body = ask(connection, "/api/sessions/?limit=100", {**auth, "Accept-Encoding": "gzip"})
    print(f"  a page of 100 sessions: {len(full) / 1000:.1f} KB")
    if few.status == 200:
        print(f"    with fields={FEW}: {len(few_body) / 1000:.1f} KB")
    if zipped.getheader("Content-Encoding") == "gzip":
        print(f"    gzipped on the wire: {len(zipped_body) / 1000:.1f} KB "
              f"({len(gzip.decompress(zipped_body)) / 1000:.1f} KB unpacked)")
    connection.close()


def profile(token: str, name: str, count: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    path = f"/api/sessions/{name}/stats"
    for _ in range(20):
        client.get(path)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    print(f"\nthe queries of one stats request ({len(captured.captured_queries)}):")
    for query in captured.captured_queries:
        print(f"  {query['sql'][:160]}")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(count):
        client.get(path)
    profiler.disable()
    print(f"\n{count} stats requests in process: {(time.perf_counter() - started) / count * 1000:.2f} ms each "
          "(with the profiler's own cost)")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    data_dir = setup_django(data_dir=Path(tempfile.mkdtemp(prefix="sdgen-bench-lean-")))
    from sessions.models import Session

    results, token = prepare(1000, 10)
    name = Session.objects.order_by("-created_at").values_list("name", flat=True)[500]
    print(f"1,000 sessions × 10 images ({data_dir}), median and p95 of {args.requests} requests:")
    server = Server(results)
    try:
        served(server.port, token, name, args.requests)
    finally:
        server.stop()
    if args.profile:
        profile(token, name, 1000)


if __name__ == "__main__":
    main()
