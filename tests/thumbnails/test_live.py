from __future__ import annotations

import io
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from thumbnails.live import LiveThumbnails
from thumbnails.models import ThumbnailCount
from thumbnails.pool import BACKGROUND, ThumbnailPool
from thumbnails.rendering import Job, Outcome, Status, ThumbnailSettings


def png_bytes(size: tuple[int, int] = (64, 96)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def wait_for(live: LiveThumbnails, predicate, *, rounds: int = 100) -> None:
    """Pump until ``predicate()``: each round waits for the pool's next outcome."""
    for _ in range(rounds):
        if predicate():
            return
        live.pump(wait=0.2)
    assert predicate()


class TestPool:
    def test_live_images_newest_first_then_the_background(self) -> None:
        started: list[str] = []
        release = threading.Event()

        def renderer(job: Job) -> Outcome:
            started.append(job.source)
            if job.source == "blocker":
                release.wait(5)
            return Outcome(job, Status.RENDERED)

        # One job in flight: everything below is queued while the blocker runs, whatever the timing.
        pool = ThumbnailPool(workers=1, max_in_flight=1, renderer=renderer,
                             executor_factory=lambda n: ThreadPoolExecutor(n))
        settings = ThumbnailSettings()
        try:
            pool.submit(Job("blocker", "t", settings))
            while started != ["blocker"]:
                threading.Event().wait(0.01)
            pool.submit(Job("old session", "t", settings), tier=BACKGROUND, rank=2.0)
            pool.submit(Job("newer session", "t", settings), tier=BACKGROUND, rank=1.0)
            pool.submit(Job("live, first seen", "t", settings))
            pool.submit(Job("live, last seen", "t", settings))
            pool.submit(Job("live, last seen", "t", settings))  # already queued: once is enough
            release.set()
            outcomes = [pool.wait_outcome(timeout=5) for _ in range(5)]
        finally:
            pool.close(wait=True)
        assert all(outcome is not None for outcome in outcomes)
        assert started == ["blocker", "live, last seen", "live, first seen", "newer session", "old session"]

    def test_the_queue_is_bounded(self) -> None:
        block = threading.Event()
        pool = ThumbnailPool(workers=1, max_queued=2, max_in_flight=1,
                             renderer=lambda job: block.wait(5) or Outcome(job, Status.RENDERED),
                             executor_factory=lambda n: ThreadPoolExecutor(n))
        settings = ThumbnailSettings()
        try:
            accepted = [pool.submit(Job(f"image {n}", "t", settings)) for n in range(6)]
            assert pool.queued() <= 2
        finally:
            block.set()
            pool.close(wait=True)
        # At most one job running and two queued, however the dispatcher's thread is scheduled.
        assert accepted[:2] == [True, True] and accepted.count(True) <= 3

    def test_a_worker_that_dies_takes_only_its_job_down(self, tmp_path: Path) -> None:
        pool = ThumbnailPool(workers=1)
        settings = ThumbnailSettings(method=6)
        big = tmp_path / "big.png"
        Image.effect_noise((4000, 6000), 60).convert("RGB").save(big, compress_level=0)
        (tmp_path / "small.png").write_bytes(png_bytes())
        try:
            pool.submit(Job(str(big), str(tmp_path / "big.webp"), settings))
            while not pool._executor._processes:  # the worker starts with the first job
                threading.Event().wait(0.01)
            for pid in list(pool._executor._processes):
                os.kill(pid, signal.SIGKILL)
            crashed = pool.wait_outcome(timeout=30)
            assert crashed.status is Status.FAILED and "renderer failed" in crashed.error
            pool.submit(Job(str(tmp_path / "small.png"), str(tmp_path / "small.webp"), settings))
            after = pool.wait_outcome(timeout=30)
        finally:
            pool.close(wait=True)
        assert after.status is Status.RENDERED


@pytest.fixture
def live(empty_results_dir: Path, thumbnails_dir: Path):
    clock = FakeClock()
    service = LiveThumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1,
                             monotonic=clock)
    service.clock = clock
    yield service
    service.close()


