from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import BaseCommand, CommandError, CommandParser

from sessions.management.options import BAD_ARGUMENTS, non_negative_float, positive_int
from sessions.simulator import GeneratorSimulator


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 512x768") from None
    if not (1 <= width <= 8192 and 1 <= height <= 8192):
        raise argparse.ArgumentTypeError(f"{text}: width and height must be between 1 and 8192")
    return width, height


class Command(BaseCommand):
    help = (
        "Write sessions exactly as the generator CLI does (PNGs with A1111 parameters, the manifest "
        "rewritten in place after each image, ongoing → completed; aborted on SIGINT/SIGTERM or "
        "after --abort-after images). For demos, tests and benchmarks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--results", metavar="DIR", default=None,
                            help="results folder to write into, created if needed (default: SDGEN_RESULTS_DIR)")
        parser.add_argument("--sessions", type=positive_int, default=1, metavar="N", help="runs to write, one after another")
        parser.add_argument("--images", type=positive_int, default=8, metavar="M", help="images per run")
        parser.add_argument("--rate", type=non_negative_float, default=2.0, metavar="R",
                            help="images per second (0: as fast as possible; default 2)")
        parser.add_argument("--abort-after", type=positive_int, default=None, metavar="K",
                            help="abort the run in progress once K images have been written in all, then stop")
        parser.add_argument("--image-size", type=_size, default=(512, 768), metavar="WxH",
                            help="pixel size of the images (default 512x768)")

    def handle(self, *args: Any, **options: Any) -> None:
        results_dir = Path(options["results"] or settings.SDGEN_RESULTS_DIR).expanduser().resolve()
        if results_dir.exists() and not results_dir.is_dir():
            raise CommandError(f"results folder {results_dir} is not a folder", returncode=BAD_ARGUMENTS)
        results_dir.mkdir(parents=True, exist_ok=True)
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            width, height = options["image_size"]
            result = GeneratorSimulator(
                results_dir=results_dir,
                sessions=options["sessions"],
                images=options["images"],
                rate=options["rate"],
                abort_after=options["abort_after"],
                width=width,
                height=height,
                should_stop=stop.is_set,
                sleep=stop.wait,
            ).run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        state = "aborted" if result.aborted else "completed"
        self.stdout.write(f"{state}: {result.images_written} images in {len(result.folders)} sessions under {results_dir}")
        for folder in result.folders:
            self.stdout.write(f"  {folder}")
