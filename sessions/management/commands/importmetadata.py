from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management import BaseCommand, CommandError, CommandParser

from sdgen_site.cli import BAD_ARGUMENTS
from sessions.services.metadata_transfer import MetadataFileError, import_metadata


class Command(BaseCommand):
    help = ("Apply a file written by exportmetadata: each entry matched to a session by UUID, then folder "
            "name, then fingerprint. Only what differs changes; nothing is deleted; running it again changes "
            "nothing more.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="the export (- for standard input)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["file"] == "-":
                document = json.load(sys.stdin)
            else:
                with open(options["file"], encoding="utf-8") as handle:
                    document = json.load(handle)
        except OSError as exc:
            raise CommandError(f"{options['file']}: {exc.strerror or exc}", returncode=BAD_ARGUMENTS) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(f"{options['file']} is not JSON: {exc}", returncode=BAD_ARGUMENTS) from None
        try:
            report = import_metadata(document)
        except MetadataFileError as exc:
            raise CommandError(f"{options['file']}: {exc}", returncode=BAD_ARGUMENTS) from None
        matched = ", ".join(f"{count} by {key}" for key, count in report.matched.items())
        self.stdout.write(f"matched {sum(report.matched.values())} sessions ({matched}): {len(report.updated)} "
                          f"updated, {len(report.unchanged)} already so, {len(report.kept)} kept (changed here "
                          f"since the export)")
        for name in report.kept:
            self.stdout.write(f"  kept: {name}")
        for name, why in report.unmatched.items():
            self.stdout.write(self.style.WARNING(f"  not matched: {name}: {why}"))
