#!/usr/bin/env python
"""The live watcher: latency, start-up, idle CPU and memory, measured on real processes.

    python bench/watch.py                 # everything (about ten minutes, most of it idle)
    python bench/watch.py --only latency  # one part: latency, startup, idle, memory

`manage.py runwatchdog` runs as a child process on a SQLite database in a temporary data
dir; this script writes images the way the generator does (PNG, then the manifest
rewritten in place) and reads the database to see when they show.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import ROOT, fill_thumbnails, library, setup_django

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class WatcherProcess:
    def __init__(self, results: Path, mode: str, *, env: dict[str, str] | None = None) -> None:
        self.log = open(Path(os.environ["SDGEN_DATA_DIR"]) / f"watcher-{mode}.log", "ab")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runwatchdog", "--results", str(results), "--mode", mode],
            cwd=ROOT, env={**os.environ, "SDGEN_LOG_LEVEL": "WARNING", **(env or {})},
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_live(self, timeout: float = 600) -> float:
        """Seconds from the process start to its first heartbeat."""
        from django.db import close_old_connections

        from sessions.models import WatcherHeartbeat

        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            close_old_connections()
            if WatcherHeartbeat.objects.filter(pid=self.process.pid, stopped_at=None).exists():
                return time.perf_counter() - self.started
            if self.process.poll() is not None:
                raise RuntimeError(f"the watcher exited with {self.process.returncode}")
            time.sleep(0.005)
        raise RuntimeError("the watcher did not come up")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def memory_mb(self) -> tuple[float, float]:
        """Resident memory now and at its highest (VmRSS, VmHWM)."""
        values = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) / 1024
        return values["VmRSS"], values["VmHWM"]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        self.log.close()


def images_actual(name: str) -> int:
    from django.db import close_old_connections

    from sessions.models import Session

    close_old_connections()
    return Session.objects.filter(name=name).values_list("images_actual", flat=True).first() or 0


def measure_latency(mode: str, *, images: int, every: float, results: Path) -> list[float]:
    """Write a run image by image; for each, the time until the database shows it."""
    from sessions.simulator import a1111_parameters, plan_session, png_bytes, write_manifest

    watcher = WatcherProcess(results, mode)
    watcher.wait_live()
    plan = plan_session(kind="combinatorial", images=images, started=datetime.now(), width=512, height=768)
    plan.folder = f"{plan.folder}-{mode}"
    folder = results / plan.folder
    folder.mkdir()
    write_manifest(folder / "manifest.json", plan.manifest(done=0, status="ongoing"))
    latencies = []
    # Irregular gaps, so that the writes do not fall into step with the polling ticks.
    rng = random.Random(7)
    for done, image in enumerate(plan.images, start=1):
        time.sleep(rng.uniform(0.5 * every, 1.5 * every))
        data = png_bytes(width=plan.width, height=plan.height, seed=image.seed,
                         parameters=a1111_parameters(plan, image))
        (folder / image.filename).write_bytes(data)
        write_manifest(folder / "manifest.json", plan.manifest(done=done, status="ongoing"))
        written = time.perf_counter()
        while images_actual(plan.folder) < done:
            time.sleep(0.002)
        latencies.append(time.perf_counter() - written)
    write_manifest(folder / "manifest.json", plan.manifest(done=images, status="completed"))
    watcher.stop()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def make_ongoing(results: Path, count: int) -> None:
    """Turn the newest ``count`` sessions back into runs in progress (a minute old)."""
    import json

    for folder in sorted(p for p in results.iterdir() if p.is_dir())[-count:]:
        manifest = folder / "manifest.json"
        data = json.loads(manifest.read_text())
        data["status"] = "ongoing"
        manifest.write_text(json.dumps(data, indent=2))


def copy_library(source: Path, target: Path) -> Path:
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["latency", "startup", "idle", "memory"], action="append")
    parser.add_argument("--idle-seconds", type=float, default=120.0)
    args = parser.parse_args()
    parts = args.only or ["latency", "startup", "idle", "memory"]
    data_dir = setup_django()
    os.environ["SDGEN_STALE_AFTER"] = "600"  # the runs made ongoing below must stay ongoing
    from django.core.management import call_command

    from sessions.services import sync_sessions
    from thumbnails.services import catch_up_thumbnails

    print(f"data dir: {data_dir}")
    if "latency" in parts:
        results = Path(tempfile.mkdtemp(prefix="sdgen-bench-results-"))
        for mode, count, every, limit in (("native", 60, 0.5, "median < 300 ms, p95 < 1 s"),
                                          ("polling", 30, 1.5, "< SDGEN_POLL_INTERVAL + 1 s = 3 s")):
            latencies = measure_latency(mode, images=count, every=every, results=results)
            print(f"latency {mode}: {count} images (512x768 PNG + manifest rewrite, one every {every / 2:g}-{every * 1.5:g}s): "
                  f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {percentile(latencies, 0.95) * 1000:.0f} ms,"
                  f" max {max(latencies) * 1000:.0f} ms   (goal: {limit})", flush=True)
        shutil.rmtree(results)

    if "startup" in parts or "idle" in parts:
        results = copy_library(library(10000, 10), Path(tempfile.mkdtemp(prefix="sdgen-bench-")) / "results")
        make_ongoing(results, 2)
        call_command("flush", interactive=False, verbosity=0)
        sync_sessions(results_dir=results)
        # Idle means nothing to do: every thumbnail made, and counted by a first catch-up.
        fill_thumbnails(results, data_dir / "thumbnails")
        catch_up_thumbnails(results_dir=results, thumbnails_dir=data_dir / "thumbnails", workers=2)
        for mode in ("native", "polling"):
            watcher = WatcherProcess(results, mode)
            live = watcher.wait_live()
            if "startup" in parts:
                print(f"start-up {mode}, 10,000 sessions, nothing to do: live {live:.2f}s after the process "
                      "started (interpreter and Django start included; goal < 2 s)", flush=True)
            if "idle" in parts:
                time.sleep(2)
                before, began = watcher.cpu_seconds(), time.perf_counter()
                time.sleep(args.idle_seconds)
                used = watcher.cpu_seconds() - before
                share = 100 * used / (time.perf_counter() - began)
                print(f"idle CPU {mode}, 10,000 sessions with 2 ongoing, {args.idle_seconds:.0f}s: {used:.2f}s of CPU "
                      f"= {share:.2f}% (goal: {'< 1 %' if mode == 'native' else '< 3 %'})", flush=True)
            watcher.stop()
        shutil.rmtree(results.parent)

    if "memory" in parts:
        results = library(10000, 100)
        call_command("flush", interactive=False, verbosity=0)
        watcher = WatcherProcess(results, "native")
        live = watcher.wait_live(timeout=1800)
        rss, peak = watcher.memory_mb()
        time.sleep(65)  # through a sweep of all 10,000 folders
        rss_after, peak_after = watcher.memory_mb()
        print(f"memory, 10,000 sessions × 100 images: the watcher's own first catch-up of 1,000,000 images took "
              f"{live:.0f}s; resident {rss:.0f} MB when live, {rss_after:.0f} MB after a sweep; highest "
              f"{max(peak, peak_after):.0f} MB (goal < 200 MB)", flush=True)
        watcher.stop()


if __name__ == "__main__":
    main()
