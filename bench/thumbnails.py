#!/usr/bin/env python
"""Thumbnails: catch-up throughput, the watcher's background catch-up, a flood of new PNGs,
live latency, idle catch-up.

    python bench/thumbnails.py                  # every part (about a quarter of an hour)
    python bench/thumbnails.py --only throughput

throughput  the same realistic noisy 512x768 and 832x1216 PNGs, side by side in one run: a
            plain single-process Pillow loop with the same settings (WebP, 240 px high,
            quality 85, method 6), then `catchupthumbnails`' code with SDGEN_THUMBNAIL_WORKERS
            processes (pool start-up included).
live        `runwatchdog` (native mode) as a child process; 100 noisy 512x768 PNGs written the
            way the generator writes them (one in four copied in slowly, in 8 pieces over ~0.25 s), each
            followed by the manifest rewrite; time from a PNG's last byte to its thumbnail.
background  the same library of tiny PNGs (bench/mklib.py, 2000 sessions x 30 by default), its
            thumbnails made twice from nothing: by `catchupthumbnails` (process start to exit), then
            by `runwatchdog`'s background catch-up (process start to every session's thumbnails
            recorded); both as child processes with SDGEN_THUMBNAIL_WORKERS workers.
flood       `runwatchdog` (native mode) watching an empty results folder while 50,000 tiny PNGs are
            written into one new session folder as fast as possible; time until every PNG has its
            thumbnail, and the watcher's peak memory.
idle        catch-up with nothing to do on 10,000 sessions (after a first catch-up recorded them).
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
from datetime import datetime, timedelta
from pathlib import Path

from common import ROOT, fill_thumbnails, library, setup_django, timed


def noisy_png(path, size: tuple[int, int], seed: int) -> None:
    """A picture with structure and grain, about the size SD's PNGs have."""
    from PIL import Image

    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize(size).rotate(rng.randrange(360), expand=False)
    colour = Image.merge("RGB", [base.point(_scaled(rng.random())) for _ in range(3)])
    grain = Image.merge("RGB", [Image.effect_noise(size, 24) for _ in range(3)])
    Image.blend(colour, grain, 0.35).save(path, format="PNG")


def _scaled(factor: float):
    return lambda value: int(value * factor)


def make_sessions(results: Path, per_size: int) -> list[str]:
    from sessions.simulator import plan_session, write_manifest

    names = []
    started = datetime.now() - timedelta(hours=1)
    for number, size in enumerate(((512, 768), (832, 1216))):
        plan = plan_session(kind="combinatorial", images=per_size, started=started + timedelta(minutes=number),
                            width=size[0], height=size[1])
        folder = results / plan.folder
        folder.mkdir(parents=True)
        for image in plan.images:
            noisy_png(folder / image.filename, size, image.seed)
        write_manifest(folder / "manifest.json", plan.manifest(done=per_size, status="completed"))
        names.append(plan.folder)
    return names