@pytest.mark.django_db
class TestLiveThumbnails:
    def test_a_new_png_gets_its_thumbnail_and_the_counts_are_recorded(
        self, live: LiveThumbnails, library, empty_results_dir: Path, thumbnails_dir: Path
    ) -> None:
        [name] = library(1)
        source = empty_results_dir / name / "facial_expressions_0004_seed-46.png"
        source.write_bytes(png_bytes())
        live.image_changed(source)
        target = thumbnails_dir / name / "facial_expressions_0004_seed-46.webp"
        wait_for(live, target.exists)
        live.clock.now += live.COUNT_EVERY
        live.pump()
        assert ThumbnailCount.objects.get(session__name=name).png_count == 5
        assert live.report.rendered == 1

    def test_a_png_still_being_written_is_tried_again_until_it_is_whole(
        self, live: LiveThumbnails, library, empty_results_dir: Path, thumbnails_dir: Path
    ) -> None:
        [name] = library(1)
        data = png_bytes((256, 384))
        source = empty_results_dir / name / "slow.png"
        source.write_bytes(data[:100])  # the first bytes of a slow copy
        live.image_changed(source)
        wait_for(live, lambda: source.as_posix() in live._incomplete)
        source.write_bytes(data[:-20])
        live.clock.now += 1
        live.pump()  # retried: still not whole
        wait_for(live, lambda: live._incomplete[source.as_posix()].attempts == 2)
        with open(source, "ab") as handle:
            handle.write(data[-20:])  # the last bytes land; no event needed
        live.clock.now += 5
        target = thumbnails_dir / name / "slow.webp"
        wait_for(live, target.exists)
        assert Image.open(target).size == (160, 240)
        assert live._incomplete == {}

    def test_a_failed_png_is_tried_again_only_when_it_changes(
        self, live: LiveThumbnails, library, empty_results_dir: Path, thumbnails_dir: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        [name] = library(1)
        source = empty_results_dir / name / "bad.png"
        source.write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 20 + b"\x00\x00\x00\x00IEND\xaeB`\x82")
        live.image_changed(source)
        wait_for(live, lambda: live.report.failed == 1)
        assert "bad.png: no thumbnail: cannot decode the image" in caplog.text
        live.image_changed(source)
        assert live.pool.queued() == 0  # the same file: not tried again
        source.write_bytes(png_bytes())
        os.utime(source, ns=(os.stat(source).st_mtime_ns + 10**9,) * 2)
        live.image_changed(source)
        wait_for(live, (thumbnails_dir / name / "bad.webp").exists)

    def test_a_synced_session_gets_what_it_lacks(
        self, live: LiveThumbnails, library, empty_results_dir: Path, thumbnails_dir: Path
    ) -> None:
        [name] = library(1)
        live.session_synced(name)  # how polling mode notices new PNGs
        wait_for(live, lambda: live.report.rendered == 4)
        assert len(os.listdir(thumbnails_dir / name)) == 4

    def test_the_catch_up_runs_in_the_background(
        self, live: LiveThumbnails, library, empty_results_dir: Path, thumbnails_dir: Path
    ) -> None:
        names = library(3)
        live.start_catch_up()
        wait_for(live, lambda: live.report.rendered == 12)
        assert all(len(os.listdir(thumbnails_dir / name)) == 4 for name in names)

    def test_a_deleted_png_takes_its_thumbnail_with_it(
        self, live: LiveThumbnails, library, empty_results_dir: Path, thumbnails_dir: Path
    ) -> None:
        [name] = library(1)
        live.session_synced(name)
        wait_for(live, lambda: live.report.rendered == 4)
        source = empty_results_dir / name / "facial_expressions_0000_seed-42.png"
        source.unlink()
        live.image_changed(source)
        wait_for(live, lambda: live.report.removed == 1)
        assert not (thumbnails_dir / name / "facial_expressions_0000_seed-42.webp").exists()


@pytest.mark.django_db
def test_a_deleted_session_folder_takes_its_thumbnails_with_it(live: LiveThumbnails, library, empty_results_dir: Path,
                                                              thumbnails_dir: Path, tmp_path: Path) -> None:
    [name] = library(1)
    live.session_synced(name)
    wait_for(live, lambda: live.report.rendered == 4)
    (empty_results_dir / name).rename(tmp_path / "elsewhere")
    live.session_synced(name)
    assert not (thumbnails_dir / name).exists()


class ScriptedRenderer:
    """A renderer run in threads: jobs whose file name is in ``held`` (or the first job, with
    ``hold_first``) wait for ``release``; ``incomplete`` file names come back INCOMPLETE once;
    everything else is RENDERED."""

    def __init__(self, *, held: tuple[str, ...] = (), incomplete: tuple[str, ...] = (),
                 hold_first: bool = False) -> None:
        self.held = set(held)
        self.hold_first = hold_first
        self.incomplete = set(incomplete)
        self.release = threading.Event()
        self.holding = threading.Event()  # a held job has started
        self.started: list[str] = []

    def __call__(self, job: Job) -> Outcome:
        name = Path(job.source).name
        self.started.append(name)
        if name in self.held or (self.hold_first and len(self.started) == 1):
            self.holding.set()
            assert self.release.wait(10)
        if name in self.incomplete:
            self.incomplete.discard(name)
            return Outcome(job, Status.INCOMPLETE, "not yet", (1, 1))
        Path(job.target).parent.mkdir(parents=True, exist_ok=True)
        Path(job.target).write_bytes(b"webp")
        return Outcome(job, Status.RENDERED, source_stamp=(1, 1))

    def pool(self, *, max_queued: int | None = None) -> ThumbnailPool:
        return ThumbnailPool(workers=1, max_in_flight=1, max_queued=max_queued, renderer=self,
                             executor_factory=lambda n: ThreadPoolExecutor(n))


