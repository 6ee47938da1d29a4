from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management import BaseCommand, CommandParser

from sessions.management.options import add_results_argument, positive_float, results_dir_from
from sessions.watcher import WATCH_MODES, Watcher, choose_watch_mode, read_proc
from thumbnails.services import LiveThumbnails, catch_up_thumbnails


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
        thumbnails = None
        if not options["no_thumbnails"] and not options["once"]:
            thumbnails = LiveThumbnails(results_dir=results_dir, thumbnails_dir=settings.SDGEN_THUMBNAILS_DIR,
                                        workers=settings.SDGEN_THUMBNAIL_WORKERS)
        watcher = Watcher(results_dir=results_dir, mode=mode, poll_interval=options["interval"], thumbnails=thumbnails)
        report = watcher.catch_up()
        if options["once"]:
            self.stdout.write(report.summary())
            if not options["no_thumbnails"]:
                thumbnail_report = catch_up_thumbnails(
                    results_dir=results_dir, thumbnails_dir=settings.SDGEN_THUMBNAILS_DIR,
                    workers=settings.SDGEN_THUMBNAIL_WORKERS)
                self.stdout.write(f"thumbnails: {thumbnail_report.summary()}")
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: watcher.request_stop())
        watcher.start()
        watcher.run()
