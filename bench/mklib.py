#!/usr/bin/env python
"""Make a results library of finished sessions in the generator's real format, for benchmarks.

    python bench/mklib.py --sessions 2000 --images 50 --out /tmp/lib

Folders, file names, manifests and PNG ``parameters`` chunks are those of
``sessions.simulator`` (the real CLI's format); the PNGs are tiny (8x12) so that a library
of a million images fits in seconds. Runs are dated one minute apart, ending now.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sessions.simulator import KINDS, a1111_parameters, plan_session, png_bytes, set_tree_mtime  # noqa: E402

PNG_SIZE = (8, 12)


def _write(job: tuple[str, int, int, float]) -> int:
    out, number, images, started_ts = job
    started = datetime.fromtimestamp(started_ts)
    plan = plan_session(kind=KINDS[number % len(KINDS)], images=images, started=started)
    folder = Path(out) / plan.folder
    folder.mkdir()
    for image in plan.images:
        (folder / image.filename).write_bytes(
            png_bytes(width=PNG_SIZE[0], height=PNG_SIZE[1], seed=image.seed, parameters=a1111_parameters(plan, image))
        )
    (folder / "manifest.json").write_text(
        json.dumps(plan.manifest(done=images, status="completed"), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    set_tree_mtime(folder, started_ts + 60)
    return images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--images", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty")
    end = datetime.now().replace(microsecond=0)
    jobs = [
        (str(args.out), n, args.images, (end - timedelta(minutes=args.sessions - n)).timestamp())
        for n in range(args.sessions)
    ]
    started = time.perf_counter()
    with multiprocessing.Pool(os.cpu_count()) as pool:
        total = sum(pool.imap_unordered(_write, jobs, chunksize=16))
    print(f"wrote {args.sessions} sessions, {total} images to {args.out} in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
