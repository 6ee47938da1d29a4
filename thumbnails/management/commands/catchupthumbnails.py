from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management import BaseCommand, CommandError, CommandParser

from sdgen_site.progress import ProgressReporter
from sessions.management.options import BAD_ARGUMENTS, add_results_argument, positive_int, results_dir_from
from sessions.models import Session
from thumbnails.services import catch_up_thumbnails


class Command(BaseCommand):
    help = (
        "Render missing and outdated thumbnails, newest sessions first. Sessions known to be done are "
        "skipped; --full checks every session on disk."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_results_argument(parser)
        parser.add_argument("--full", action="store_true", help="check every session on disk")
        parser.add_argument("--workers", type=positive_int, default=settings.SDGEN_THUMBNAIL_WORKERS,
                            help="rendering processes (default: SDGEN_THUMBNAIL_WORKERS, now %(default)s)")
        parser.add_argument("names", nargs="*", metavar="NAME", help="only these sessions (all checked on disk)")

    def handle(self, *args: Any, **options: Any) -> None:
        results_dir = results_dir_from(options)
        names = options["names"] or None
        if names:
            unknown = sorted(set(names) - set(Session.objects.filter(name__in=names).values_list("name", flat=True)))
            if unknown:
                raise CommandError(f"no known session named: {', '.join(unknown)} (run syncsessions first?)",
                                   returncode=BAD_ARGUMENTS)
        stop: list[int] = []
        # Ctrl+C or SIGTERM: stop between two jobs and close the pool (its workers with it).
        previous = {sig: signal.signal(sig, lambda signum, _: stop.append(signum))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        progress = ProgressReporter(label="thumbnails", unit="image")
        try:
            report = catch_up_thumbnails(results_dir=results_dir, thumbnails_dir=settings.SDGEN_THUMBNAILS_DIR,
                                         workers=options["workers"], full=options["full"], names=names,
                                         progress=progress, should_stop=lambda: bool(stop))
        finally:
            progress.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(report.summary())
        if stop:
            self.stdout.write("stopped before the end: run it again to finish")
        for source, error in sorted(report.errors.items())[:20]:
            self.stdout.write(self.style.WARNING(f"  {source}: {error}"))