def plain_pillow_loop(sources: list[Path], out: Path) -> float:
    """What a straightforward script does: open, convert, resize, save, one after another."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for source in sources:
        with Image.open(source) as image:
            picture = image.convert("RGB")
            width = round(picture.width * 240 / picture.height)
            target = out / source.parent.name / (source.stem + ".webp")
            target.parent.mkdir(exist_ok=True)
            picture.resize((width, 240), Image.Resampling.LANCZOS).save(target, format="WEBP", quality=85, method=6)
    return time.perf_counter() - started


def throughput(per_size: int) -> None:
    from django.conf import settings

    from sessions.services import sync_sessions
    from thumbnails.rendering import Job, render
    from thumbnails.services import catch_up_thumbnails, thumbnail_settings

    work = Path(tempfile.mkdtemp(prefix="sdgen-bench-thumbs-"))
    results = work / "results"
    make_sessions(results, per_size)
    sync_sessions(results_dir=results)
    sources = sorted(results.glob("*/*.png"))
    megabytes = sum(path.stat().st_size for path in sources) / 1e6
    baseline = plain_pillow_loop(sources, work / "plain")
    started = time.perf_counter()
    for source in sources:  # our renderer alone, one process: how much is the code, how much the pool
        outcome = render(Job(str(source), str(work / "single" / source.parent.name / (source.stem + ".webp")),
                             thumbnail_settings()))
        assert outcome.status.value == "rendered", outcome
    single = time.perf_counter() - started
    report, pooled = timed(catch_up_thumbnails, results_dir=results, thumbnails_dir=work / "thumbnails",
                           workers=settings.SDGEN_THUMBNAIL_WORKERS)
    assert report.rendered == len(sources), report.summary()
    count = len(sources)
    print(f"throughput, {count} noisy PNGs ({per_size} of 512x768 and {per_size} of 832x1216, {megabytes:.0f} MB):")
    print(f"  plain Pillow loop, one process:         {count / baseline:6.1f} thumbnails/s")
    print(f"  our renderer, one process:              {count / single:6.1f} thumbnails/s")
    print(f"  catch-up, {settings.SDGEN_THUMBNAIL_WORKERS} worker processes:          {count / pooled:6.1f} thumbnails/s"
          f"  = {baseline / pooled:.2f}x the plain loop (goal >= 1.8x)", flush=True)
    shutil.rmtree(work)


def live(count: int) -> None:
    import io

    from sessions.simulator import plan_session, write_manifest

    data_dir = Path(os.environ["SDGEN_DATA_DIR"])
    results = data_dir / "live-results"
    thumbnails = data_dir / "thumbnails"
    results.mkdir()
    log = open(data_dir / "watcher-thumbnails.log", "ab")
    watcher = subprocess.Popen([sys.executable, "manage.py", "runwatchdog", "--results", str(results),
                                "--mode", "native"], cwd=ROOT, env={**os.environ, "SDGEN_LOG_LEVEL": "WARNING"},
                               stdout=log, stderr=subprocess.STDOUT)
    time.sleep(3)  # start-up: catch-up, pool start
    plan = plan_session(kind="combinatorial", images=count, started=datetime.now(), width=512, height=768)
    folder = results / plan.folder
    folder.mkdir()
    write_manifest(folder / "manifest.json", plan.manifest(done=0, status="ongoing"))
    rng = random.Random(11)
    latencies, missing = [], []
    for done, image in enumerate(plan.images, start=1):
        time.sleep(rng.uniform(0.1, 0.5))
        buffer = io.BytesIO()
        noisy_png(buffer, (512, 768), image.seed)
        data = buffer.getvalue()
        slow = done % 4 == 0
        with open(folder / image.filename, "wb") as handle:
            pieces = 8 if slow else 1
            step = -(-len(data) // pieces)
            for start in range(0, len(data), step):
                handle.write(data[start:start + step])
                handle.flush()
                if slow:
                    time.sleep(0.03)
        last_byte = time.perf_counter()
        write_manifest(folder / "manifest.json", plan.manifest(done=done, status="ongoing"))
        target = thumbnails / plan.folder / (Path(image.filename).stem + ".webp")
        deadline = last_byte + 10
        while not target.exists() and time.perf_counter() < deadline:
            time.sleep(0.002)
        if target.exists():
            latencies.append(time.perf_counter() - last_byte)
        else:
            missing.append(image.filename)
    write_manifest(folder / "manifest.json", plan.manifest(done=count, status="completed"))
    watcher.send_signal(signal.SIGTERM)
    watcher.wait(timeout=10)
    log.close()
    print(f"live: {count} PNGs (512x768, one in four written slowly), {len(missing)} without a thumbnail; "
          f"last byte to thumbnail: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
          "(goal: median < 300 ms, none missing)", flush=True)


def _watcher(results: Path, thumbnails: Path, log_name: str, *extra: str) -> subprocess.Popen:
    log = open(Path(os.environ["SDGEN_DATA_DIR"]) / log_name, "ab")
    return subprocess.Popen([sys.executable, "manage.py", *extra, "--results", str(results)], cwd=ROOT,
                            env={**os.environ, "SDGEN_LOG_LEVEL": "WARNING", "SDGEN_THUMBNAILS_DIR": str(thumbnails)},
                            stdout=log, stderr=subprocess.STDOUT)


def _webp_count(folder: Path) -> int:
    try:
        with os.scandir(folder) as entries:
            return sum(entry.name.endswith(".webp") for entry in entries)
    except FileNotFoundError:
        return 0


def _peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def background(sessions: int, images: int) -> None:
    from django.core.management import call_command
    from django.db import close_old_connections
    from django.db.models import Sum

    from sessions.services import sync_sessions
    from thumbnails.models import ThumbnailCount

    results = library(sessions, images)
    total = sessions * images
    call_command("flush", interactive=False, verbosity=0)
    sync_sessions(results_dir=results)
    data_dir = Path(os.environ["SDGEN_DATA_DIR"])
    seconds = {}
    for command in ("catchupthumbnails", "runwatchdog"):
        ThumbnailCount.objects.all().delete()  # nothing known: every session is looked at
        thumbnails = data_dir / f"thumbnails-{command}"
        started = time.perf_counter()
        process = _watcher(results, thumbnails, f"{command}.log", command,
                           *(["--mode", "native"] if command == "runwatchdog" else []))
        if command == "catchupthumbnails":
            assert process.wait() == 0, f"{command} failed: see {data_dir / (command + '.log')}"
        else:
            deadline = started + 3600
            while True:
                close_old_connections()
                if (ThumbnailCount.objects.aggregate(done=Sum("thumbnail_count"))["done"] or 0) >= total:
                    break
                assert time.perf_counter() < deadline and process.poll() is None, "the watcher did not finish"
                time.sleep(0.1)
        seconds[command] = time.perf_counter() - started
        if command == "runwatchdog":
            _stop(process)
        made = sum(_webp_count(folder) for folder in thumbnails.iterdir())
        assert made == total, f"{command}: {made} thumbnails of {total}"
        shutil.rmtree(thumbnails)
    ratio = seconds["runwatchdog"] / seconds["catchupthumbnails"]
    print(f"background catch-up, {sessions} sessions x {images} tiny PNGs ({total:,} thumbnails, nothing made yet, "
          f"{os.environ.get('SDGEN_THUMBNAIL_WORKERS') or os.cpu_count()} workers):\n"
          f"  catchupthumbnails:              {seconds['catchupthumbnails']:6.1f} s = "
          f"{total / seconds['catchupthumbnails']:5.0f} thumbnails/s\n"
          f"  runwatchdog, in the background: {seconds['runwatchdog']:6.1f} s = "
          f"{total / seconds['runwatchdog']:5.0f} thumbnails/s, {ratio:.2f}x the time (goal <= 1.5x)", flush=True)


def flood(count: int) -> None:
    from sessions.simulator import plan_session, png_bytes, write_manifest

    data_dir = Path(os.environ["SDGEN_DATA_DIR"])
    results = data_dir / "flood-results"
    thumbnails = data_dir / "thumbnails-flood"
    results.mkdir()
    watcher = _watcher(results, thumbnails, "flood.log", "runwatchdog", "--mode", "native")
    _wait_heartbeat(watcher.pid)
    plan = plan_session(kind="random", images=count, started=datetime.now(), width=8, height=12)
    folder = results / plan.folder
    folder.mkdir()
    write_manifest(folder / "manifest.json", plan.manifest(done=0, status="ongoing"))  # a run begins
    data = png_bytes(width=8, height=12, seed=1, parameters="flood")
    started = time.perf_counter()
    for image in plan.images:
        (folder / image.filename).write_bytes(data)
    written = time.perf_counter() - started
    deadline = started + 1800
    made = 0
    while made < count and time.perf_counter() < deadline and watcher.poll() is None:
        time.sleep(1.0)
        made = _webp_count(thumbnails / folder.name)
    done = time.perf_counter() - started
    peak = _peak_memory_mb(watcher.pid)
    _stop(watcher)
    print(f"flood: {count:,} PNGs written into one watched run's folder in {written:.1f} s; {made:,} thumbnails "
          f"after {done:.0f} s (goal: all {count:,}); watcher peak memory {peak:.0f} MB", flush=True)
    shutil.rmtree(results)
    shutil.rmtree(thumbnails, ignore_errors=True)


def _wait_heartbeat(pid: int) -> None:
    from django.db import close_old_connections

    from sessions.models import WatcherHeartbeat

    deadline = time.perf_counter() + 120
    while not WatcherHeartbeat.objects.filter(pid=pid, stopped_at=None).exists():
        assert time.perf_counter() < deadline, "the watcher did not come up"
        time.sleep(0.05)
        close_old_connections()


def idle_catch_up() -> None:
    from django.core.management import call_command

    from sessions.services import sync_sessions
    from thumbnails.services import catch_up_thumbnails

    work = Path(tempfile.mkdtemp(prefix="sdgen-bench-idle-"))
    results = library(10000, 10)
    thumbnails = work / "thumbnails"
    fill_thumbnails(results, thumbnails)
    call_command("flush", interactive=False, verbosity=0)
    sync_sessions(results_dir=results)
    first, first_seconds = timed(catch_up_thumbnails, results_dir=results, thumbnails_dir=thumbnails, workers=2)
    times = []
    for _ in range(5):
        report, seconds = timed(catch_up_thumbnails, results_dir=results, thumbnails_dir=thumbnails, workers=2)
        assert report.sessions == 0 and report.rendered == 0, report.summary()
        times.append(seconds)
    print(f"catch-up with nothing to do, 10,000 sessions × 10 PNGs: median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms over {len(times)} runs (the first catch-up, which looked at every "
          f"session on disk and recorded it, took {first_seconds:.1f}s; goal < 1 s)", flush=True)
    shutil.rmtree(work)


PARTS = ["throughput", "background", "flood", "live", "idle"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=PARTS, action="append")
    parser.add_argument("--per-size", type=int, default=60, help="PNGs of each size for the throughput part")
    parser.add_argument("--live-images", type=int, default=100)
    parser.add_argument("--library", default="2000x30", metavar="SESSIONSxIMAGES",
                        help="the library of the background part (default 2000x30)")
    parser.add_argument("--flood", type=int, default=50_000, metavar="N", help="PNGs of the flood part")
    args = parser.parse_args()
    parts = args.only or PARTS
    setup_django()
    if "throughput" in parts:
        throughput(args.per_size)
    if "background" in parts:
        sessions, images = (int(part) for part in args.library.split("x"))
        background(sessions, images)
    if "flood" in parts:
        flood(args.flood)
    if "live" in parts:
        live(args.live_images)
    if "idle" in parts:
        idle_catch_up()


if __name__ == "__main__":
    main()
