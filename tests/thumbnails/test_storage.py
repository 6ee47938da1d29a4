"""Where thumbnails are kept: their names, the local folder, any other Django storage, renames."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

import thumbnails.services as services
from sessions.services import sync_sessions
from thumbnails.services import catch_up_thumbnails, check_session, thumbnail_settings
from thumbnails.storage import RemoteStore, ThumbnailStore, thumbnail_name, thumbnail_store

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("source", "thumbnail"), [
    ("x.png", "x.webp"),  # as it always was (SPEC section 7)
    ("x.jpg", "x.jpg.webp"),
    ("x.jpeg", "x.jpeg.webp"),
    ("x.webp", "x.webp.webp"),
    ("x.PNG", "x.PNG.webp"),
    ("x.jpg.png", "x.jpg.png.webp"),  # not x.jpg.webp: that is x.jpg's
    ("x.png.png", "x.png.png.webp"),  # not x.png.webp: that would be x.png.png's and x.png's alike
    ("a.b.png", "a.b.webp"),
])
def test_thumbnail_names(source: str, thumbnail: str) -> None:
    assert thumbnail_name(source) == thumbnail


def test_no_two_sources_in_a_folder_share_a_thumbnail() -> None:
    stems = ["x", "x.jpg", "x.jpeg", "x.webp", "x.png", "x.PNG", "x.Jpg", "x.tar", "x.png.png"]
    sources = [stem + extension for stem in stems for extension in (".png", ".jpg", ".jpeg", ".webp", ".PNG", ".JPG")]
    names = [thumbnail_name(source) for source in sources]
    assert len(set(names)) == len(sources)


def test_the_local_folder_is_the_default(thumbnails_dir: Path) -> None:
    store = thumbnail_store(thumbnails_dir)
    assert type(store) is ThumbnailStore and store.local and store.root == thumbnails_dir


@pytest.fixture
def memory_storage(settings) -> None:
    """A storage that is neither the local folder nor S3: the storage API alone is used."""
    settings.STORAGES = {**settings.STORAGES,
                         "thumbnails": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}


def test_any_django_storage_works_through_its_api(memory_storage, library, empty_results_dir: Path,
                                                  thumbnails_dir: Path) -> None:
    [name] = library(1)
    report = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1)
    assert report.rendered == 4
    store = thumbnail_store(thumbnails_dir)
    assert isinstance(store, RemoteStore)
    assert sorted(store.listing(name)) == [f"facial_expressions_000{i}_seed-4{i + 2}.webp" for i in range(4)]
    store.storage.save(f"{name}/gone.webp", ContentFile(b"old"))  # its image is not there
    check = check_session(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, name=name,
                          render_settings=thumbnail_settings())
    assert check is not None and (check.up_to_date, check.jobs, check.stale) == (4, [], ["gone.webp"])
    assert services.remove_orphans(check, thumbnails_dir=thumbnails_dir) == 1
    assert "gone.webp" not in store.listing(name)
    assert store.move_session(name, "elsewhere") == 4
    assert store.listing(name) == {} and len(store.listing("elsewhere")) == 4


def test_a_renamed_session_takes_its_thumbnail_folder_along(library, empty_results_dir: Path, thumbnails_dir: Path,
                                                            django_capture_on_commit_callbacks) -> None:
    [name] = library(1)
    catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1)
    folder = thumbnails_dir / name
    inode = folder.stat().st_ino
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    os.rename(empty_results_dir / name, empty_results_dir / "portraits, best")
    with django_capture_on_commit_callbacks(execute=True):
        sync_sessions(results_dir=empty_results_dir)
    moved = thumbnails_dir / "portraits, best"
    assert not folder.exists() and moved.stat().st_ino == inode  # one rename, nothing rendered
    assert {path.name: path.read_bytes() for path in moved.iterdir()} == before
    check = check_session(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, name="portraits, best",
                          render_settings=thumbnail_settings())
    assert check is not None and (check.up_to_date, check.jobs) == (4, [])


def test_a_rename_onto_a_folder_already_begun_keeps_the_newer_thumbnails(thumbnails_dir: Path) -> None:
    (thumbnails_dir / "old").mkdir(parents=True)
    (thumbnails_dir / "new").mkdir()
    (thumbnails_dir / "old" / "a.webp").write_bytes(b"moved")
    (thumbnails_dir / "old" / "b.webp").write_bytes(b"older")
    (thumbnails_dir / "new" / "b.webp").write_bytes(b"made since")
    assert thumbnail_store(thumbnails_dir).move_session("old", "new") == 1
    assert not (thumbnails_dir / "old").exists()
    assert {p.name: p.read_bytes() for p in (thumbnails_dir / "new").iterdir()} == {"a.webp": b"moved",
                                                                                    "b.webp": b"made since"}


def test_a_failed_move_does_not_undo_the_rename(library, empty_results_dir: Path, thumbnails_dir: Path,
                                                django_capture_on_commit_callbacks,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    [name] = library(1)

    def broken(self, old: str, new: str) -> int:
        raise OSError("disk on fire")

    monkeypatch.setattr(ThumbnailStore, "move_session", broken)
    os.rename(empty_results_dir / name, empty_results_dir / "moved")
    with django_capture_on_commit_callbacks(execute=True):
        sync_sessions(results_dir=empty_results_dir)
    from sessions.models import Session

    assert Session.objects.filter(name="moved").exists()
