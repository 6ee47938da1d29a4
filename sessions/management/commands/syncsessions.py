from __future__ import annotations

from typing import Any

from django.core.management import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from sdgen_site.progress import ProgressReporter
from sessions.lifecycle import mark_stale_sessions
from sessions.management.options import BAD_ARGUMENTS, RUNTIME_FAILURE, add_results_argument, results_dir_from
from sessions.models import Session
from sessions.scanning import ResultsDirError, stamp_session_folder
from sessions.services import sync_sessions


class Command(BaseCommand):
    help = (
        "Sync session folders into the database: by default only sessions whose folder or manifest "
        "changed since the last sync. Then closes sessions that went stale."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_results_argument(parser)
        parser.add_argument("--full", action="store_true", help="re-read every session, changed or not")
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="drop and recompute every cached stat and image row (user metadata and events are kept)",
        )
        parser.add_argument("--accept-missing", action="store_true",
                            help="mark vanished sessions missing even when more than half of the library vanished "
                                 "(otherwise the results folder is taken to be wrong and nothing is marked)")
        parser.add_argument("names", nargs="*", metavar="NAME", help="sync only these session folders")

    def handle(self, *args: Any, **options: Any) -> None:
        results_dir = results_dir_from(options)
        names = options["names"] or None
        if names:
            known = set(Session.objects.filter(name__in=names).values_list("name", flat=True))
            unknown = [n for n in names if n not in known and stamp_session_folder(results_dir, n) is None]
            if unknown:
                raise CommandError(
                    f"no session folder or known session named: {', '.join(unknown)}", returncode=BAD_ARGUMENTS
                )
        progress = ProgressReporter(label="syncing sessions")
        try:
            report = sync_sessions(
                results_dir=results_dir, names=names, full=options["full"], rebuild=options["rebuild"],
                accept_missing=options["accept_missing"], progress=progress,
            )
            stale = mark_stale_sessions()
        except ResultsDirError as exc:
            raise CommandError(str(exc), returncode=BAD_ARGUMENTS) from None
        except DatabaseError as exc:
            raise CommandError(f"database error: {exc}", returncode=RUNTIME_FAILURE) from None
        finally:
            progress.close()
        self.stdout.write(report.summary())
        if stale:
            self.stdout.write(f"{stale} stale sessions marked aborted")
        for name, error in sorted(report.errors.items())[:20]:
            self.stdout.write(self.style.WARNING(f"  {name}: {error}"))
        if len(report.errors) > 20:
            self.stdout.write(self.style.WARNING(f"  … and {len(report.errors) - 20} more (see sync_error)"))
        if report.held_missing:
            raise CommandError(
                f"{report.held_missing} sessions are not in {results_dir}: more than half of the library. Nothing was "
                "marked missing and no new folder was added, in case this is the wrong folder (check "
                "SDGEN_RESULTS_DIR or --results). If they really are gone, run again with --accept-missing.",
                returncode=RUNTIME_FAILURE)
