#!/usr/bin/env python
"""Thumbnails: catch-up throughput against a plain Pillow loop, live latency, idle catch-up.

    python bench/thumbnails.py                  # all three parts
    python bench/thumbnails.py --only throughput

throughput  the same realistic noisy 512x768 and 832x1216 PNGs, side by side in one run: a
            plain single-process Pillow loop with the same settings (WebP, 240 px high,
            quality 85, method 6), then `catchupthumbnails`' code with SDGEN_THUMBNAIL_WORKERS
            processes (pool start-up included).
live        `runwatchdog` (native mode) as a child process; 100 noisy 512x768 PNGs written the
            way the generator writes them (one in four copied in slowly, in 8 pieces over ~0.25 s), each
            followed by the manifest rewrite; time from a PNG's last byte to its thumbnail.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["throughput", "live", "idle"], action="append")
    parser.add_argument("--per-size", type=int, default=60, help="PNGs of each size for the throughput part")
    parser.add_argument("--live-images", type=int, default=100)
    args = parser.parse_args()
    parts = args.only or ["throughput", "live", "idle"]
    setup_django()
    if "throughput" in parts:
        throughput(args.per_size)
    if "live" in parts:
        live(args.live_images)
    if "idle" in parts:
        idle_catch_up()


if __name__ == "__main__":
    main()
