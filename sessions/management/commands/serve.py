from __future__ import annotations

import errno
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import BaseCommand, CommandError, CommandParser

from accounts.services import CREDENTIALS_FILE
from sessions.management.options import BAD_ARGUMENTS, RUNTIME_FAILURE, positive_int
from sessions.scanning import ResultsDirError, check_results_dir

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
        # Say what is wrong in the words of the settings a user changes, before starting anything.
        try:
            check_results_dir(settings.SDGEN_RESULTS_DIR)
        except ResultsDirError as exc:
            raise CommandError(f"{exc}. Point SDGEN_RESULTS_DIR at your generator's results folder, e.g. "
                               "SDGEN_RESULTS_DIR=~/sd/results make run", returncode=BAD_ARGUMENTS) from None
        if not port_is_free(options["host"], options["port"]):
            raise CommandError(f"port {options['port']} on {options['host']} is already in use (another sdgen site, or "
                               f"another program): choose another one, e.g. PORT={options['port'] + 1} make run "
                               "(or serve --port)", returncode=BAD_ARGUMENTS)
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
        credentials = settings.SDGEN_DATA_DIR / CREDENTIALS_FILE
        self.stdout.write(f"Serving http://{bind}/ and watching {settings.SDGEN_RESULTS_DIR}. Ctrl+C stops both.\n"
                          f"  admin: http://{bind}/admin/"
                          + (f" (user and password in {credentials})" if credentials.exists() else ""))
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


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True
