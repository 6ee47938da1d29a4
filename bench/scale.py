#!/usr/bin/env python
"""The library at scale: 1,000 and 100,000 sessions of 10 images (a million images), on SQLite
and on PostgreSQL, measured through a real server.

    python bench/scale.py                                   # SQLite, 1k and 100k
    python bench/scale.py --database-url postgres://postgres@127.0.0.1:5432/sdgen_scale
    python bench/scale.py --sessions 1000 --requests 20     # a quick look

For each library size: a cold sync in a fresh process on a fresh database (search index
included), the no-change re-sync, then granian as `manage.py serve` runs it (2 workers) on 127.0.0.1 with
REQUESTS requests per path one after another on a kept-alive connection (after 10 to warm
up; the API with a token, the admin's and the gallery's pages logged in; the list's searched and
filtered totals, kept per library version, also asked once after each of several changes), and the watcher at
rest (every thumbnail made) for IDLE seconds: its CPU and memory.
Libraries are made by mklib.py under bench/out/ and kept. One session in ten is liked and
tagged, one in a hundred has a note.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from api import Server, summary, timings
from common import ROOT, fill_thumbnails, library, setup_django, timed
from watch import WatcherProcess


def cold_sync_child(path: str, database_url: str | None, data_dir: str) -> None:
    setup_django(database_url=database_url, data_dir=Path(data_dir))
    from sessions.services import sync_sessions

    report, seconds = timed(sync_sessions, results_dir=Path(path))
    assert not report.errors, report.errors
    print(json.dumps({"seconds": seconds, "sessions": report.created, "images": report.images_written}))


def cold_sync(path: Path, database_url: str | None, data_dir: Path) -> dict:
    command = [sys.executable, __file__, "--cold-child", str(path), "--data-dir", str(data_dir)]
    if database_url:
        command += ["--database-url", database_url]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def annotate(sessions: int) -> None:
    from sessions.models import Session
    from sessions.services import update_metadata

    rng = random.Random(7)
    ids = list(Session.objects.values_list("pk", flat=True))
    for pk in rng.sample(ids, max(1, len(ids) // 10)):
        changes = {"is_favorite": True, "tags": ["keeper", f"batch{rng.randrange(9)}"]}
        if rng.random() < 0.1:
            changes["user_note"] = "good seeds, try again with a wider angle"
        update_metadata(session=Session.objects.get(pk=pk), changes=changes)


def admin_cookie() -> str:
    from django.contrib.auth.models import User
    from django.test import Client

    user, _ = User.objects.get_or_create(username="scale-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def rare_word(results: Path) -> str:
    """A word of exactly one image's prompt (what a person remembers of one picture), written
    into the middle session's manifest the first time."""
    from sessions.services import sync_sessions

    word = "zanzibarian"
    folders = sorted(path for path in results.iterdir() if path.is_dir())
    folder = folders[len(folders) // 2]
    manifest = json.loads((folder / "manifest.json").read_text())
    if word not in manifest["images"][0]["prompt"]:
        manifest["images"][0]["prompt"] += f", {word}"
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    sync_sessions(results_dir=results, names=[folder.name])
    return word


def measure(sessions: int, images: int, args: argparse.Namespace) -> dict[str, float]:
    """Everything for one library size, in a child process of its own (its own database)."""
    command = [sys.executable, __file__, "--measure-child", str(sessions), "--images", str(images),
               "--requests", str(args.requests), "--idle", str(args.idle)]
    if args.database_url:
        command += ["--database-url", args.database_url]
    if args.no_statistics:
        command.append("--no-statistics")
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    print(output.rsplit("\n", 2)[0], flush=True)
    return json.loads(output.strip().splitlines()[-1])


def first_asks(port: int, token: str, path: str, session: str, *, rounds: int) -> list[float]:
    """``path`` asked once after each of ``rounds`` changes to the library (a note written
    between two requests, outside the time measured): what its first page costs."""
    from sessions.models import Session
    from sessions.services import update_metadata

    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {token}"}
    seconds = []
    try:
        for round_number in range(-1, rounds):  # the first round warms the connection up
            update_metadata(session=Session.objects.get(name=session), changes={"user_note": f"round {round_number}"})
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            assert response.status == 200, (path, response.status)
            response.read()
            if round_number >= 0:
                seconds.append(time.perf_counter() - started)
    finally:
        connection.close()
    return seconds


def measure_child(sessions: int, images: int, args: argparse.Namespace) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"sdgen-scale-{sessions}-"))
    results = library(sessions, images)
    cold = cold_sync(results, args.database_url, data_dir)
    print(f"\n{sessions:,} sessions x {images} images ({data_dir})")
    print(f"  cold sync: {cold['seconds']:.1f} s, {cold['images'] / cold['seconds']:,.0f} images/s, "
          f"{cold['sessions'] / cold['seconds']:,.0f} sessions/s", flush=True)
    figures = {"cold sync (s)": cold["seconds"]}
    # The cold sync's database, as it left it.
    os.environ.update({"SDGEN_DATA_DIR": str(data_dir), "SDGEN_RESULTS_DIR": str(results),
                       "DJANGO_SETTINGS_MODULE": "sdgen_site.settings", "SDGEN_LOG_LEVEL": "WARNING"})
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from sessions.services import sync_sessions

    nochange = []
    for _ in range(5):
        report, seconds = timed(sync_sessions, results_dir=results)
        assert report.sessions_read == 0, report.summary()
        nochange.append(seconds)
    figures["no-change re-sync (ms)"] = statistics.median(nochange) * 1000
    print(f"  no-change re-sync: median {figures['no-change re-sync (ms)']:.0f} ms over 5", flush=True)
    # The watcher's sweep: the same, keeping what the database holds between two sweeps.
    from sessions.services.known import KnownSessions

    known = KnownSessions()
    sync_sessions(results_dir=results, known=known)
    sweeps = [timed(sync_sessions, results_dir=results, known=known)[1] for _ in range(5)]
    figures["watcher sweep (ms)"] = statistics.median(sweeps) * 1000
    print(f"  the watcher's sweep, nothing changed: median {figures['watcher sweep (ms)']:.0f} ms over 5", flush=True)

    annotate(sessions)
    if not args.no_statistics:
        # The favourites came after the sync's ANALYZE; the watcher refreshes SQLite's planner
        # statistics hourly (PostgreSQL's autovacuum by itself): measure that steady state.
        from sessions.services import refresh_planner_statistics

        refresh_planner_statistics()
    word = rare_word(results)
    from django.contrib.auth.models import User

    from accounts.services import create_api_token
    from sessions.models import Session

    token = create_api_token(user=User.objects.get_or_create(username="scale", defaults={"is_staff": True})[0])
    cookie = admin_cookie()
    name, other = Session.objects.order_by("-created_at").values_list("name", flat=True)[
        sessions // 2:sessions // 2 + 2]
    deep = max(0, sessions - 100)
    paths = {
        "list, first page": "/api/sessions/?limit=100",
        "list, deep offset": f"/api/sessions/?limit=100&offset={deep}",
        "q, many hits": "/api/sessions/?q=smiling&limit=100",
        "q, no hits": "/api/sessions/?q=nowhere&limit=100",
        "q, one word of one image": f"/api/sessions/?q={word}&limit=100",
        "filtered list": "/api/sessions/?model=v1-5&liked=true&complete=true&limit=100",
        "/api/stats": "/api/stats",
        "images, q common": "/api/images/?q=angry&limit=100",
        "images, q rare": f"/api/images/?q={word}&limit=100",
        "events of a session": f"/api/sessions/{name}/events",
        "admin list": "/admin/gen_sessions/session/",
        "admin list, searched": "/admin/gen_sessions/session/?q=angry",
        "admin list, filtered": "/admin/gen_sessions/session/?status__exact=completed&favourite=yes",
        "admin events": "/admin/gen_sessions/event/",
        "gallery grid": "/",
        "gallery grid, deep page": f"/?page={max(1, sessions // 48 - 1)}",
        "gallery grid, filtered": "/?model=v1-5&liked=true&complete=true",
        "gallery grid, searched": "/?q=angry",
        "gallery session": f"/sessions/{name}/",
        "gallery images, q rare": f"/images/?q={word}",
        "gallery compare": f"/compare/?a={name}&b={other}",
    }
    server = Server(results)
    try:
        for label, path in paths.items():
            headers = None if path.startswith("/api/") else {"Cookie": cookie}  # the admin's and the gallery's
            seconds = timings(server.port, token, path, args.requests, headers=headers)
            figures[label] = statistics.median(seconds) * 1000
            print(f"  {label:26} {path:64} {summary(seconds)}", flush=True)
        # The list keeps a total counted at the library's current version: the figures above are
        # its other pages. After any change the first page asked for counts again:
        for label in ("q, many hits", "filtered list"):
            seconds = first_asks(server.port, token, paths[label], name, rounds=max(5, args.requests // 3))
            figures[f"{label}, counted"] = statistics.median(seconds) * 1000
            print(f"  {label + ', counted':26} {'(after a change to the library, each time)':64} {summary(seconds)}",
                  flush=True)
    finally:
        server.stop()

    if args.idle:
        thumbnails = data_dir / "thumbnails"
        fill_thumbnails(results, thumbnails)
        os.environ["SDGEN_THUMBNAILS_DIR"] = str(thumbnails)
        watcher = WatcherProcess(results, "native", env={"SDGEN_LOG_LEVEL": "INFO"})
        try:
            watcher.wait_live()
            # Its thumbnail catch-up looks at every session once (and finds everything made).
            deadline = time.monotonic() + 900
            log = data_dir / "watcher-native.log"
            while b"thumbnail catch-up planned" not in log.read_bytes():
                assert time.monotonic() < deadline, "the watcher's thumbnail catch-up did not finish"
                time.sleep(1)
            time.sleep(5)
            before, started = watcher.cpu_seconds(), time.perf_counter()
            time.sleep(args.idle)
            cpu = (watcher.cpu_seconds() - before) / (time.perf_counter() - started) * 100
            rss, peak = watcher.memory_mb()
        finally:
            watcher.stop()
        figures["watcher idle CPU (%)"] = cpu
        figures["watcher RSS (MB)"] = rss
        print(f"  watcher at rest over {args.idle:.0f} s: {cpu:.2f} % CPU, {rss:.0f} MB resident ({peak:.0f} MB at "
              "its highest)", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default="1000,100000", help="library sizes, comma-separated")
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--idle", type=float, default=120.0, help="seconds of watcher at rest (0: skip)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-statistics", action="store_true",
                        help="measure with planner statistics older than the favourites")
    parser.add_argument("--cold-child", metavar="LIBRARY", help=argparse.SUPPRESS)
    parser.add_argument("--measure-child", type=int, metavar="SESSIONS", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        cold_sync_child(args.cold_child, args.database_url, args.data_dir)
        return
    if args.measure_child:
        print(json.dumps(measure_child(args.measure_child, args.images, args)))
        return
    print(f"database: {args.database_url or 'SQLite'}")
    sizes = [int(size) for size in args.sessions.split(",")]
    results = {size: measure(size, args.images, args) for size in sizes}
    if len(sizes) >= 2:
        small, large = results[sizes[0]], results[sizes[-1]]
        print(f"\n| measure | {sizes[0]:,} sessions | {sizes[-1]:,} sessions | ratio |")
        print("|---|---|---|---|")
        for label in large:
            ratio = large[label] / small[label] if small.get(label) else float("nan")
            print(f"| {label} | {small.get(label, float('nan')):.1f} | {large[label]:.1f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
