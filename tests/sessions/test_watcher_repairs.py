"""The watcher repairs what events cannot tell it: a results folder replaced, what a sweep
finds, and it keeps the thumbnail side going while there is work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.db import connection

from sessions.models import Session
from sessions.services import sync_sessions
from sessions.watcher import ModeChoice
from tests.conftest import SessionWriter, load_manifest
from tests.sessions.conftest import FakeClock, ongoing_manifest, step_until, take_events_until

pytestmark = pytest.mark.django_db


class RecordingThumbnails:
    """The watcher's view of the thumbnail side, recorded."""

    def __init__(self, *, pump_within: float | None = None) -> None:
        self.sessions: list[str] = []
        self.within = pump_within

    def image_changed(self, path: Path) -> None: ...

    def session_synced(self, name: str) -> None:
        self.sessions.append(name)

    def pump(self) -> None: ...

    def pump_within(self) -> float | None:
        return self.within

    def start_catch_up(self) -> None: ...

    def close(self) -> None: ...


@pytest.mark.parametrize("replaced", ["moved away", "deleted"])
def test_a_results_folder_replaced_by_a_new_one_is_watched_again_at_once(
    make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter, tmp_path: Path,
    replaced: str,
) -> None:
    old = write_session(empty_results_dir, "20251101_120000-old", ongoing_manifest())
    watcher = make_watcher(running=True, mode=ModeChoice("native", "test"))
    assert watcher.active == {old.name}
    if replaced == "moved away":
        empty_results_dir.rename(tmp_path / "results-before")  # and a backup moved in, say
    else:
        shutil.rmtree(empty_results_dir)
        # The deletion is an event (the new folder may well get the old one's inode number):
        # wait until it is queued for the watcher.
        seen = take_events_until(watcher.paths, empty_results_dir)
        for path in seen:
            watcher.paths.put((path, ""))
    empty_results_dir.mkdir()
    # Another run: its own manifest and start (the same would be the old run renamed, the new
    # folder may get the old one's inode: sessions.services.renames).
    another = ongoing_manifest(images=1)
    another["snapshot"]["timestamp"] = "2025-11-07T12:00:00.000001"
    new = write_session(empty_results_dir, "20251107_120000-new", another)
    clock.advance(1.0)  # far from the minute's sweep
    watcher.step(wait=False)
    assert Session.objects.get(name=new.name).status == "ongoing"
    assert Session.objects.get(name=old.name).is_missing
    assert watcher.active == {new.name}
    # Events come from the new folder now.
    later = write_session(empty_results_dir, "20251108_120000-later", ongoing_manifest())
    step_until(watcher, clock, lambda: Session.objects.filter(name=later.name).exists())
    manifest = ongoing_manifest(images=3)
    write_session(empty_results_dir, new.name, manifest)
    step_until(watcher, clock, lambda: Session.objects.get(name=new.name).images_actual == 3)


def test_sessions_found_by_the_sweep_get_their_thumbnails(
    make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter
) -> None:
    thumbnails = RecordingThumbnails()
    watcher = make_watcher(running=True, poll_interval=1000.0, thumbnails=thumbnails)
    # Written while no event reached the watcher (an overflowing event queue, a network share):
    finished = write_session(empty_results_dir, "20251107_120000-done", load_manifest("manifest_seed_sweep.json"))
    clock.advance(watcher.SWEEP_EVERY)
    watcher.step(wait=False)
    assert Session.objects.filter(name=finished.name).exists()
    assert thumbnails.sessions == [finished.name]


def test_the_loop_comes_back_soon_while_thumbnails_are_being_made(make_watcher) -> None:
    busy = make_watcher(running=True, thumbnails=RecordingThumbnails(pump_within=0.05))
    assert busy._wait_time() == pytest.approx(0.05)
    idle = make_watcher(running=True, thumbnails=RecordingThumbnails(pump_within=None))
    assert idle._wait_time() == pytest.approx(idle.LONGEST_WAIT)


def test_a_library_that_takes_long_to_sweep_is_swept_less_often(
    make_watcher, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher = make_watcher(running=True, poll_interval=1000.0)
    sweeps: list[float] = []

    def slow_sweep() -> None:
        sweeps.append(clock())
        clock.advance(1.0)  # a second's look at every folder of a very large library

    monkeypatch.setattr(watcher.syncer, "sweep", slow_sweep)
    clock.advance(watcher.SWEEP_EVERY)
    watcher.step(wait=False)
    assert len(sweeps) == 1
    clock.advance(watcher.SWEEP_EVERY * 2)
    watcher.step(wait=False)
    assert len(sweeps) == 1  # not due yet: a second of sweeping buys SWEEP_SHARE seconds of rest
    clock.advance(watcher.SWEEP_SHARE)
    watcher.step(wait=False)
    assert len(sweeps) == 2 and sweeps[1] - sweeps[0] >= watcher.SWEEP_SHARE


def test_the_sweep_sees_what_others_wrote_since_its_last_look(
    make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter, tmp_path: Path
) -> None:
    # The sweep keeps what the database holds between sweeps and reads only rows written since:
    # a sync made elsewhere (the command, the API's refresh) must not leave it with a stale view.
    folder = write_session(empty_results_dir, "20251107_120000-run", load_manifest("manifest_seed_sweep.json"))
    watcher = make_watcher(running=True, poll_interval=1000.0)
    clock.advance(watcher.SWEEP_EVERY)
    watcher.step(wait=False)
    shutil.move(folder, tmp_path / "away")
    sync_sessions(results_dir=empty_results_dir, accept_missing=True)  # elsewhere: marked missing
    assert Session.objects.get().is_missing
    shutil.move(tmp_path / "away", folder)  # back, the same folder: nothing about it changed
    clock.advance(watcher.SWEEP_EVERY)
    watcher.step(wait=False)
    assert not Session.objects.get().is_missing


def test_sqlite_s_planner_statistics_are_refreshed_every_hour(
    make_watcher, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sessions.watcher.periodic as periodic

    refreshed: list[float] = []
    monkeypatch.setattr(periodic, "refresh_planner_statistics", lambda: refreshed.append(clock()))
    watcher = make_watcher(running=True, poll_interval=1000.0)
    clock.advance(watcher.STATISTICS_EVERY - 1)
    watcher.step(wait=False)
    assert refreshed == []
    clock.advance(1)
    watcher.step(wait=False)
    # PostgreSQL's autovacuum keeps its statistics itself.
    assert len(refreshed) == (1 if connection.vendor == "sqlite" else 0)