def pump_until(live: LiveThumbnails, predicate, *, timeout: float = 20.0, tick: float = 0.0) -> None:
    """Pump (each turn waits for the pool's next outcome) until ``predicate()``, with a deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        live.clock.now += tick
        live.pump(wait=0.1)


@pytest.fixture
def scripted(empty_results_dir: Path, thumbnails_dir: Path):
    """``scripted(renderer, max_queued=…)``: a LiveThumbnails on a scripted pool and a fake clock."""
    made: list[LiveThumbnails] = []

    def make(renderer: ScriptedRenderer, *, max_queued: int | None = None) -> LiveThumbnails:
        live = LiveThumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1,
                              pool=renderer.pool(max_queued=max_queued), monotonic=FakeClock())
        live.clock = live.monotonic
        made.append(live)
        return live

    yield make
    for live in made:
        live.pool.close(wait=True)


@pytest.mark.django_db
class TestNothingIsDropped:
    def test_more_new_pngs_than_the_queue_holds_all_get_thumbnails(
        self, library, empty_results_dir: Path, thumbnails_dir: Path, scripted
    ) -> None:
        [name] = library(1)
        renderer = ScriptedRenderer(held=("first.png",))
        live = scripted(renderer, max_queued=5)
        first = empty_results_dir / name / "first.png"
        live.image_changed(first)
        assert renderer.holding.wait(10)  # the worker is busy
        sources = [first] + [empty_results_dir / name / f"new-{n:02}.png" for n in range(40)]
        for source in sources[1:]:  # a burst: far more than the queue holds
            source.write_bytes(png_bytes((8, 12)))
            live.clock.now += 0.01
            live.image_changed(source)
        assert live.pool.queued() == 5  # full: the rest waits for room
        renderer.release.set()
        pump_until(live, lambda: live.report.rendered == len(sources))
        assert sorted(p.name for p in (thumbnails_dir / name).glob("new-*.webp")) == [
            f"new-{n:02}.webp" for n in range(40)]
        assert live.waiting == 0
        # The jobs that had to wait for room go in newest first, too.
        waited = [name for name in renderer.started if name >= "new-10.png"]
        assert waited == sorted(waited, reverse=True)

    def test_a_synced_session_lacking_more_than_the_queue_holds_is_finished_later(
        self, library, empty_results_dir: Path, thumbnails_dir: Path, scripted
    ) -> None:
        [name] = library(1)
        for n in range(20):
            (empty_results_dir / name / f"restored-{n:02}.png").write_bytes(png_bytes((8, 12)))
        renderer = ScriptedRenderer(hold_first=True)
        live = scripted(renderer, max_queued=5)
        live.session_synced(name)  # e.g. restored from a backup: 24 PNGs without a thumbnail
        assert renderer.holding.wait(10)
        assert live.pool.queued() <= 5 and live.waiting == 0  # the rest is not held job by job
        renderer.release.set()
        pump_until(live, lambda: len(list((thumbnails_dir / name).glob("*.webp"))) == 24)
        assert live.pump_within() is not None  # its counts are still to be recorded
        pump_until(live, lambda: live.pump_within() is None, tick=live.COUNT_EVERY)
        assert ThumbnailCount.objects.get(session__name=name).thumbnail_count == 24

    def test_a_retry_that_finds_the_queue_full_is_not_lost(
        self, library, empty_results_dir: Path, thumbnails_dir: Path, scripted
    ) -> None:
        [name] = library(1)
        renderer = ScriptedRenderer(held=("busy.png",), incomplete=("slow.png",))
        live = scripted(renderer, max_queued=1)
        folder = empty_results_dir / name
        live.image_changed(folder / "slow.png")
        pump_until(live, lambda: (folder / "slow.png").as_posix() in live._incomplete)
        live.image_changed(folder / "busy.png")  # takes the worker
        assert renderer.holding.wait(10)
        live.image_changed(folder / "queued.png")  # fills the queue
        live.clock.now += live.RETRY_LONGEST  # the retry is due while there is no room
        live.pump()
        renderer.release.set()
        pump_until(live, lambda: not live._incomplete, tick=live.RETRY_FIRST)
        assert (thumbnails_dir / name / "slow.webp").exists()


@pytest.mark.django_db
class TestBackgroundCatchUp:
    def test_the_catch_up_is_queued_well_ahead_of_the_workers_behind_live_images(
        self, library, empty_results_dir: Path, thumbnails_dir: Path, scripted
    ) -> None:
        names = library(3)  # 12 PNGs to render
        renderer = ScriptedRenderer(hold_first=True)
        live = scripted(renderer)
        live.start_catch_up()
        live.pump()
        assert renderer.holding.wait(10)  # the worker is busy with the first of them
        # One pump queues every session's work (not just the next session's): the workers keep
        # busy until the watcher's next turn, however long the sessions are.
        assert live.pool.queued() == 11
        assert live.pump_within() == live.BUSY_PUMP_EVERY
        fresh = empty_results_dir / names[2] / "live.png"
        fresh.write_bytes(png_bytes((8, 12)))
        live.image_changed(fresh)
        renderer.release.set()
        pump_until(live, lambda: live.report.rendered == 13)
        assert renderer.started[1] == "live.png"  # right after the job that was running
        assert ThumbnailCount.objects.filter(png_count=4, thumbnail_count=4).count() == 3
        assert live.pump_within() is None  # idle: the watcher waits for events again
