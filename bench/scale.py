#!/usr/bin/env python
"""The library at scale: 1,000 and 100,000 sessions of 10 images (a million images), on SQLite
and on PostgreSQL, measured through a real server.

    python bench/scale.py                                   # SQLite, 1k and 100k
    python bench/scale.py --database-url postgres://postgres@127.0.0.1:5432/sdgen_scale
    python bench/scale.py --sessions 1000 --requests 20     # a quick look

For each library size: a cold sync in a fresh process on a fresh database (search index
included), the no-change re-sync, and the watcher at rest (every thumbnail made) for IDLE
seconds: its CPU and memory. Then every size is served at once (granian as `manage.py serve`
runs it, 2 workers each, on 127.0.0.1; on PostgreSQL a database per size, the URL's name with
`_<size>` appended) and each path is asked of each size in turn, over one kept-alive connection
per size, REQUESTS times after 10 rounds to warm up (the API with a token, the admin's and the
gallery's pages logged in): a slow moment of this shared machine slows every size alike, so the
ratios hold. The list's searched and filtered totals are kept per library version; they are
also asked once after each of several changes to the library (a note written through the API).
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

from api import Server, summary
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


def measure(sessions: int, images: int, args: argparse.Namespace) -> dict:
    """One library size made ready in a child process of its own (its own database): its sync
    figures, the watcher at rest, and what the parent needs to serve it (``served``)."""
    command = [sys.executable, __file__, "--measure-child", str(sessions), "--images", str(images),
               "--idle", str(args.idle)]
    if args.database_url:
        command += ["--database-url", database_of(args.database_url, sessions)]
    if args.no_statistics:
        command.append("--no-statistics")
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    print(output.rsplit("\n", 2)[0], flush=True)
    return json.loads(output.strip().splitlines()[-1])


def database_of(url: str, sessions: int) -> str:
    """Each size its own PostgreSQL database (both are served at once): ``…/name_1000``."""
    return f"{url.rstrip('/')}_{sessions}"


class Side:
    """One library size's server, asked over one kept-alive connection."""

    def __init__(self, sessions: int, served: dict) -> None:
        self.sessions = sessions
        self.served = served
        self.server = Server(Path(served["results"]), env=served["env"])
        self.connection = http.client.HTTPConnection("127.0.0.1", self.server.port)

    def ask(self, method: str, path: str, *, body: dict | None = None) -> float:
        """Seconds from sending the request to having read the whole answer."""
        if path.startswith("/api/"):
            headers = {"Authorization": f"Bearer {self.served['token']}"}
        else:
            headers = {"Cookie": self.served["cookie"]}  # the admin's and the gallery's pages
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        started = time.perf_counter()
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        answer = response.read()
        seconds = time.perf_counter() - started
        assert response.status == 200, (self.sessions, path, response.status, answer[:300])
        return seconds

    def stop(self) -> None:
        self.connection.close()
        self.server.stop()


def side_by_side(sides: list[Side], requests: int) -> dict[int, dict[str, float]]:
    """Every path asked of each size in turn (the first size first on even rounds, the last on
    odd ones), after 10 rounds to warm up: a slow moment of this machine slows both sizes."""
    figures: dict[int, dict[str, float]] = {side.sessions: {} for side in sides}
    labels = list(sides[0].served["paths"])
    for label in labels:
        seconds: dict[int, list[float]] = {side.sessions: [] for side in sides}
        for round_number in range(10 + requests):
            for side in sides if round_number % 2 == 0 else sides[::-1]:
                took = side.ask("GET", side.served["paths"][label])
                if round_number >= 10:
                    seconds[side.sessions].append(took)
        for side in sides:
            figures[side.sessions][label] = statistics.median(seconds[side.sessions]) * 1000
        print(f"  {label:26} " + "  ".join(f"{side.sessions:>7,}: {summary(seconds[side.sessions])}"
                                           for side in sides), flush=True)
    # The list keeps a total counted at the library's current version: the figures above are
    # its other pages. After any change the first page asked for counts again:
    for label in ("q, many hits", "filtered list"):
        seconds = {side.sessions: [] for side in sides}
        for round_number in range(-1, max(5, requests // 3)):  # round -1 warms up
            for side in sides:
                note = {"user_note": f"round {round_number}"}
                side.ask("PATCH", f"/api/sessions/{side.served['note_session']}/metadata", body=note)
                took = side.ask("GET", side.served["paths"][label])
                if round_number >= 0:
                    seconds[side.sessions].append(took)
        for side in sides:
            figures[side.sessions][f"{label}, counted"] = statistics.median(seconds[side.sessions]) * 1000
        print(f"  {label + ', counted':26} " + "  ".join(f"{side.sessions:>7,}: {summary(seconds[side.sessions])}"
                                                         for side in sides) + "  (after a change each time)",
              flush=True)
    return figures


def measure_child(sessions: int, images: int, args: argparse.Namespace) -> dict:
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

    scale_user = User.objects.get_or_create(username="scale", defaults={"is_staff": True, "is_superuser": True})[0]
    token = create_api_token(user=scale_user)
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
    env = {"SDGEN_DATA_DIR": str(data_dir), "SDGEN_LOG_LEVEL": "WARNING"}
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    served = {"results": str(results), "env": env, "token": token, "cookie": cookie, "paths": paths,
              "note_session": other}

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
    return {"figures": figures, "served": served}


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
    prepared = {size: measure(size, args.images, args) for size in sizes}
    # Django's settings for serve's web server command (its threads per process).
    os.environ.update({"SDGEN_DATA_DIR": tempfile.mkdtemp(prefix="sdgen-scale-parent-"),
                       "DJANGO_SETTINGS_MODULE": "sdgen_site.settings", "SDGEN_LOG_LEVEL": "WARNING"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    sides: list[Side] = []
    try:
        for size in sizes:
            sides.append(Side(size, prepared[size]["served"]))
        print(f"\nrequests, each size in turn ({args.requests} a path after 10 to warm up), median and p95:")
        asked = side_by_side(sides, args.requests)
    finally:
        for side in sides:
            side.stop()
    results = {size: {**prepared[size]["figures"], **asked[size]} for size in sizes}
    if len(sizes) >= 2:
        small, large = results[sizes[0]], results[sizes[-1]]
        print(f"\n| measure | {sizes[0]:,} sessions | {sizes[-1]:,} sessions | ratio |")
        print("|---|---|---|---|")
        for label in large:
            ratio = large[label] / small[label] if small.get(label) else float("nan")
            print(f"| {label} | {small.get(label, float('nan')):.1f} | {large[label]:.1f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
