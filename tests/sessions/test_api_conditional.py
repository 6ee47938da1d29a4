"""ETag, Last-Modified and 304 Not Modified on the session list, a session, its stats, its
images and its metadata: a client that polls pays almost nothing while nothing changed, and
sees every change."""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django.utils.http import http_date

from sessions.lifecycle import transition_status
from sessions.models import ChangeCounter, EventSource, Session, SessionMetadata
from sessions.services import sync_sessions, update_metadata
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

FACIAL = "20261121_043601-facial_expressions"
RANDOM = "20261121_043627-random_test"
URLS = {
    "list": "/api/sessions/",
    "liked": "/api/sessions/recent/liked",
    "item": f"/api/sessions/{FACIAL}/",
    "stats": f"/api/sessions/{FACIAL}/stats",
    "images": f"/api/sessions/{FACIAL}/images/",
    "metadata": f"/api/sessions/{FACIAL}/metadata",
}


def etag_of(api, url: str) -> str:
    response = api.get(url)
    assert response.status_code == 200, response.content
    return response["ETag"]


def all_etags(api) -> dict[str, str]:
    return {kind: etag_of(api, url) for kind, url in URLS.items()}


def settle() -> None:
    """Every recorded change a minute old (a Last-Modified is sent once its second is over)."""
    earlier = timezone.now() - timedelta(minutes=1)
    ChangeCounter.objects.update(changed_at=earlier)
    Session.objects.update(updated_at=earlier)
    SessionMetadata.objects.update(updated_at=earlier)


