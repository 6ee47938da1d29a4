from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.core.management import BaseCommand, CommandParser
from django.utils import timezone

from sessions.services.metadata_transfer import export_metadata


class Command(BaseCommand):
    help = ("Write every session's user metadata (favourite, rating, tags, note, flags) as JSON, for "
            "importmetadata on another machine or database.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", metavar="FILE", type=Path, help="write to FILE (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        document = export_metadata(now=timezone.now())
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        output: Path | None = options["output"]
        if output is None:
            self.stdout.write(text, ending="")
            return
        # Written beside and renamed into place: an interrupted export never leaves half a file.
        fd, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent or ".")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, output)
        sys.stderr.write(f"{len(document['sessions'])} sessions' metadata written to {output}\n")
