"""End to end: ``runwatchdog`` and ``simulatesessions`` as real processes on a tmp results root."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdgen_site.processes import signal_group
from sessions.models import Event, Session, SessionImage, WatcherHeartbeat
from tests.conftest import ROOT, process_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("mode", ["native", "polling"])]


class ManagedProcess:
    """A ``manage.py`` child process whose output goes to a log file shown on failure.

    It leads its own process group, so that ``close`` stops it with whatever it started.
    """

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_handle = open(log, "ab")
        self.process = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                                        stdout=self._log_handle, stderr=subprocess.STDOUT, start_new_session=True)

    def signal(self, sig: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        """Stop it as a user would (SIGTERM), then kill whatever is left of its group."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        signal_group(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._log_handle.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def results(tmp_path: Path) -> Path:
    path = tmp_path / "results"
    path.mkdir()
    return path


@pytest.fixture
def processes(tmp_path: Path, live_database_url: str, results: Path):
    started: list[ManagedProcess] = []

    def start(*args: str, name: str, **env: str) -> ManagedProcess:
        process = ManagedProcess(list(args), env=process_env(tmp_path, live_database_url, **env),
                                 log=tmp_path / f"{name}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()
        print(f"--- {process.log.name}\n{process.output()}")  # shown by pytest when the test fails


def start_watcher(processes, results: Path, mode: str, **env: str) -> ManagedProcess:
    watcher = processes("runwatchdog", "--results", str(results), "--mode", mode, "--interval", "0.3",
                        name=f"watcher-{time.monotonic_ns()}", **env)
    wait_until(lambda: WatcherHeartbeat.objects.filter(pid=watcher.process.pid, stopped_at=None).exists(),
               what="the watcher's first heartbeat")
    return watcher


def simulate(processes, results: Path, *args: str) -> ManagedProcess:
    return processes("simulatesessions", "--results", str(results), "--image-size", "16x24", *args,
                     name=f"simulator-{time.monotonic_ns()}")


def stop(watcher: ManagedProcess) -> float:
    started = time.monotonic()
    watcher.signal(signal.SIGTERM)
    assert watcher.wait(timeout=5) == 0, watcher.output()
    return time.monotonic() - started


def session_where(**lookup):
    return lambda: Session.objects.filter(**lookup).first()


def test_a_run_that_completes_then_its_folder_is_deleted_and_restored(
    processes, results: Path, tmp_path: Path, mode: str
) -> None:
    watcher = start_watcher(processes, results, mode)
    simulator = simulate(processes, results, "--images", "6", "--rate", "20")
    session = wait_until(session_where(status="completed", images_actual=6), what="the completed run")
    assert simulator.wait(timeout=10) == 0
    assert SessionImage.objects.filter(session=session, file_size__isnull=False).count() == 6
    assert session.stats.images_recorded == 6
    thumbnails = tmp_path / "data" / "thumbnails" / session.name
    wait_until(lambda: len(list(thumbnails.glob("*.webp"))) == 6, what="every image's thumbnail")

    shutil.move(results / session.name, tmp_path / "away")
    wait_until(session_where(pk=session.pk, is_missing=True), what="the session marked missing")
    shutil.move(tmp_path / "away", results / session.name)
    wait_until(session_where(pk=session.pk, is_missing=False), what="the session restored")
    kinds = list(Event.objects.filter(session=session).order_by("id").values_list("kind", flat=True))
    assert kinds == ["discovered", "status_changed", "missing", "restored"] or kinds == [
        "discovered", "missing", "restored"]  # a run can be first seen already completed
    assert stop(watcher) < 2.0
    assert WatcherHeartbeat.objects.get().stopped_at is not None


def test_a_run_killed_midway(processes, results: Path, mode: str) -> None:
    watcher = start_watcher(processes, results, mode)
    simulate(processes, results, "--images", "10", "--rate", "5", "--abort-after", "3")
    session = wait_until(session_where(status="aborted"), what="the aborted run")
    assert session.images_actual == 3 and session.images_expected == 10
    events = list(Event.objects.filter(session=session).order_by("id").values_list("kind", "to_status", "source"))
    assert events[-1] == ("status_changed", "aborted", "watchdog") or events == [("discovered", "aborted", "watchdog")]
    stop(watcher)


def test_a_run_that_goes_silent_is_closed_as_stale(processes, results: Path, mode: str) -> None:
    watcher = start_watcher(processes, results, mode, SDGEN_STALE_AFTER="0.05")  # three seconds
    simulator = simulate(processes, results, "--images", "100", "--rate", "10")
    wait_until(session_where(status="ongoing", images_actual__gte=2), what="a run under way")
    simulator.signal(signal.SIGKILL)  # gone without a word: the manifest still says ongoing
    simulator.wait(timeout=5)
    session = wait_until(session_where(status="aborted"), timeout=20, what="the stale rule")
    event = Event.objects.filter(session=session).last()
    assert (event.source, event.performer_id, event.reason) == ("system", "system", "stale")
    stop(watcher)


def test_a_restarted_watcher_resumes_watching_the_ongoing_run(processes, results: Path, mode: str) -> None:
    first = start_watcher(processes, results, mode)
    simulator = simulate(processes, results, "--images", "24", "--rate", "8")
    wait_until(session_where(status="ongoing", images_actual__gte=3), what="a run under way")
    assert stop(first) < 2.0
    stopped_at = Session.objects.get().images_actual
    start_watcher(processes, results, mode)
    session = wait_until(session_where(status="completed", images_actual=24), what="the run completed")
    assert stopped_at < 24
    assert simulator.wait(timeout=10) == 0
    assert SessionImage.objects.filter(session=session).count() == 24
    assert os.path.isdir(results / session.name)