@pytest.mark.parametrize("kind", sorted(URLS))
def test_the_etag_sent_back_is_a_304_with_no_body(api, synced_results: Path, kind: str) -> None:
    first = api.get(URLS[kind])
    assert first.status_code == 200 and first["ETag"].startswith('"')
    assert first["Cache-Control"] == "private, no-cache"
    assert {"Accept", "Authorization", "Cookie"} <= {v.strip() for v in first["Vary"].split(",")}
    again = api.get(URLS[kind], HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == first["ETag"]
    assert api.get(URLS[kind], HTTP_IF_NONE_MATCH=f'"other", W/{first["ETag"]}').status_code == 304
    assert api.get(URLS[kind], HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_a_304_costs_the_token_check_and_one_query(api, synced_results: Path, django_assert_num_queries) -> None:
    update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": True, "tags": ["a"]})
    for url in URLS.values():
        etag = etag_of(api, url)
        with django_assert_num_queries(2):  # the token with its user, the validator
            assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_every_change_shown_changes_the_validators(api, staff_api, synced_results: Path) -> None:
    before = all_etags(api)
    assert all_etags(api) == before  # nothing changed: the same validators

    shutil.copyfile(synced_results / FACIAL / "facial_expressions_0000_seed-42.png",
                    synced_results / FACIAL / "extra_0099.png")
    os.utime(synced_results / FACIAL, ns=(1, 1))  # the folder looks changed to the sync
    sync_sessions(results_dir=synced_results)
    after_sync = all_etags(api)
    assert all(after_sync[k] != before[k] for k in ["list", "item", "stats", "images"])

    response = staff_api.post(f"/api/sessions/{FACIAL}/status", {"status": "aborted", "reason": "by hand"},
                              format="json")
    assert response.status_code == 200
    after_status = all_etags(api)
    assert all(after_status[k] != after_sync[k] for k in ["list", "item", "stats", "images"])

    assert staff_api.patch(f"/api/sessions/{FACIAL}/metadata", {"tags": ["x"]}, format="json").status_code == 200
    after_tags = all_etags(api)
    assert all(after_tags[k] != after_status[k] for k in ["list", "liked", "item", "metadata"])
    assert staff_api.patch(f"/api/sessions/{FACIAL}/metadata", {"is_favorite": True}, format="json").status_code == 200
    after_favourite = all_etags(api)
    assert all(after_favourite[k] != after_tags[k] for k in ["list", "liked", "item", "metadata"])

    os.rename(synced_results / FACIAL, synced_results / "renamed")
    sync_sessions(results_dir=synced_results)
    assert etag_of(api, "/api/sessions/") != after_favourite["list"]
    assert api.get(URLS["item"], HTTP_IF_NONE_MATCH=after_favourite["item"]).status_code == 404


def test_another_session_changing_leaves_a_sessions_validators_alone(api, synced_results: Path) -> None:
    before = all_etags(api)
    transition_status(session=Session.objects.get(name=RANDOM), to_status="aborted", source=EventSource.API,
                      performer="someone", reason="test")
    after = all_etags(api)
    assert after["list"] != before["list"]
    kinds = ["item", "stats", "images", "metadata"]
    assert [after[k] for k in kinds] == [before[k] for k in kinds]


def test_the_query_the_format_and_the_user_are_in_the_etag(api, synced_results: Path) -> None:
    plain = etag_of(api, "/api/sessions/")
    assert etag_of(api, "/api/sessions/?fields=status") != plain
    assert etag_of(api, "/api/sessions/?status=completed") != plain
    assert api.get("/api/sessions/", HTTP_ACCEPT="text/html")["ETag"] != plain
    other = token_client(username="other")
    assert etag_of(other, "/api/sessions/") != plain
    assert other.get("/api/sessions/", HTTP_IF_NONE_MATCH=plain).status_code == 200


def test_if_modified_since(api, synced_results: Path) -> None:
    update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": True})
    for url in URLS.values():  # within the second of a change: no Last-Modified yet
        assert "Last-Modified" not in api.get(url)
    settle()
    for url in URLS.values():
        last_modified = api.get(url)["Last-Modified"]
        assert api.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
        assert api.get(url, HTTP_IF_MODIFIED_SINCE=http_date(0)).status_code == 200
        assert api.get(url, HTTP_IF_MODIFIED_SINCE="not a date").status_code == 200
        # If-None-Match decides when both are sent
        assert api.get(url, HTTP_IF_MODIFIED_SINCE=last_modified, HTTP_IF_NONE_MATCH='"x"').status_code == 200
    modified_since = api.get(URLS["list"])["Last-Modified"]
    update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": False})
    SessionMetadata.objects.update(updated_at=timezone.now() - timedelta(seconds=5))
    assert api.get(URLS["list"], HTTP_IF_MODIFIED_SINCE=modified_since).status_code == 200
    assert api.get(URLS["item"], HTTP_IF_MODIFIED_SINCE=modified_since).status_code == 200


def test_errors_come_before_304(api, synced_results: Path) -> None:
    etag = etag_of(api, URLS["list"])
    assert api.get("/api/sessions/?colour=red", HTTP_IF_NONE_MATCH=etag).status_code == 400
    assert api.get("/api/sessions/nope/stats", HTTP_IF_NONE_MATCH="*").status_code == 404
    anonymous = api.__class__()
    assert anonymous.get(URLS["list"], HTTP_IF_NONE_MATCH=etag).status_code == 401


def test_the_openapi_document_says_so(api) -> None:
    schema = json.loads(api.get("/api/schema/?format=json").content)
    for path in ["/api/sessions/", "/api/sessions/recent/liked", "/api/sessions/{name}/",
                 "/api/sessions/{name}/stats", "/api/sessions/{name}/images/", "/api/sessions/{name}/metadata"]:
        operation = schema["paths"][path]["get"]
        assert {"If-None-Match", "If-Modified-Since"} <= {p["name"] for p in operation["parameters"]}
        assert set(operation["responses"]["304"]["headers"]) == {"ETag", "Last-Modified"}
        assert operation["responses"]["200"]["headers"]["ETag"]["required"] is True
        assert "content" not in operation["responses"]["304"]
    assert "304" not in schema["paths"]["/api/sessions/{name}/events"]["get"]["responses"]
    assert "304" not in schema["paths"]["/api/sessions/{name}/metadata"]["patch"]["responses"]


def count_queries(api, url: str) -> tuple[dict, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return response.json(), sum("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


def test_a_list_s_total_is_counted_once_per_library_version(api, staff_api, synced_results: Path) -> None:
    first, counted = count_queries(api, "/api/sessions/?limit=1")
    assert (first["total_count"], counted) == (4, 1)
    second, counted = count_queries(api, "/api/sessions/?limit=1&offset=1")  # another page, the same rows
    assert (second["total_count"], counted) == (4, 0)
    _, counted = count_queries(api, "/api/sessions/?limit=1&status=completed")  # other rows: counted
    assert counted == 1
    assert staff_api.post(f"/api/sessions/{FACIAL}/status", {"status": "aborted", "reason": "by hand"},
                          format="json").status_code == 200
    after, counted = count_queries(api, "/api/sessions/?limit=1&status=completed")  # the library changed
    assert (after["total_count"], counted) == (3, 1)
    assert staff_api.patch(f"/api/sessions/{RANDOM}/metadata", {"is_favorite": True}, format="json").status_code == 200
    liked, counted = count_queries(api, "/api/sessions/?limit=1&liked=true")
    assert (liked["total_count"], counted) == (1, 1)
    assert staff_api.patch(f"/api/sessions/{RANDOM}/metadata", {"is_favorite": False}, format="json").status_code == 200
    assert count_queries(api, "/api/sessions/?limit=1&liked=true")[0]["total_count"] == 0


def test_without_a_change_counter_every_total_is_counted(api, synced_results: Path) -> None:
    # A library whose sessions predate the change counter has no version to trust yet.
    ChangeCounter.objects.all().delete()
    assert count_queries(api, "/api/sessions/?limit=1")[1] == 1
    assert count_queries(api, "/api/sessions/?limit=1&offset=1")[1] == 1


def test_kept_answers_are_what_a_fresh_build_gives_after_every_change(api, staff_api, synced_results: Path) -> None:
    """A session, its images and its metadata are kept under their ETag (Validator.keep): each
    answer, kept or not, is the one built afresh."""
    from django.core.cache import caches

    def answers() -> dict[str, bytes]:
        return {kind: api.get(URLS[kind]).content for kind in ("item", "images", "metadata")}

    def check() -> dict[str, bytes]:
        asked = answers()
        assert answers() == asked  # asked again: the kept answers
        caches["answers"].clear()
        assert answers() == asked  # built afresh
        return asked

    before = check()
    shutil.copyfile(synced_results / FACIAL / "facial_expressions_0000_seed-42.png",
                    synced_results / FACIAL / "extra_0099.png")
    os.utime(synced_results / FACIAL, ns=(1, 1))
    sync_sessions(results_dir=synced_results)
    after_sync = check()
    assert b"extra_0099.png" in after_sync["images"] and after_sync != before
    assert staff_api.post(f"/api/sessions/{FACIAL}/status", {"status": "aborted", "reason": "by hand"},
                          format="json").status_code == 200
    assert json.loads(check()["item"])["status"] == "aborted"
    assert staff_api.patch(f"/api/sessions/{FACIAL}/metadata", {"tags": ["kept"]}, format="json").status_code == 200
    assert json.loads(check()["item"])["metadata"]["tags"] == ["kept"]
