from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import BaseCommand, CommandParser

from sdgen_site.progress import ProgressReporter
from sessions.management.options import add_results_argument, positive_float, results_dir_from
from sessions.watcher import WATCH_MODES, Watcher, choose_watch_mode, read_proc
from sessions.watcher.thumbnail_side import ThumbnailProvider, thumbnail_provider


class Command(BaseCommand):
    help = (
        "Catch up with the results folder (changed sessions, stale runs), then keep the database in "
        "step with it live until SIGINT/SIGTERM. --once only catches up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_results_argument(parser)
        parser.add_argument("--mode", choices=WATCH_MODES, default=settings.SDGEN_WATCH_MODE,
                            help="native events, polling, or auto (default: SDGEN_WATCH_MODE, now %(default)s)")
        parser.add_argument("--interval", type=positive_float, default=settings.SDGEN_POLL_INTERVAL, metavar="S",
                            help="seconds between polls (default: SDGEN_POLL_INTERVAL, now %(default)s)")
        parser.add_argument("--no-thumbnails", action="store_true", help="do not render thumbnails")
        parser.add_argument("--once", action="store_true", help="catch up and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        results_dir = results_dir_from(options)
        mode = choose_watch_mode(requested=options["mode"], results_dir=results_dir,
                                 proc_version=read_proc("/proc/version"), proc_mounts=read_proc("/proc/mounts"))
        # Thumbnails come from whichever app registered a provider (none: no thumbnails).
        provider = None if options["no_thumbnails"] else thumbnail_provider()
        thumbnails = None
        if provider is not None and not options["once"]:
            thumbnails = provider.live(results_dir=results_dir)
        watcher = Watcher(results_dir=results_dir, mode=mode, poll_interval=options["interval"], thumbnails=thumbnails)
        # From the first second: a long first catch-up stops between two batches too.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: watcher.request_stop())
        progress = ProgressReporter(label="catching up")
        try:
            report = watcher.catch_up(progress=progress)
        finally:
            progress.close()
        if options["once"] or watcher.stop_requested:
            self.stdout.write(report.summary())
            if options["once"] and provider is not None and not watcher.stop_requested:
                self._thumbnails_once(provider, results_dir, watcher)
            if thumbnails is not None:
                thumbnails.close()
            return
        watcher.start()
        watcher.run()

    def _thumbnails_once(self, provider: ThumbnailProvider, results_dir: Path, watcher: Watcher) -> None:
        progress = ProgressReporter(label="thumbnails", unit="image")
        try:
            report = provider.catch_up(results_dir=results_dir, progress=progress,
                                       should_stop=lambda: watcher.stop_requested)
        finally:
            progress.close()
        self.stdout.write(f"thumbnails: {report.summary()}")
