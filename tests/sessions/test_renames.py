"""Renamed, moved, copied and swapped session folders keep their session (SPEC section 11)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from sessions.models import Event, Session
from sessions.search import search_sessions
from sessions.services import sync_sessions, update_metadata

pytestmark = pytest.mark.django_db

FACIAL = "20261121_043601-facial_expressions"
RANDOM = "20261121_043627-random_test"


def kinds(session: Session) -> list[tuple[str, str]]:
    return [(event.kind, event.reason) for event in Event.objects.filter(session=session)]


@pytest.fixture
def library(synced_results: Path) -> Path:
    update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": True, "tags": ["keep"]})
    return synced_results


def test_a_renamed_folder_is_the_same_session(library: Path) -> None:
    before = Session.objects.get(name=FACIAL)
    os.rename(library / FACIAL, library / "portraits, best")
    report = sync_sessions(results_dir=library)
    assert (report.renamed, report.created, report.missing) == (1, 0, 0)
    after = Session.objects.get(name="portraits, best")
    assert (after.pk, after.uuid, after.is_missing) == (before.pk, before.uuid, False)
    assert after.metadata.is_favorite and after.metadata.tag_list == ["keep"]
    assert kinds(after) == [("discovered", ""), ("renamed", f"from {FACIAL}")]
    assert not Session.objects.filter(name=FACIAL).exists()
    assert set(search_sessions(Session.objects.all(), "portraits best").values_list("name", flat=True)) == {
        "portraits, best"}
    assert not search_sessions(Session.objects.all(), "facial expressions 043601").exists()


def test_a_sync_of_both_names_finds_it_too(library: Path) -> None:
    """What the watcher does when it sees a folder move: it syncs the old and the new name."""
    os.rename(library / FACIAL, library / "moved")
    report = sync_sessions(results_dir=library, names=[FACIAL, "moved"])
    assert report.renamed == 1 and Session.objects.get(name="moved").metadata.is_favorite


def test_a_name_a_missing_session_had_before(library: Path, tmp_path: Path) -> None:
    shutil.move(library / RANDOM, tmp_path / RANDOM)  # gone for good
    sync_sessions(results_dir=library)
    gone = Session.objects.get(name=RANDOM)
    os.rename(library / FACIAL, library / RANDOM)  # the facial run takes its name
    sync_sessions(results_dir=library)
    facial = Session.objects.get(name=RANDOM)
    assert facial.metadata.tag_list == ["keep"] and not facial.is_missing
    gone.refresh_from_db()
    assert gone.is_missing and gone.name == f"{RANDOM} (replaced {gone.uuid.hex[:8]})"
    assert kinds(gone)[-1] == ("renamed", f"from {RANDOM}")


def test_a_copy_then_delete_keeps_the_session(library: Path) -> None:
    shutil.copytree(library / FACIAL, library / "copied elsewhere", copy_function=shutil.copyfile)
    shutil.rmtree(library / FACIAL)
    report = sync_sessions(results_dir=library)
    assert (report.renamed, report.created, report.missing) == (1, 0, 0)
    assert Session.objects.get(name="copied elsewhere").metadata.is_favorite
    assert kinds(Session.objects.get(name="copied elsewhere"))[-1] == ("renamed", f"from {FACIAL}")


def test_a_copy_while_the_original_stays_is_a_new_session(library: Path) -> None:
    shutil.copytree(library / FACIAL, library / "a copy", copy_function=shutil.copyfile)
    report = sync_sessions(results_dir=library)
    assert (report.renamed, report.created) == (0, 1)
    assert Session.objects.get(name=FACIAL).metadata.is_favorite


def test_two_folders_swapped(library: Path) -> None:
    facial, random = Session.objects.get(name=FACIAL), Session.objects.get(name=RANDOM)
    os.rename(library / FACIAL, library / "swap")
    os.rename(library / RANDOM, library / FACIAL)
    os.rename(library / "swap", library / RANDOM)
    report = sync_sessions(results_dir=library)
    assert report.renamed == 2 and report.missing == 0 and report.created == 0
    assert Session.objects.get(name=RANDOM).pk == facial.pk
    assert Session.objects.get(name=FACIAL).pk == random.pk
    assert Session.objects.get(name=RANDOM).metadata.tag_list == ["keep"]
    assert Session.objects.get(name=RANDOM).images_actual == 4  # its own images, read again


def test_a_folder_that_just_vanished_is_missing_not_renamed(library: Path, tmp_path: Path) -> None:
    shutil.move(library / FACIAL, tmp_path / FACIAL)
    report = sync_sessions(results_dir=library)
    assert (report.renamed, report.missing) == (0, 1)


def test_a_new_folder_in_a_deleted_ones_inode_is_a_new_session(library: Path, tmp_path: Path) -> None:
    """File systems reuse a deleted folder's inode number for the next folder made."""
    shutil.rmtree(library / FACIAL)
    new = library / "20261125_090000-another_run"
    shutil.copytree(library / RANDOM, new, copy_function=shutil.copyfile)
    manifest = (new / "manifest.json").read_text().replace("2026-11-21T04:36:27", "2026-11-25T09:00:00")
    (new / "manifest.json").write_text(manifest)
    os.utime(new, ns=(1, 1))
    seen = new.stat()
    Session.objects.filter(name=FACIAL).update(folder_device=seen.st_dev, folder_inode=seen.st_ino)
    report = sync_sessions(results_dir=library)
    assert (report.renamed, report.created, report.missing) == (0, 1, 1)
    assert Session.objects.get(name=FACIAL).is_missing
    assert not hasattr(Session.objects.get(name=new.name), "metadata")


def test_a_run_renamed_while_it_writes_is_the_same_session(library: Path) -> None:
    """Same folder object, changed since (another image, the manifest rewritten): its manifest's
    run start says it is the same run."""
    os.rename(library / FACIAL, library / "renamed mid-run")
    manifest = library / "renamed mid-run" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"status": "completed"', '"status": "ongoing"'))
    os.utime(library / "renamed mid-run", ns=(1, 1))
    report = sync_sessions(results_dir=library)
    assert (report.renamed, report.created, report.missing) == (1, 0, 0)
    assert Session.objects.get(name="renamed mid-run").metadata.is_favorite
