"""Fixtures for the sessions tests: the manifests a sync reads; for the watcher's, an injected
clock and watchers on an empty results root."""

from __future__ import annotations

import queue
import time
from pathlib import Path

import pytest

import sessions.reading as reading
from sessions.watcher import ModeChoice, Watcher
from tests.conftest import load_manifest


@pytest.fixture
def manifest_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every manifest the sync reads."""
    reads: list[Path] = []
    original = reading.read_manifest_file

    def counting(path: Path):
        reads.append(path)
        return original(path)

    monkeypatch.setattr(reading, "read_manifest_file", counting)
    return reads


class FakeClock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_watcher(empty_results_dir: Path, clock: FakeClock):
    created: list[Watcher] = []

    def make(*, running: bool = False, **options) -> Watcher:
        """A watcher on the empty results dir; ``running``: caught up and started."""
        options.setdefault("mode", ModeChoice("polling", "test"))
        options.setdefault("poll_interval", 2.0)
        watcher = Watcher(results_dir=empty_results_dir, monotonic=clock, **options)
        created.append(watcher)
        if running:
            watcher.catch_up()
            watcher.start()
        return watcher

    yield make
    for watcher in created:
        if watcher.native is not None:
            watcher.native.stop()


def ongoing_manifest(images: int = 2, total: int = 4) -> dict:
    data = load_manifest("manifest_legacy_cli_combinatorial.json")
    data["images"] = data["images"][:images]
    data["snapshot"]["generation_params"]["num_images"] = total
    data["status"] = "ongoing"
    return data




def take_events_until(paths: queue.SimpleQueue, path: Path, *, timeout: float = 10.0) -> list[str]:
    """Take queued events until one about ``path`` arrives, within ``timeout`` seconds in all
    (other events may keep coming); returns the source paths taken, in order."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while str(path) not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no event about {path} within {timeout}s"
        seen.append(paths.get(timeout=left)[0])
    return seen


def step_until(watcher: Watcher, clock: FakeClock, predicate, *, timeout: float = 10.0) -> None:
    """Step the watcher (each step waits for the next event) until ``predicate()``, with a deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        watcher.step(wait=True)
        clock.advance(0.2)  # lets the debounced syncs fall due
