"""A folder renamed while the watcher runs (native events or polling), or while it is stopped,
is the same session: same UUID and metadata, one ``renamed`` event, no ``missing`` (SPEC §11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessions.models import Event, Session
from sessions.services import update_metadata
from sessions.watcher import ModeChoice
from tests.conftest import SessionWriter, load_manifest
from tests.sessions.conftest import FakeClock, ongoing_manifest, step_until

pytestmark = pytest.mark.django_db

OLD = "20251107_120000-run"
NEW = "20251107_120000-my_best_faces"


def annotated(folder: Path) -> Session:
    session = Session.objects.get(name=folder.name)
    update_metadata(session=session, changes={"is_favorite": True, "tags": ["keep"], "user_note": "the good one"})
    return session


def assert_same_session(before: Session) -> None:
    after = Session.objects.get()
    assert (after.pk, after.uuid, after.name, after.is_missing) == (before.pk, before.uuid, NEW, False)
    assert after.metadata.is_favorite and after.metadata.user_note == "the good one"
    assert list(after.metadata.tags.values_list("name", flat=True)) == ["keep"]
    assert list(Event.objects.filter(session=after).values_list("kind", flat=True)) == ["discovered", "renamed"]


@pytest.mark.parametrize("manifest", ["ongoing", "finished"])
def test_renamed_while_watched_natively(make_watcher, clock: FakeClock, empty_results_dir: Path,
                                        write_session: SessionWriter, manifest: str) -> None:
    data = ongoing_manifest() if manifest == "ongoing" else load_manifest("manifest_seed_sweep.json")
    folder = write_session(empty_results_dir, OLD, data)
    watcher = make_watcher(running=True, mode=ModeChoice("native", "test"))
    before = annotated(folder)
    folder.rename(empty_results_dir / NEW)
    step_until(watcher, clock, lambda: Session.objects.filter(name=NEW).exists())
    assert_same_session(before)
    if manifest == "ongoing":
        assert watcher.active == {NEW}  # followed under its new name


def test_renamed_while_polled(make_watcher, clock: FakeClock, empty_results_dir: Path,
                              write_session: SessionWriter) -> None:
    folder = write_session(empty_results_dir, OLD, ongoing_manifest())
    watcher = make_watcher(running=True, poll_interval=2.0)
    before = annotated(folder)
    folder.rename(empty_results_dir / NEW)
    for _ in range(3):  # a poll notices both names, then their quiet period passes
        clock.advance(2.0)
        watcher.step(wait=False)
    assert_same_session(before)
    assert watcher.active == {NEW}


def test_renamed_while_the_watcher_was_stopped(make_watcher, clock: FakeClock, empty_results_dir: Path,
                                               write_session: SessionWriter) -> None:
    folder = write_session(empty_results_dir, OLD, load_manifest("manifest_seed_sweep.json"))
    make_watcher(running=True)
    before = annotated(folder)
    folder.rename(empty_results_dir / NEW)
    make_watcher(running=True)  # the next start's catch-up sees both names at once
    assert_same_session(before)
