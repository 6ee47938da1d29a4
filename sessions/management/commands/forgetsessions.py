from __future__ import annotations

from typing import Any

from django.core.management import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sessions import selectors
from sessions.lifecycle import forget_sessions
from sessions.management.options import BAD_ARGUMENTS, add_results_argument, results_dir_from
from sessions.models import SYSTEM_PERFORMER, EventSource


class Command(BaseCommand):
    help = (
        "Remove missing sessions from every list and count. Their event log is kept (event 'forgotten'); "
        "if a folder comes back, its session returns with its metadata. A present folder is refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_results_argument(parser)
        parser.add_argument("--missing", action="store_true", help="forget every missing session")
        parser.add_argument("names", nargs="*", metavar="NAME", help="the sessions to forget")

    def handle(self, *args: Any, **options: Any) -> None:
        results_dir = results_dir_from(options)
        names = list(options["names"])
        if options["missing"]:
            names += selectors.missing_session_names()
        elif not names:
            raise CommandError("name the sessions to forget, or give --missing", returncode=BAD_ARGUMENTS)
        if not names:
            self.stdout.write("No missing sessions: nothing to forget.")
            return
        report = forget_sessions(names=names, results_dir=results_dir, source=EventSource.SYSTEM,
                                 performer=SYSTEM_PERFORMER, now=timezone.now())
        for name in report.forgotten:
            self.stdout.write(f"forgotten: {name}")
        if report.refused:
            refused = "; ".join(f"{name}: {why}" for name, why in report.refused.items())
            raise CommandError(f"not forgotten: {refused}", returncode=BAD_ARGUMENTS)
        self.stdout.write(f"{len(report.forgotten)} sessions forgotten.")
