"""GET and PATCH /api/sessions/{name}/metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessions.models import Session, SessionMetadata, SessionTag
from sessions.services import sync_sessions

pytestmark = pytest.mark.django_db

NAME = "20261121_043621-seed_sweep_test"
URL = f"/api/sessions/{NAME}/metadata"
KEYS = ["session_id", "is_test", "is_complete", "is_favorite", "user_rating", "user_note", "tags", "created_at",
        "updated_at"]


def patch(editor_api, body):
    return editor_api.patch(URL, body, format="json")


def test_defaults_before_anything_is_set(editor_api, synced_results: Path) -> None:
    body = editor_api.get(URL).json()
    assert list(body) == KEYS
    assert body == {"session_id": NAME, "is_test": False, "is_complete": False, "is_favorite": False,
                    "user_rating": None, "user_note": "", "tags": [], "created_at": None, "updated_at": None}
    assert not SessionMetadata.objects.exists()
    assert editor_api.get(f"/api/sessions/{NAME}/").json()["metadata"] is None


def test_patch_creates_on_first_use_and_changes_only_given_fields(editor_api, synced_results: Path) -> None:
    first = patch(editor_api, {"is_favorite": True, "tags": ["portraits"]})
    assert first.status_code == 200
    body = first.json()
    assert (body["is_favorite"], body["tags"], body["is_test"]) == (True, ["portraits"], False)
    assert body["created_at"] and body["updated_at"]
    second = patch(editor_api, {"user_note": "good seeds", "user_rating": "like"}).json()
    assert (second["is_favorite"], second["tags"], second["user_note"], second["user_rating"]) == (
        True, ["portraits"], "good seeds", "like")
    assert second["created_at"] == body["created_at"] and second["updated_at"] >= body["updated_at"]
    assert editor_api.get(f"/api/sessions/{NAME}/").json()["metadata"] == second
    assert patch(editor_api, {"user_rating": None}).json()["user_rating"] is None


def test_tags_replace_the_list_trimmed_without_duplicates_in_order(editor_api, synced_results: Path) -> None:
    patch(editor_api, {"tags": ["a", "b", "c"]})
    body = patch(editor_api, {"tags": ["  zeta ", "alpha", "Zeta", "alpha", "beta"]}).json()
    assert body["tags"] == ["zeta", "alpha", "beta"]
    assert list(SessionTag.objects.order_by("position").values_list("name", flat=True)) == ["zeta", "alpha", "beta"]
    assert patch(editor_api, {"tags": []}).json()["tags"] == []
    assert patch(editor_api, {"is_test": True}).json()["tags"] == []


def test_an_empty_patch_creates_the_defaults(editor_api, synced_results: Path) -> None:
    body = patch(editor_api, {}).json()
    assert body["created_at"] is not None and body["is_favorite"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": ["x"] * 51}, "tags"),
        ({"tags": ["x" * 65]}, "tags"),
        ({"tags": ["   "]}, "tags"),
        ({"tags": "portraits"}, "tags"),
        ({"tags": [1, 2]}, None),  # numbers become text, as DRF does
        ({"user_note": "x" * 10_001}, "user_note"),
        ({"user_rating": "love"}, "user_rating"),
        ({"is_favorite": "sometimes"}, "is_favorite"),
        ({"favourite": True}, "favourite"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"session_id": "other"}, "session_id"),
    ],
)
def test_bad_values_are_400_and_change_nothing(editor_api, synced_results: Path, body: dict, field: str | None) -> None:
    patch(editor_api, {"user_note": "kept"})
    response = patch(editor_api, body)
    if field is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert editor_api.get(URL).json()["user_note"] == "kept"


def test_limits_themselves_are_fine(editor_api, synced_results: Path) -> None:
    body = patch(editor_api, {"tags": [f"t{n}" for n in range(50)], "user_note": "n" * 10_000}).json()
    assert len(body["tags"]) == 50 and len(body["user_note"]) == 10_000
    assert patch(editor_api, {"tags": ["x" * 64]}).status_code == 200


def test_a_body_that_is_not_an_object(editor_api, synced_results: Path) -> None:
    assert editor_api.patch(URL, [1, 2], format="json").status_code == 400
    assert editor_api.patch(URL, "not json", content_type="application/json").status_code == 400


def test_metadata_survives_a_rebuild_and_a_missing_folder(editor_api, synced_results: Path, tmp_path: Path) -> None:
    patch(editor_api, {"is_favorite": True, "tags": ["keep"]})
    sync_sessions(results_dir=synced_results, rebuild=True)
    (synced_results / NAME).rename(tmp_path / "away")
    sync_sessions(results_dir=synced_results)
    body = editor_api.get(f"/api/sessions/{NAME}/").json()
    assert body["is_missing"] is True
    assert (body["metadata"]["is_favorite"], body["metadata"]["tags"]) == (True, ["keep"])


def test_unknown_sessions_are_404(editor_api, synced_results: Path) -> None:
    assert editor_api.get("/api/sessions/nope/metadata").status_code == 404
    assert editor_api.patch("/api/sessions/nope/metadata", {"is_test": True}, format="json").status_code == 404


@pytest.mark.parametrize("tags", [["b", "a", "c"], ["one"], []])
def test_reading_it_costs_three_queries_and_matches_what_the_item_shows(
        editor_api, synced_results: Path, django_assert_num_queries, tags: list[str]) -> None:
    patch(editor_api, {"is_favorite": True, "tags": tags, "user_note": "keep"})
    # the token with its user, the session's version, the metadata with its tags
    with django_assert_num_queries(3):
        body = editor_api.get(URL).json()
    with django_assert_num_queries(2):  # asked again: the answer kept under the same version
        assert editor_api.get(URL).json() == body
    assert body == editor_api.get(f"/api/sessions/{NAME}/").json()["metadata"]
    assert (body["tags"], body["user_note"], body["is_favorite"]) == (tags, "keep", True)


def test_never_set_it_reads_as_the_defaults(editor_api, synced_results: Path, django_assert_num_queries) -> None:
    with django_assert_num_queries(3):
        body = editor_api.get(URL).json()
    assert body == {"session_id": NAME, "is_test": False, "is_complete": False, "is_favorite": False,
                    "user_rating": None, "user_note": "", "tags": [], "created_at": None, "updated_at": None}


def test_a_forgotten_or_unknown_session_has_none(editor_api, synced_results: Path) -> None:
    Session.objects.filter(name=NAME).update(forgotten_at="2026-01-01T00:00:00Z")
    assert editor_api.get(URL).status_code == 404
    assert editor_api.get("/api/sessions/nope/metadata").status_code == 404
