from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management import BaseCommand, CommandError, CommandParser

from sessions.management.options import RUNTIME_FAILURE, positive_int

MANAGE = str(Path(__file__).resolve().parents[3] / "manage.py")


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
        stop_requested = False

        def request_stop(*_: object) -> None:
            nonlocal stop_requested
            stop_requested = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, request_stop)
        bind = f"{options['host']}:{options['port']}"
        children = {
            "watcher": subprocess.Popen([sys.executable, MANAGE, "runwatchdog"]),
            "web server": subprocess.Popen([sys.executable, "-m", "gunicorn", "sdgen_site.wsgi", "--bind", bind,
                                            "--workers", str(options["workers"]), "--threads", "4",
                                            "--access-logfile", "-"]),
        }
        self.stdout.write(f"Serving http://{bind}/ and watching for changes. Ctrl+C stops both.")
        ended = None
        while not stop_requested and ended is None:
            ended = next((name for name, child in children.items() if child.poll() is not None), None)
            time.sleep(0.2)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if ended is not None and not stop_requested:
            code = children[ended].returncode
            raise CommandError(f"the {ended} stopped (exit code {code}); stopped the rest too",
                               returncode=code or RUNTIME_FAILURE)
