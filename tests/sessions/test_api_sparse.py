"""fields=: the session list, a session and the images lists answer only the fields asked for."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from sessions.models import Session
from sessions.services import update_metadata
from tests.conftest import create_session

pytestmark = pytest.mark.django_db

FACIAL = "20261121_043601-facial_expressions"
FEW = "session_id,status,images_actual,thumbnail_url"


def ok(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


class TestSessions:
    def test_the_list_answers_only_the_fields_asked_for_in_the_items_order(self, api, synced_results: Path) -> None:
        body = ok(api.get("/api/sessions/?fields=thumbnail_url,status,session_id,images_actual"))
        assert list(body) == ["sessions", "total_count", "limit", "offset", "next", "previous"]
        full = ok(api.get("/api/sessions/"))["sessions"]
        assert body["sessions"] == [{key: item[key] for key in ["session_id", "status", "images_actual",
                                                                "thumbnail_url"]} for item in full]

    def test_each_field_alone_is_what_the_full_item_says(self, api, synced_results: Path) -> None:
        session = Session.objects.get(name=FACIAL)
        update_metadata(session=session, changes={"is_favorite": True, "tags": ["keep"]})
        full = ok(api.get(f"/api/sessions/{FACIAL}/"))
        for key in full:
            assert ok(api.get(f"/api/sessions/{FACIAL}/?fields={key}")) == {key: full[key]}

    def test_repeats_and_spaces_are_one_field(self, api, synced_results: Path) -> None:
        assert list(ok(api.get(f"/api/sessions/{FACIAL}/?fields=status, status&fields=uuid"))) == ["uuid", "status"]

    def test_recent_liked_takes_fields_too(self, api, synced_results: Path) -> None:
        update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": True})
        assert ok(api.get("/api/sessions/recent/liked?fields=metadata"))["sessions"][0]["metadata"]["is_favorite"]

    @pytest.mark.parametrize("url", ["/api/sessions/", f"/api/sessions/{FACIAL}/", "/api/sessions/recent/liked"])
    def test_an_unknown_field_is_a_400_that_names_it_and_the_allowed_ones(self, api, synced_results: Path,
                                                                          url: str) -> None:
        response = api.get(f"{url}?fields=status,colour")
        assert response.status_code == 400
        message = response.json()["fields"][0]
        assert "'colour'" in message and "session_id, uuid, session_path" in message and "'status'" not in message

    @pytest.mark.parametrize("query", ["fields=", "fields=status,", "fields=,"])
    def test_an_empty_field_list_or_name_is_a_400(self, api, synced_results: Path, query: str) -> None:
        response = api.get(f"/api/sessions/?{query}")
        assert response.status_code == 400 and list(response.json()) == ["fields"]

    def test_without_metadata_no_tags_are_read_and_without_stats_none_are_joined(
            self, api, synced_results: Path, django_assert_num_queries) -> None:
        for session in Session.objects.all():
            update_metadata(session=session, changes={"tags": ["a"]})
        # the token with its user, the validator, count, the sessions (all on one page, with
        # stats and metadata), their tags
        with django_assert_num_queries(5):
            ok(api.get("/api/sessions/"))
        with django_assert_num_queries(4) as captured:
            ok(api.get(f"/api/sessions/?fields={FEW}"))
        details = captured.captured_queries[-1]["sql"]
        assert "stats" not in details and "metadata" not in details


def test_a_page_of_100_sessions_with_a_few_fields_stays_small(api, settings, tmp_path: Path) -> None:
    settings.SDGEN_RESULTS_DIR = tmp_path
    now = timezone.now()
    for n in range(100):  # names as long as the real generator's (the reference fixtures)
        create_session(f"20261121_{n:06d}-facial_expressions", status="completed",
                       created_at=now - timedelta(minutes=n), images_actual=250, images_expected=250,
                       completion_percentage=100.0, cover_image=f"facial_expressions_0000_seed-{n:04d}.png")
    response = api.get(f"/api/sessions/?fields={FEW}")
    body = ok(response)
    assert len(body["sessions"]) == 100 and all(item["thumbnail_url"] for item in body["sessions"])
    assert len(response.content) < 25_000
    assert len(api.get("/api/sessions/").content) > len(response.content)


class TestImages:
    def test_a_sessions_images_answer_only_the_fields_asked_for(self, api, synced_results: Path) -> None:
        full = ok(api.get(f"/api/sessions/{FACIAL}/images/"))["images"]
        sparse = ok(api.get(f"/api/sessions/{FACIAL}/images/?fields=url,filename,params"))["images"]
        assert sparse == [{"filename": i["filename"], "params": i["params"], "url": i["url"]} for i in full]

    def test_library_images_answer_only_the_fields_asked_for(self, api, synced_results: Path) -> None:
        full = ok(api.get("/api/images/"))["images"]
        for key in full[0]:
            assert ok(api.get(f"/api/images/?fields={key}"))["images"] == [{key: i[key]} for i in full]

    def test_library_images_without_params_join_no_stats(self, api, synced_results: Path,
                                                         django_assert_num_queries) -> None:
        # the token with its user, any forgotten sessions, count, the images (all on one page)
        with django_assert_num_queries(4) as captured:
            ok(api.get("/api/images/?fields=session_id,url"))
        assert "stats" not in captured.captured_queries[-1]["sql"]

    def test_an_item_of_the_session_s_own_columns_is_one_look_up(self, api, synced_results: Path,
                                                                   django_assert_num_queries) -> None:
        # the token with its user, the session's version, the session
        with django_assert_num_queries(3):
            assert ok(api.get(f"/api/sessions/{FACIAL}/?fields=images_actual")) == {"images_actual": 4}
        # asked again: the token with its user, the session's version (the answer is kept)
        with django_assert_num_queries(2):
            assert ok(api.get(f"/api/sessions/{FACIAL}/?fields=images_actual")) == {"images_actual": 4}

    @pytest.mark.parametrize("url", [f"/api/sessions/{FACIAL}/images/", "/api/images/"])
    def test_an_unknown_field_is_a_400(self, api, synced_results: Path, url: str) -> None:
        response = api.get(f"{url}?fields=metadata")
        assert response.status_code == 400 and "'metadata'" in response.json()["fields"][0]
        assert "applied_variations" in response.json()["fields"][0]


def test_the_openapi_document_offers_the_item_fields_as_an_array(api) -> None:
    schema = json.loads(api.get("/api/schema/?format=json").content)
    for path, fields in [("/api/sessions/", "stats"), ("/api/sessions/{name}/", "metadata"),
                         ("/api/sessions/{name}/images/", "params"), ("/api/images/", "url")]:
        parameter = next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "fields")
        assert parameter["schema"]["type"] == "array" and parameter["explode"] is False
        assert fields in parameter["schema"]["items"]["enum"]
    assert "required" not in schema["components"]["schemas"]["Session"]
    assert "required" not in schema["components"]["schemas"]["Image"]
