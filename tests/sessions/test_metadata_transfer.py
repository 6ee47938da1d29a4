"""exportmetadata / importmetadata: favourites, ratings, tags and notes survive a move."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from sessions.models import Session, SessionMetadata
from sessions.services import sync_sessions, update_metadata

FACIAL = "20261121_043601-facial_expressions"
RANDOM = "20261121_043627-random_test"


def annotate() -> None:
    update_metadata(session=Session.objects.get(name=FACIAL),
                    changes={"is_favorite": True, "user_rating": "like", "tags": ["portraits", "keep"],
                             "user_note": "the good one"})
    update_metadata(session=Session.objects.get(name=RANDOM), changes={"is_test": True})


def export(tmp_path: Path) -> Path:
    path = tmp_path / "metadata.json"
    call_command("exportmetadata", "--output", str(path))
    return path


def import_(path: Path) -> str:
    out = io.StringIO()
    call_command("importmetadata", str(path), stdout=out)
    return out.getvalue()


def metadata(name: str) -> dict:
    entry = SessionMetadata.objects.get(session__name=name)
    return {"is_favorite": entry.is_favorite, "user_rating": entry.user_rating, "tags": entry.tag_list,
            "user_note": entry.user_note, "is_test": entry.is_test}


@pytest.mark.django_db
def test_the_file(synced_results: Path, tmp_path: Path) -> None:
    annotate()
    document = json.loads(export(tmp_path).read_text())
    assert (document["format"], document["version"]) == ("sdgen-site-metadata", 1)
    facial = next(entry for entry in document["sessions"] if entry["session_id"] == FACIAL)
    assert facial["uuid"] == str(Session.objects.get(name=FACIAL).uuid) and len(facial["fingerprint"]) == 40
    assert (facial["tags"], facial["user_note"], facial["is_favorite"]) == (["portraits", "keep"], "the good one", True)
    assert len(document["sessions"]) == 2


@pytest.mark.django_db(transaction=True)
def test_a_new_database_gets_every_annotation_back(synced_results: Path, tmp_path: Path) -> None:
    annotate()
    path = export(tmp_path)
    call_command("flush", interactive=False, verbosity=0)  # a new database: new UUIDs
    (synced_results / RANDOM).rename(synced_results / "2026-11-21 random, renamed")  # and one folder renamed
    sync_sessions(results_dir=synced_results)
    out = import_(path)
    assert "matched 2 sessions (0 by uuid, 1 by name, 1 by fingerprint): 2 updated" in out
    assert metadata(FACIAL) == {"is_favorite": True, "user_rating": "like", "tags": ["portraits", "keep"],
                                "user_note": "the good one", "is_test": False}
    assert metadata("2026-11-21 random, renamed")["is_test"] is True
    assert "0 updated, 2 already so" in import_(path)  # again: nothing more changes


@pytest.mark.django_db
def test_changes_made_here_after_the_export_are_kept(synced_results: Path, tmp_path: Path) -> None:
    annotate()
    path = export(tmp_path)
    update_metadata(session=Session.objects.get(name=FACIAL), changes={"tags": ["newer"]})
    out = import_(path)
    assert f"kept: {FACIAL}" in out and metadata(FACIAL)["tags"] == ["newer"]


@pytest.mark.django_db
def test_nothing_is_deleted_and_strangers_are_named(synced_results: Path, tmp_path: Path) -> None:
    annotate()
    document = json.loads(export(tmp_path).read_text())
    document["sessions"].append({"session_id": "elsewhere", "uuid": None, "fingerprint": None, "tags": ["x"]})
    document["sessions"] = [entry for entry in document["sessions"] if entry["session_id"] != RANDOM]
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(document))
    out = import_(path)
    assert "not matched: elsewhere: no session with its UUID, name or fingerprint" in out
    assert metadata(RANDOM)["is_test"] is True  # not in the file: left alone


@pytest.mark.django_db
@pytest.mark.parametrize(("content", "message"), [
    ("not json", "is not JSON"),
    ('{"format": "something else"}', "not a metadata export"),
    ('{"format": "sdgen-site-metadata", "version": 9, "sessions": []}', "version 9 of the format is not known"),
    ('{"format": "sdgen-site-metadata", "version": 1, "sessions": [{"session_id": "a", "user_rating": "meh"}]}',
     "sessions[0].user_rating must be one of: like, dislike, or null"),
    ('{"format": "sdgen-site-metadata", "version": 1, "sessions": [{"session_id": "a", "uuid": "nope"}]}',
     "sessions[0].uuid is not a UUID"),
    ('{"format": "sdgen-site-metadata", "version": 1, "sessions": [{"session_id": "a", "tags": [""]}]}',
     "sessions[0].tags: a tag cannot be empty"),
])
def test_a_bad_file_is_refused_and_changes_nothing(synced_results: Path, tmp_path: Path, content: str,
                                                   message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=message.replace("[", r"\[").replace("]", r"\]")) as error:
        import_(path)
    assert error.value.returncode == 2
    assert not SessionMetadata.objects.exists()
