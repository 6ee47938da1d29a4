from __future__ import annotations

import errno
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import BaseCommand, CommandError, CommandParser

from accounts.services import CREDENTIALS_FILE
from sdgen_site.access_log import SERVER_LOGGING
from sdgen_site.processes import ChildProcesses
from sessions.management.options import BAD_ARGUMENTS, RUNTIME_FAILURE, positive_int
from sessions.scanning import ResultsDirError, check_results_dir

MANAGE = str(Path(__file__).resolve().parents[3] / "manage.py")
STOP_WITHIN = 5.0  # seconds the children get to stop before they are killed
# Each open live stream (/api/stream) holds a server thread for its lifetime: threads for every
# stream a process may hold, and these on top for everything else.
REQUEST_THREADS = 8
ACCESS_LOG_FORMAT = '[%(time)s] %(addr)s "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).1f ms'


class Command(BaseCommand):
    help = (
        "Run the web server (granian) and the watcher (runwatchdog) together. Ctrl+C or SIGTERM "
        "stops both; if either stops on its own, the other is stopped too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=positive_int, default=8000)
        parser.add_argument("--workers", type=positive_int, default=2, help="web server worker processes")

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
            children.start("web server", web_server_command(bind=bind, workers=options["workers"]))
            credentials = settings.SDGEN_DATA_DIR / CREDENTIALS_FILE
            self.stdout.write(f"Serving http://{bind}/ (the gallery) and watching {settings.SDGEN_RESULTS_DIR}. "
                              f"Ctrl+C stops both.\n  admin: http://{bind}/admin/"
                              + (f" (user and password in {credentials})" if credentials.exists() else ""))
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


def web_server_command(*, bind: str, workers: int) -> list[str]:
    """granian as ``serve`` runs it (the benchmarks run the same): a WSGI server whose HTTP side is
    native code, so that a small answer costs little more than Django's own work."""
    host, _, port = bind.rpartition(":")
    return [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host.strip("[]"), "--port", port,
            "--workers", str(workers), "--http", "1", "--no-ws",
            "--blocking-threads", str(settings.SDGEN_STREAMS_PER_PROCESS + REQUEST_THREADS),
            "--workers-kill-timeout", "3", "--respawn-failed-workers",
            "--access-log", "--access-log-fmt", ACCESS_LOG_FORMAT, "--log-config", str(SERVER_LOGGING),
            "sdgen_site.wsgi:application"]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True
