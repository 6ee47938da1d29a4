from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management import BaseCommand, CommandError, CommandParser

from sdgen_site.processes import ChildProcesses
from sessions.management.options import RUNTIME_FAILURE, positive_int

MANAGE = str(Path(__file__).resolve().parents[3] / "manage.py")
STOP_WITHIN = 5.0  # seconds the children get to stop before they are killed


class Command(BaseCommand):
    help = (
        "Run the web server (gunicorn) and the watcher (runwatchdog) together. Ctrl+C or SIGTERM "
        "stops both; if either stops on its own, the other is stopped too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=positive_int, default=8000)
        parser.add_argument("--workers", type=positive_int, default=2, help="gunicorn worker processes")

    def handle(self, *args: Any, **options: Any) -> None:
        signals = 0

        def request_stop(*_: object) -> None:
            nonlocal signals
            signals += 1

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, request_stop)
        bind = f"{options['host']}:{options['port']}"
        children = ChildProcesses()
        ended = None
        try:
            children.start("watcher", [sys.executable, MANAGE, "runwatchdog"])
            children.start("web server", [sys.executable, "-m", "gunicorn", "sdgen_site.wsgi", "--bind", bind,
                                          "--workers", str(options["workers"]), "--threads", "4",
                                          "--graceful-timeout", "3", "--access-logfile", "-"])
            self.stdout.write(f"Serving http://{bind}/ and watching for changes. Ctrl+C stops both.")
            while not signals and ended is None:
                ended = children.first_ended()
                time.sleep(0.2)
        finally:
            # Whatever happened, nothing is left running; one more Ctrl+C stops at once.
            stopping_at = signals
            children.stop(within=STOP_WITHIN, hurry=lambda: signals > stopping_at)
        if ended is not None and not signals:
            code = children.processes[ended].returncode
            raise CommandError(f"the {ended} stopped (exit code {code}); stopped the rest too",
                               returncode=code or RUNTIME_FAILURE)
