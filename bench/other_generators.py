#!/usr/bin/env python
"""Syncing a folder of other generators' images (no manifest): images per second.

    python bench/other_generators.py                 # 10,000 PNGs, SQLite
    python bench/other_generators.py --images 2000 --database-url postgres://postgres@127.0.0.1:5432/sdgen_bench

Writes a results folder with one session folder of N noisy 512x768 PNGs (the image data as
Pillow writes it, four different pictures), each carrying the chunks one of five generators
writes (bench/image_parameters.py's: AUTOMATIC1111, ComfyUI, InvokeAI, NovelAI, Fooocus, in
turn), with varying prompts and seeds. Then a cold sync in a fresh process on a fresh database
(timed inside it: interpreter start-up and migrations not counted, file cache warm), best of
--repeat: every image's parameters are read, its row and search text written, the session's
stats derived from them. The folder is kept under bench/out/ between runs.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

from common import OUT, setup_django, timed
from image_parameters import KINDS, _image_data, _png


def make(images: int) -> Path:
    results = OUT / f"others-{images}"
    folder = results / "2025-06-01_120000_other_generators"
    if (results / ".complete").exists():
        return results
    folder.mkdir(parents=True, exist_ok=True)
    bodies = [_image_data(seed) for seed in range(4)]
    writers = [writer for kind, writer in KINDS.items() if kind != "no metadata"]
    rng = random.Random(11)
    for number in range(images):
        texts = writers[number % len(writers)](rng, number)
        (folder / f"{number:06d}.png").write_bytes(_png(texts, bodies[number % len(bodies)]))
    (results / ".complete").write_text("")
    return results


def cold_sync_child(path: str, database_url: str | None) -> None:
    setup_django(database_url=database_url)
    from sessions.services import sync_sessions

    report, seconds = timed(sync_sessions, results_dir=Path(path))
    assert not report.errors and report.unreadable_images == 0, report.summary()
    from sessions.models import Session, SessionImage

    with_prompt = SessionImage.objects.exclude(prompt=None).count()
    source = Session.objects.get().stats.source
    print(json.dumps({"seconds": seconds, "images": report.images_written, "with_prompt": with_prompt,
                      "source": source}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--cold-child", metavar="RESULTS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        cold_sync_child(args.cold_child, args.database_url)
        return
    results = make(args.images)
    command = [sys.executable, __file__, "--cold-child", str(results)]
    if args.database_url:
        command += ["--database-url", args.database_url]
    runs = [json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            for _ in range(args.repeat)]
    best = min(runs, key=lambda run: run["seconds"])
    print(f"database: {args.database_url or 'SQLite'}; {args.images:,} PNGs of other generators in one folder")
    print(f"cold sync, best of {args.repeat}: {best['seconds']:.2f} s, {best['images'] / best['seconds']:,.0f} images/s "
          f"({best['with_prompt']:,} with a prompt read from the image; stats from the {best['source']})")


if __name__ == "__main__":
    main()
