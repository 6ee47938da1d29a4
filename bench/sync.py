#!/usr/bin/env python
"""Sync speed and memory: cold first sync, and a re-sync with nothing changed.

    python bench/sync.py                       # SQLite in a temporary data dir
    python bench/sync.py --database-url postgres://postgres@127.0.0.1:5432/sdgen_bench

Libraries are made once by mklib.py under bench/out/. Each cold sync runs in a fresh
process on a fresh database; times are measured inside it (interpreter start-up, Django
set-up and migrations not counted), file system cache warm. Peak RSS growth is the
process's resident memory at its highest during the sync, minus before it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from common import PeakMemory, library, setup_django, timed


def cold_sync_child(path: str, database_url: str | None) -> None:
    setup_django(database_url=database_url)
    from pathlib import Path

    from sessions.services import sync_sessions

    with PeakMemory() as memory:
        report, seconds = timed(sync_sessions, results_dir=Path(path))
    assert not report.errors, report.errors
    print(json.dumps({"seconds": seconds, "sessions": report.created, "images": report.images_written,
                      "peak_mb": memory.growth_mb}))


def cold_sync(path, database_url: str | None) -> dict:
    command = [sys.executable, __file__, "--cold-child", str(path)]
    if database_url:
        command += ["--database-url", database_url]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--nochange-sessions", type=int, default=10000)
    parser.add_argument("--nochange-images", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--cold-child", metavar="LIBRARY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        cold_sync_child(args.cold_child, args.database_url)
        return

    print(f"database: {args.database_url or 'SQLite (temporary file)'}")
    print(f"\nCold first sync: best of {args.repeat} fresh processes (peak RSS growth: the highest)")
    print("| library | seconds | images/s | sessions/s | peak RSS growth |")
    print("|---|---|---|---|---|")
    for sessions in (args.sessions // 2, args.sessions, args.sessions * 2):
        path = library(sessions, args.images)
        runs = [cold_sync(path, args.database_url) for _ in range(args.repeat)]
        best = min(runs, key=lambda run: run["seconds"])
        assert best["sessions"] == sessions and best["images"] == sessions * args.images, best
        print(f"| {sessions} × {args.images} | {best['seconds']:.2f} | {best['images'] / best['seconds']:,.0f} | "
              f"{sessions / best['seconds']:,.0f} | {max(run['peak_mb'] for run in runs):.0f} MB |", flush=True)

    setup_django(database_url=args.database_url)
    from sessions.services import sync_sessions

    big = library(args.nochange_sessions, args.nochange_images)
    first, first_seconds = timed(sync_sessions, results_dir=big)
    assert first.created == args.nochange_sessions, first.summary()
    times = []
    for _ in range(5):
        report, seconds = timed(sync_sessions, results_dir=big)
        assert report.unchanged == args.nochange_sessions and report.sessions_read == 0, report.summary()
        times.append(seconds)
    print(f"\nNo-change re-sync of {args.nochange_sessions} sessions × {args.nochange_images} images "
          f"(after a first sync of {first_seconds:.1f}s): median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms over {len(times)} runs")


if __name__ == "__main__":
    main()
