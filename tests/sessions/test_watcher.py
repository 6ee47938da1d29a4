"""The watcher's logic driven by synthetic events and an injected clock (no sleeps)."""

from __future__ import annotations

import json
import queue
import shutil
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sessions.models import Event, Session, WatcherHeartbeat
from sessions.services import sync_sessions
from sessions.watcher import Debouncer, FolderPoller, ModeChoice, NativeEvents, Watcher, choose_watch_mode
from sessions.watcher import loop as watcher_loop
from sessions.watcher import sources as watcher_sources
from sessions.watcher import syncing as watcher_syncing
from tests.conftest import SessionWriter, load_manifest
from tests.sessions.conftest import FakeClock, ongoing_manifest, take_events_until

LOCAL_MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /tmp tmpfs rw,nosuid,nodev 0 0
"""
LINUX = "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian"
WSL = "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@941d701f84f1) #1 SMP"
WSL_MOUNTS = """\
/dev/sdc / ext4 rw,relatime,discard,errors=remount-ro,data=ordered 0 0
C:\\134 /mnt/c 9p rw,noatime,dirsync,aname=drvfs;path=C:\\;uid=1000;gid=1000 0 0
drvfs /mnt/d drvfs rw,noatime 0 0
"""


class TestModeChoice:
    @pytest.mark.parametrize(
        ("version", "mounts", "path", "mode", "because"),
        [
            (LINUX, LOCAL_MOUNTS, "/home/me/results", "native", "local ext4"),
            (LINUX, LOCAL_MOUNTS, "/tmp/results", "native", "local tmpfs"),
            (WSL, WSL_MOUNTS, "/mnt/c/Users/me/sd/results", "polling", "WSL with the results on a Windows drive (9p"),
            (WSL, WSL_MOUNTS, "/mnt/d/results", "polling", "(drvfs at /mnt/d)"),
            (WSL, WSL_MOUNTS, "/home/me/results", "native", "local ext4"),
            (LINUX, LOCAL_MOUNTS + "nas:/export /mnt/nas nfs4 rw 0 0\n", "/mnt/nas/sd", "polling", "nfs4"),
            (LINUX, LOCAL_MOUNTS + "//pc/share /mnt/share cifs rw 0 0\n", "/mnt/share/r", "polling", "cifs"),
            (LINUX, LOCAL_MOUNTS + "me@box:/r /mnt/box fuse.sshfs rw 0 0\n", "/mnt/box/r", "polling", "fuse.sshfs"),
            (LINUX, LOCAL_MOUNTS + "host /mnt/my\\040share 9p rw 0 0\n", "/mnt/my share/r", "polling", "9p"),
            # A mount whose name merely starts like the path's folder is not the path's mount.
            (LINUX, LOCAL_MOUNTS + "nas:/x /mnt/nas nfs rw 0 0\n", "/mnt/nasty/r", "native", "local ext4"),
            (None, None, "/Users/me/results", "native", "native events"),
        ],
    )
    def test_auto(self, version, mounts, path: str, mode: str, because: str) -> None:
        choice = choose_watch_mode(requested="auto", results_dir=Path(path), proc_version=version, proc_mounts=mounts)
        assert choice.mode == mode
        assert because in choice.reason

    @pytest.mark.parametrize("requested", ["native", "polling"])
    def test_an_explicit_mode_wins(self, requested: str) -> None:
        choice = choose_watch_mode(requested=requested, results_dir=Path("/mnt/c/r"), proc_version=WSL,
                                   proc_mounts=WSL_MOUNTS)
        assert choice == ModeChoice(requested, f"{requested} mode was asked for")

    def test_an_unknown_mode_is_refused(self) -> None:
        with pytest.raises(ValueError):
            choose_watch_mode(requested="magic", results_dir=Path("/"), proc_version=None, proc_mounts=None)


class TestDebouncer:
    def test_a_burst_becomes_one_due_name(self) -> None:
        debouncer = Debouncer(quiet=0.1, max_delay=1.0)
        for tick in range(20):
            debouncer.touch("run", 10.0 + tick * 0.01)
        assert debouncer.pop_due(10.25) == []
        assert debouncer.pop_due(10.30) == ["run"]
        assert debouncer.pop_due(20.0) == []

    def test_a_steady_stream_is_still_due_after_max_delay(self) -> None:
        debouncer = Debouncer(quiet=0.1, max_delay=1.0)
        for tick in range(200):
            debouncer.touch("run", tick * 0.05)
            if debouncer.pop_due(tick * 0.05):
                break
        assert tick * 0.05 == pytest.approx(1.0)

    def test_an_explicit_delay(self) -> None:
        debouncer = Debouncer(quiet=0.1, max_delay=1.0)
        debouncer.touch("run", 0.0, delay=0.4)
        assert debouncer.next_due() == pytest.approx(0.4)


class TestFolderPoller:
    def test_new_and_removed_folders_and_changed_active_ones(
        self, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        poller = FolderPoller(empty_results_dir)
        write_session(empty_results_dir, "old", load_manifest("manifest_legacy_in_progress.json"))
        assert poller.changed(["old"]) == {"old"}  # first look at a folder: worth a sync
        assert poller.changed(["old"]) == set()
        write_session(empty_results_dir, "new", None, images=["a.png"])
        assert poller.changed(["old"]) == {"new"}
        (empty_results_dir / "old" / "manifest.json").write_text("{}")
        assert poller.changed(["old"]) == {"old"}
        shutil.rmtree(empty_results_dir / "new")
        (empty_results_dir / ".hidden").mkdir()
        assert poller.changed(["old"]) == {"new"}

    def test_only_active_folders_are_stamped(
        self, empty_results_dir: Path, write_session: SessionWriter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for n in range(50):
            write_session(empty_results_dir, f"run{n}", None, images=["a.png"])
        stamped: list[str] = []
        real = watcher_sources.stamp_session_folder
        monkeypatch.setattr(watcher_sources, "stamp_session_folder",
                            lambda root, name: stamped.append(name) or real(root, name))
        poller = FolderPoller(empty_results_dir)
        for _ in range(3):
            poller.changed(["run7", "run8"])
        assert sorted(set(stamped)) == ["run7", "run8"] and len(stamped) == 6


def event(watcher: Watcher, path: Path) -> None:
    watcher.paths.put((str(path), ""))


def settle(watcher: Watcher, clock: FakeClock) -> None:
    """Take the queued events, then let their quiet period pass."""
    watcher.step(wait=False)
    clock.advance(0.2)
    watcher.step(wait=False)


@pytest.fixture
def sync_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str] | None]:
    calls: list[list[str] | None] = []
    real = watcher_syncing.sync_sessions

    def recording(**kwargs):
        calls.append(kwargs.get("names"))
        return real(**kwargs)

    monkeypatch.setattr(watcher_syncing, "sync_sessions", recording)
    return calls


@pytest.mark.django_db
class TestWatcher:
    def test_a_new_run_is_synced_after_its_burst_settles(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter,
        sync_calls: list,
    ) -> None:
        watcher = make_watcher()
        watcher.start()
        folder = write_session(empty_results_dir, "20251107_120000-run", ongoing_manifest())
        for path in [folder, folder / "manifest.json", *folder.glob("*.png")] * 5:
            event(watcher, path)
        watcher.step(wait=False)
        assert not Session.objects.exists()  # still inside the quiet period
        settle(watcher, clock)
        session = Session.objects.get()
        assert (session.status, session.images_actual) == ("ongoing", 2)
        assert sync_calls == [["20251107_120000-run"]]
        assert watcher.active == {"20251107_120000-run"}
        assert watcher.stats.events == 20

    def test_a_folder_is_looked_at_again_once_its_watch_is_in_place(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter,
        sync_calls: list,
    ) -> None:
        # The sync that finds a new run lists its folder before the folder's own watch exists:
        # what the generator writes in between raises no event (a short run can finish there).
        watcher = make_watcher()
        watcher.start()
        folder = write_session(empty_results_dir, "20251107_120000-run", ongoing_manifest(images=1))
        event(watcher, folder)
        settle(watcher, clock)
        assert Session.objects.get().images_actual == 1 and watcher.active == {folder.name}
        write_session(empty_results_dir, folder.name, ongoing_manifest(images=3))  # no event for these
        settle(watcher, clock)  # well before the next poll
        assert Session.objects.get().images_actual == 3
        assert sync_calls == [[folder.name], [folder.name]]
        clock.advance(1.0)
        watcher.step(wait=False)
        assert len(sync_calls) == 2  # once: a folder already watched is not looked at again

    def test_paths_outside_sessions_are_ignored(self, make_watcher, clock: FakeClock, empty_results_dir: Path,
                                                sync_calls: list) -> None:
        watcher = make_watcher()
        for path in ["/elsewhere/x.png", empty_results_dir / "dryrun" / "run" / "a.png",
                     empty_results_dir / ".cache" / "x", empty_results_dir / "run" / "sub" / "deep.png"]:
            event(watcher, path)
        watcher.step(wait=False)
        clock.advance(2)
        watcher.step(wait=False)
        assert sync_calls == [] and len(watcher.debouncer) == 0

    def test_every_ongoing_session_is_watched_from_the_start(
        self, make_watcher, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        for n in range(3):
            write_session(empty_results_dir, f"2025110{n}_120000-run", ongoing_manifest())
        write_session(empty_results_dir, "20251109_120000-done", load_manifest("manifest_seed_sweep.json"))
        watcher = make_watcher(running=True)
        assert watcher.active == {"20251100_120000-run", "20251101_120000-run", "20251102_120000-run"}
        heartbeat = WatcherHeartbeat.objects.get()
        assert (heartbeat.mode, heartbeat.sessions_watched, heartbeat.stopped_at) == ("polling", 3, None)

    def test_a_finished_run_stops_being_watched_and_a_resumed_one_is_picked_up_again(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        folder = write_session(empty_results_dir, "20251107_120000-run", ongoing_manifest())
        watcher = make_watcher(running=True)
        finished = ongoing_manifest(images=4)
        finished["status"] = "aborted"
        write_session(empty_results_dir, folder.name, finished)
        event(watcher, folder / "manifest.json")
        settle(watcher, clock)
        assert Session.objects.get().status == "aborted" and watcher.active == set()

        # The run resumes: nobody watches the folder, the minute's sweep notices.
        resumed = ongoing_manifest(images=4, total=6)
        write_session(empty_results_dir, folder.name, resumed)
        clock.advance(watcher.SWEEP_EVERY)
        watcher.step(wait=False)
        assert Session.objects.get().status == "ongoing"
        assert watcher.active == {folder.name}

    def test_polling_sees_new_folders_and_changes_in_active_ones(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        watcher = make_watcher(poll_interval=2.0)
        watcher.start()
        folder = write_session(empty_results_dir, "20251107_120000-run", ongoing_manifest(images=1))
        clock.advance(2.0)
        watcher.step(wait=False)  # the poll notices the new folder
        settle(watcher, clock)
        assert Session.objects.get().images_actual == 1
        write_session(empty_results_dir, folder.name, ongoing_manifest(images=3))
        clock.advance(2.0)
        watcher.step(wait=False)
        settle(watcher, clock)
        assert Session.objects.get().images_actual == 3

    def test_a_half_written_manifest_is_read_again_and_never_recorded(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        folder = write_session(empty_results_dir, "20251107_120000-run", ongoing_manifest(images=2))
        watcher = make_watcher(running=True)
        full = json.dumps(ongoing_manifest(images=3)).encode()
        write_session(empty_results_dir, folder.name, full[: len(full) // 2], images=["facial_expressions_0002_seed-44.png"])
        event(watcher, folder / "manifest.json")
        settle(watcher, clock)
        session = Session.objects.get()
        assert (session.sync_error, session.images_actual, session.stats.images_recorded) == (None, 2, 2)
        assert watcher.stats.retries == 1
        (folder / "manifest.json").write_bytes(full)  # the rewrite finishes
        settle(watcher, clock)
        session = Session.objects.get()
        assert (session.sync_error, session.images_actual, session.stats.images_recorded) == (None, 3, 3)

    def test_a_manifest_that_stays_broken_is_recorded_after_the_retries(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        folder = write_session(empty_results_dir, "20251107_120000-run", ongoing_manifest())
        watcher = make_watcher(running=True)
        (folder / "manifest.json").write_text("[1, 2")
        event(watcher, folder / "manifest.json")
        watcher.step(wait=False)
        for _ in range(watcher.MANIFEST_RETRIES + 1):
            clock.advance(1.0)
            watcher.step(wait=False)
            if _ < watcher.MANIFEST_RETRIES:
                assert Session.objects.get().sync_error is None
        session = Session.objects.get()
        assert "not valid JSON" in session.sync_error
        assert session.images_actual == 2 and session.status == "ongoing"

    def test_a_broken_manifest_is_recorded_even_while_other_runs_keep_syncing(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        broken = write_session(empty_results_dir, "20251107_120000-broken", ongoing_manifest())
        busy = write_session(empty_results_dir, "20251107_130000-busy", ongoing_manifest())
        watcher = make_watcher(running=True)
        (broken / "manifest.json").write_text('{"images": [')
        event(watcher, broken / "manifest.json")
        for _ in range(20):  # the other run writes an image every 0.3 s meanwhile
            event(watcher, busy / "manifest.json")
            settle(watcher, clock)
            clock.advance(0.1)
        session = Session.objects.get(name=broken.name)
        assert "not valid JSON" in session.sync_error
        assert watcher.stats.retries == watcher.MANIFEST_RETRIES
        assert broken.name in watcher.active  # recorded, and still watched: it may be fixed

    def test_a_deleted_folder_is_missing_and_restored(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter, tmp_path: Path
    ) -> None:
        folder = write_session(empty_results_dir, "20251107_120000-run", load_manifest("manifest_seed_sweep.json"))
        watcher = make_watcher(running=True)
        shutil.move(folder, tmp_path / "away")
        event(watcher, folder)
        settle(watcher, clock)
        assert Session.objects.get().is_missing
        shutil.move(tmp_path / "away", folder)
        event(watcher, folder)
        settle(watcher, clock)
        session = Session.objects.get()
        assert not session.is_missing
        assert list(Event.objects.filter(session=session).values_list("kind", flat=True)) == [
            "discovered", "missing", "restored"]

    def test_one_bad_session_does_not_stop_the_others(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        watcher = make_watcher()
        watcher.start()
        good = write_session(empty_results_dir, "20251107_120000-good", ongoing_manifest())
        bad = write_session(empty_results_dir, "20251107_120000-bad", ongoing_manifest())
        sync_sessions(results_dir=empty_results_dir, names=[bad.name])
        change_before = Session.objects.get(name=bad.name).change_seq
        real = watcher_syncing.sync_sessions

        def failing(**kwargs):
            if bad.name in kwargs.get("names") or []:
                raise RuntimeError("unexpected")
            return real(**kwargs)

        monkeypatch.setattr(watcher_syncing, "sync_sessions", failing)
        event(watcher, good / "manifest.json")
        event(watcher, bad / "manifest.json")
        settle(watcher, clock)
        assert Session.objects.get(name=good.name).images_actual == 2
        assert "internal error" in Session.objects.get(name=bad.name).sync_error
        assert watcher.stats.failures == 1
        # lists show the error: the live stream and the answers' validators hear of it
        assert Session.objects.get(name=bad.name).change_seq > change_before

    def test_stale_runs_are_closed_while_running(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        write_session(empty_results_dir, "20251107_120000-run", ongoing_manifest(),
                      mtime=datetime.now(timezone.utc) - timedelta(seconds=30))
        watcher = make_watcher(stale_after=timedelta(minutes=1), running=True)
        assert watcher.active == {"20251107_120000-run"}
        later = datetime.now(timezone.utc) + timedelta(seconds=40)  # 70 s after the last change
        watcher.now = lambda: later
        clock.advance(watcher.stale_every)
        watcher.step(wait=False)
        session = Session.objects.get()
        assert (session.status, session.status_source) == ("aborted", "system")
        assert watcher.active == set()

    def test_an_error_in_the_loop_is_logged_and_the_loop_goes_on(
        self, make_watcher, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        watcher = make_watcher()
        watcher.start()
        turns = []

        def step(*, wait: bool) -> None:
            turns.append(wait)
            if len(turns) == 1:
                raise RuntimeError("database is locked")
            watcher.request_stop()

        monkeypatch.setattr(watcher, "step", step)
        monkeypatch.setattr(watcher_loop.time, "sleep", lambda seconds: None)
        watcher.run()
        assert len(turns) == 2 and watcher.stats.failures == 1
        assert "the watcher hit an error; it carries on" in caplog.text
        assert WatcherHeartbeat.objects.get().stopped_at is not None

    def test_a_stop_request_ends_a_long_catch_up_between_batches(
        self, make_watcher, empty_results_dir: Path, write_session: SessionWriter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import sessions.services.sync as sync

        monkeypatch.setattr(sync, "BATCH_MAX_SESSIONS", 1)
        for n in range(3):
            write_session(empty_results_dir, f"2025110{n + 1}_120000-run", ongoing_manifest())
        watcher = make_watcher()
        watcher.request_stop()  # SIGTERM arrived while the first batch was being written
        report = watcher.catch_up()
        assert report.interrupted and Session.objects.count() == 1

    def test_a_stop_request_wakes_a_loop_that_waits_for_a_path(self, make_watcher) -> None:
        # A signal reaches whichever thread the kernel picks: the loop's wait for the next path
        # must end on the stop itself, not when the wait runs out.
        watcher = make_watcher()
        timer = threading.Timer(0.1, watcher.request_stop)
        timer.start()
        started = time.monotonic()
        watcher._take(15.0)
        timer.join()
        assert time.monotonic() - started < 10 and watcher.stop_requested
        assert watcher.stats.events == 0  # the wake-up is not a change

    def test_heartbeat_and_a_clean_stop(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        watcher = make_watcher()
        watcher.start()
        folder = write_session(empty_results_dir, "20251107_120000-run", ongoing_manifest())
        event(watcher, folder / "manifest.json")
        watcher.step(wait=False)
        clock.advance(watcher.HEARTBEAT_EVERY)
        watcher.step(wait=False)
        beat = WatcherHeartbeat.objects.get()
        assert beat.last_event_at is not None and beat.mode == "polling"
        event(watcher, folder / "facial_expressions_0000_seed-42.png")
        watcher.request_stop()
        watcher.run()  # returns at once: the flag is set; pending work is flushed
        assert Session.objects.get().images_actual == 2
        assert WatcherHeartbeat.objects.get().stopped_at is not None

    def test_images_reach_the_thumbnail_side_and_synced_sessions_are_checked(
        self, make_watcher, clock: FakeClock, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        class FakeThumbnails:
            def __init__(self) -> None:
                self.images: list[Path] = []
                self.sessions: list[str] = []
                self.pumps = 0

            def image_changed(self, path: Path) -> None:
                self.images.append(path)

            def session_synced(self, name: str) -> None:
                self.sessions.append(name)

            def pump(self) -> None:
                self.pumps += 1

            def pump_within(self) -> float | None:
                return None

            def start_catch_up(self) -> None: ...

            def close(self) -> None: ...

        thumbnails = FakeThumbnails()
        watcher = make_watcher(thumbnails=thumbnails)
        folder = write_session(empty_results_dir, "20251107_120000-run", ongoing_manifest(images=1))
        event(watcher, folder / "facial_expressions_0000_seed-42.png")
        event(watcher, folder / "manifest.json")
        settle(watcher, clock)
        assert thumbnails.images == [folder / "facial_expressions_0000_seed-42.png"]
        assert thumbnails.sessions == [folder.name]
        assert thumbnails.pumps == 2


class TestNativeEvents:
    def test_the_handler_only_enqueues_paths(self, empty_results_dir: Path) -> None:
        paths: queue.SimpleQueue = queue.SimpleQueue()
        native = NativeEvents(empty_results_dir, paths, limit=2)
        native.start()
        try:
            (empty_results_dir / "run").mkdir()
            assert paths.get(timeout=5)[0] == str(empty_results_dir / "run")
            assert native.watch("run")
            (empty_results_dir / "run" / "manifest.json").write_text("{}")
            take_events_until(paths, empty_results_dir / "run" / "manifest.json")
            assert native.watch("run") and native.watched() == {"run"}
            (empty_results_dir / "two").mkdir()
            (empty_results_dir / "three").mkdir()
            assert native.watch("two") and not native.watch("three")  # over the limit: polled instead
            native.unwatch("run")
            assert native.watched() == {"two"}
        finally:
            native.stop()


@pytest.mark.django_db
class TestRunwatchdogCommand:
    def test_once_catches_up_and_exits(self, results_dir: Path, write_session: SessionWriter) -> None:
        import io

        from django.core.management import call_command

        write_session(results_dir, "20250101_000000-old", ongoing_manifest(),
                      mtime=datetime(2025, 1, 1, tzinfo=timezone.utc))
        out = io.StringIO()
        call_command("runwatchdog", "--results", str(results_dir), "--once", stdout=out)
        assert "5 sessions: 5 new" in out.getvalue()
        assert Session.objects.get(name="20250101_000000-old").status == "aborted"  # stale

    def test_thumbnails_come_from_the_registered_provider_and_none_means_none(
        self, results_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import io

        from django.core.management import call_command

        from sessions.watcher import thumbnail_side

        class Summary:
            def summary(self) -> str:
                return "all made"

        class RecordingProvider:
            def __init__(self) -> None:
                self.catch_ups: list[Path] = []

            def live(self, *, results_dir: Path):
                raise AssertionError("--once makes no live thumbnails")

            def catch_up(self, *, results_dir: Path, progress, should_stop) -> Summary:
                self.catch_ups.append(results_dir)
                return Summary()

        provider = RecordingProvider()
        monkeypatch.setattr(thumbnail_side, "_provider", provider)
        out = io.StringIO()
        call_command("runwatchdog", "--results", str(results_dir), "--once", stdout=out)
        assert provider.catch_ups == [results_dir] and "thumbnails: all made" in out.getvalue()
        call_command("runwatchdog", "--results", str(results_dir), "--once", "--no-thumbnails", stdout=out)
        assert provider.catch_ups == [results_dir]
        monkeypatch.setattr(thumbnail_side, "_provider", None)
        out = io.StringIO()
        call_command("runwatchdog", "--results", str(results_dir), "--once", stdout=out)
        assert "sessions: " in out.getvalue() and "thumbnails:" not in out.getvalue()

    def test_bad_options(self, results_dir: Path) -> None:
        from django.core.management import CommandError, call_command

        with pytest.raises(CommandError, match="invalid choice: 'sometimes'"):
            call_command("runwatchdog", "--results", str(results_dir), "--mode", "sometimes")
        with pytest.raises(CommandError, match="must be greater than 0"):
            call_command("runwatchdog", "--results", str(results_dir), "--interval", "0")
        with pytest.raises(CommandError, match="does not exist") as caught:
            call_command("runwatchdog", "--results", str(results_dir / "nowhere"), "--once")
        assert caught.value.returncode == 2
