"""GET /api/sessions/, /api/sessions/{name}/ and /api/sessions/recent/liked."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone as dj_timezone

from sessions.models import Session, SessionStats
from sessions.services import sync_sessions, update_metadata
from tests.conftest import REAL_SESSION_NAMES, SessionWriter, load_manifest

pytestmark = pytest.mark.django_db

FACIAL = "20261121_043601-facial_expressions"
ORCHESTRATOR = "20261121_043614-facial_expressions"
SWEEP = "20261121_043621-seed_sweep_test"
RANDOM = "20261121_043627-random_test"
ITEM_KEYS = ["session_id", "uuid", "session_path", "created_at", "status", "has_manifest", "is_missing", "sync_error",
             "images_actual", "images_expected", "completion_percentage", "thumbnail_url", "stats", "metadata"]


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["session_id"] for item in response.json()["sessions"]]


class TestList:
    def test_envelope_and_item_shape(self, api, synced_results: Path) -> None:
        body = api.get("/api/sessions/").json()
        assert list(body) == ["sessions", "total_count", "limit", "offset", "next", "previous"]
        assert (body["total_count"], body["limit"], body["offset"], body["next"], body["previous"]) == (4, 100, 0, None,
                                                                                                       None)
        item = body["sessions"][0]
        assert list(item) == ITEM_KEYS
        session = Session.objects.get(name=RANDOM)
        assert item["session_id"] == item["session_path"] == RANDOM
        assert item["uuid"] == str(session.uuid)
        assert item["created_at"] == "2026-11-21T04:36:27Z"
        assert item["thumbnail_url"] == f"/api/sessions/{RANDOM}/images/random_test_0000.png?thumbnail=1"
        assert item["stats"]["sd_model"] == "v1-5-pruned-emaonly.safetensors [6ce0161689]"
        assert item["stats"]["images_actual"] == 2 and item["stats"]["session_created_at"] == item["created_at"]
        assert item["metadata"] is None

    def test_newest_first_by_default(self, api, synced_results: Path) -> None:
        assert names(api.get("/api/sessions/")) == sorted(REAL_SESSION_NAMES, reverse=True)

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("ordering=created_at", [FACIAL, ORCHESTRATOR, SWEEP, RANDOM]),
            ("ordering=-created_at", [RANDOM, SWEEP, ORCHESTRATOR, FACIAL]),
            ("ordering=-images_actual", [SWEEP, FACIAL, RANDOM, ORCHESTRATOR]),
            ("ordering=images_actual", [ORCHESTRATOR, RANDOM, FACIAL, SWEEP]),
            ("ordering=-completion_percentage", [SWEEP, RANDOM, FACIAL, ORCHESTRATOR]),
            ("ordering=completion_percentage", [ORCHESTRATOR, FACIAL, RANDOM, SWEEP]),
            ("ordering=-updated_at", [ORCHESTRATOR, FACIAL, SWEEP, RANDOM]),
            ("ordering=updated_at", [RANDOM, SWEEP, FACIAL, ORCHESTRATOR]),
        ],
    )
    def test_ordering(self, api, synced_results: Path, query: str, expected: list[str]) -> None:
        # Distinct values everywhere, so that the order is the ordering's alone.
        for name, images, completion, day in [(FACIAL, 3, 50.0, 3), (ORCHESTRATOR, 1, 10.0, 4), (SWEEP, 4, 100.0, 2),
                                              (RANDOM, 2, 75.0, 1)]:
            Session.objects.filter(name=name).update(images_actual=images, completion_percentage=completion,
                                                     updated_at=datetime(2026, 1, day, tzinfo=timezone.utc))
        assert names(api.get(f"/api/sessions/?{query}")) == expected

    def test_sessions_without_a_value_sort_last(self, api, synced_results: Path, write_session: SessionWriter) -> None:
        write_session(synced_results, "zz loose", None, images=["a.png"])
        sync_sessions(results_dir=synced_results)
        assert names(api.get("/api/sessions/?ordering=completion_percentage"))[-1] == "zz loose"
        assert names(api.get("/api/sessions/?ordering=-completion_percentage"))[-1] == "zz loose"


class TestFilters:
    @pytest.fixture
    def annotated(self, synced_results: Path) -> None:
        update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": True, "tags": ["faces"]})
        update_metadata(session=Session.objects.get(name=SWEEP), changes={"is_test": True, "is_favorite": True})
        update_metadata(session=Session.objects.get(name=RANDOM), changes={"is_favorite": False, "tags": ["Faces"]})
        Session.objects.filter(name=ORCHESTRATOR).update(completion_percentage=50.0)
        SessionStats.objects.filter(session__name=ORCHESTRATOR).update(sd_model="sdxl_base_1.0.safetensors")
        Session.objects.filter(name=RANDOM).update(status="aborted")

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("liked=true", {FACIAL, SWEEP}),
            ("liked=1", {FACIAL, SWEEP}),
            ("liked=false", {ORCHESTRATOR, RANDOM}),
            ("liked=0", {ORCHESTRATOR, RANDOM}),
            ("test=true", {SWEEP}),
            ("test=false", {FACIAL, ORCHESTRATOR, RANDOM}),
            ("complete=true", {FACIAL, SWEEP, RANDOM}),
            ("complete=false", {ORCHESTRATOR}),
            ("seed_sweep=true", {SWEEP}),
            ("seed_sweep=false", {FACIAL, ORCHESTRATOR, RANDOM}),
            ("model=V1-5-PRUNED", {FACIAL, SWEEP, RANDOM}),
            ("model=sdxl", {ORCHESTRATOR}),
            ("status=aborted", {RANDOM}),
            ("status=completed", {FACIAL, ORCHESTRATOR, SWEEP}),
            ("status=ongoing", set()),
            ("tag=faces", {FACIAL, RANDOM}),
            ("tag=nothing", set()),
            ("q=seed_sweep", {SWEEP}),
            ("q=FACIAL_expressions", {FACIAL, ORCHESTRATOR}),
            ("q=facialexpression", set()),  # only in the prompt template, which search leaves out
            ("q={Angle}", set()),
            ("from_date=2026-11-21T04:36:14Z", {ORCHESTRATOR, SWEEP, RANDOM}),
            ("from_date=2026-11-21T04:36:14", {ORCHESTRATOR, SWEEP, RANDOM}),
            ("to_date=2026-11-21T04:36:14Z", {FACIAL, ORCHESTRATOR}),
            ("from_date=2026-11-21", {FACIAL, ORCHESTRATOR, SWEEP, RANDOM}),
            ("to_date=2026-11-20", set()),
            ("to_date=2026-11-21", {FACIAL, ORCHESTRATOR, SWEEP, RANDOM}),
            ("liked=true&test=false", {FACIAL}),
            ("liked=true&model=v1-5&complete=true", {FACIAL, SWEEP}),
            ("tag=faces&liked=false&status=aborted", {RANDOM}),
            ("from_date=2026-11-21T04:36:10Z&to_date=2026-11-21T04:36:25Z&seed_sweep=false", {ORCHESTRATOR}),
        ],
    )
    def test_filters_alone_and_combined(self, api, annotated: None, query: str, expected: set[str]) -> None:
        response = api.get(f"/api/sessions/?{query}")
        assert set(names(response)) == expected
        assert response.json()["total_count"] == len(expected)

    def test_the_complete_threshold_is_a_setting(self, api, annotated: None, settings) -> None:
        settings.SDGEN_COMPLETE_THRESHOLD = 50
        assert ORCHESTRATOR in names(api.get("/api/sessions/?complete=true"))

    @pytest.mark.parametrize("query", ["q=", "q=%20", "model=", "tag="])
    def test_an_empty_text_filter_is_no_filter(self, api, synced_results: Path, query: str) -> None:
        response = api.get(f"/api/sessions/?{query}")
        assert response.status_code == 200 and set(names(response)) == set(REAL_SESSION_NAMES)

    def test_dates_in_the_configured_zone(self, api, annotated: None, settings) -> None:
        settings.SDGEN_TIME_ZONE = "America/New_York"  # 2026-11-21 04:36 UTC is still the 20th there
        assert set(names(api.get("/api/sessions/?to_date=2026-11-20"))) == set(REAL_SESSION_NAMES)

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("liked=yes", "liked"),
            ("test=2", "test"),
            ("complete=", "complete"),
            ("status=", "status"),
            ("from_date=", "from_date"),
            ("ordering=", "ordering"),
            ("ordering=created_at,created_at", "ordering"),
            ("ordering=created_at,-created_at", "ordering"),
            ("ordering=created_at,images_actual", "ordering"),
            ("seed_sweep=TRUEISH", "seed_sweep"),
            ("from_date=yesterday", "from_date"),
            ("to_date=2026-13-01", "to_date"),
            ("from_date=2026-11-21T25:00:00", "from_date"),
            ("status=paused", "status"),
            ("ordering=name", "ordering"),
            ("limit=abc", "limit"),
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=-1", "limit"),
            ("offset=-1", "offset"),
            ("offset=1.5", "offset"),
            ("sort=created_at", "sort"),
            ("liked=true&favourite=true", "favourite"),
        ],
    )
    def test_malformed_and_unknown_parameters_are_400(self, api, synced_results: Path, query: str,
                                                     field: str) -> None:
        response = api.get(f"/api/sessions/?{query}")
        assert response.status_code == 400, response.content
        assert field in response.json()


class TestPagination:
    @pytest.fixture
    def many(self, empty_results_dir: Path, write_session: SessionWriter, settings) -> list[str]:
        settings.SDGEN_RESULTS_DIR = empty_results_dir
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        created = [f"202501{day:02d}_1200{minute:02d}-run" for day in range(1, 29) for minute in range(0, 20)]
        for name in created[:510]:
            write_session(empty_results_dir, name, manifest, images=[])
        sync_sessions(results_dir=empty_results_dir)
        return sorted(created[:510], reverse=True)

    def test_pages_and_links(self, api, many: list[str]) -> None:
        first = api.get("/api/sessions/?limit=200").json()
        assert [s["session_id"] for s in first["sessions"]] == many[:200]
        assert first["total_count"] == 510
        assert first["next"].endswith("/api/sessions/?limit=200&offset=200") and first["previous"] is None
        last = api.get("/api/sessions/?limit=200&offset=400").json()
        assert [s["session_id"] for s in last["sessions"]] == many[400:]
        assert last["next"] is None and last["previous"].endswith("limit=200&offset=200")

    def test_limit_500_is_the_most(self, api, many: list[str]) -> None:
        body = api.get("/api/sessions/?limit=500").json()
        assert len(body["sessions"]) == 500 and body["limit"] == 500
        response = api.get("/api/sessions/?limit=501")
        assert response.status_code == 400
        assert response.json() == {"limit": ["501 is out of range: it must be between 1 and 500."]}

    def test_offset_past_the_end(self, api, many: list[str]) -> None:
        body = api.get("/api/sessions/?offset=10000").json()
        assert body["sessions"] == [] and body["total_count"] == 510 and body["next"] is None

    def test_filters_and_pages_together(self, api, many: list[str]) -> None:
        body = api.get("/api/sessions/?from_date=2025-01-28&limit=5&offset=5&ordering=created_at").json()
        assert body["total_count"] == 0  # only 510 of the 560 names were written: days up to the 26th
        body = api.get("/api/sessions/?from_date=2025-01-26&limit=5&offset=5&ordering=created_at").json()
        assert body["total_count"] == 10
        assert [s["session_id"] for s in body["sessions"]] == sorted(many[:10])[5:]


class TestQueryCount:
    def test_the_list_costs_the_same_queries_whatever_the_page_size(
        self, api, empty_results_dir: Path, write_session: SessionWriter, settings,
        django_assert_num_queries,
    ) -> None:
        settings.SDGEN_RESULTS_DIR = empty_results_dir
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        for n in range(30):
            write_session(empty_results_dir, f"202502{n + 1:02d}_120000-run", manifest)
        sync_sessions(results_dir=empty_results_dir)
        for session in Session.objects.all()[:20]:
            update_metadata(session=session, changes={"is_favorite": True, "tags": ["a", "b", "c"]})
        # the token with its user, the validator (ETag), count, the page's ids, their sessions
        # with stats and metadata, their tags
        def page_size(url: str, queries: int) -> int:
            cache.clear()  # each counted afresh (a total counted at this library version is kept)
            with django_assert_num_queries(queries):
                return len(api.get(url).json()["sessions"])

        assert page_size("/api/sessions/?limit=1", 6) == 1
        assert page_size("/api/sessions/?limit=29", 6) == 29
        assert page_size("/api/sessions/?liked=true&tag=a&limit=19", 6) == 19
        assert page_size("/api/sessions/recent/liked?limit=10", 6) == 10
        # all of them on one page: no page of ids to pick first
        assert page_size("/api/sessions/?limit=30", 5) == 30
        assert page_size("/api/sessions/?liked=true&tag=a&limit=30", 5) == 20
        with django_assert_num_queries(5):  # another page of the same rows: its total is known
            assert len(api.get("/api/sessions/?liked=true&tag=a&limit=19&offset=1").json()["sessions"]) == 19


class TestDetail:
    def test_one_session(self, api, synced_results: Path) -> None:
        body = api.get(f"/api/sessions/{SWEEP}/").json()
        assert list(body) == ITEM_KEYS and body["session_id"] == SWEEP and body["stats"]["is_seed_sweep"] is True

    def test_names_with_dots_and_spaces(self, api, synced_results: Path, write_session: SessionWriter) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        for name in ["2025-10-14_173320_hassaku_actualportrait.prompt", "my run 2", "run.v2.final"]:
            write_session(synced_results, name, manifest)
        sync_sessions(results_dir=synced_results)
        for name, path in [("2025-10-14_173320_hassaku_actualportrait.prompt",
                            "2025-10-14_173320_hassaku_actualportrait.prompt"),
                           ("my run 2", "my%20run%202"), ("run.v2.final", "run.v2.final")]:
            response = api.get(f"/api/sessions/{path}/")
            assert response.status_code == 200 and response.json()["session_id"] == name
            assert api.get(f"/api/sessions/{path}/stats").status_code == 200
        item = api.get("/api/sessions/my%20run%202/").json()
        assert item["thumbnail_url"] == "/api/sessions/my%20run%202/images/facial_expressions_0000_seed-42.png" \
                                        "?thumbnail=1"

    @pytest.mark.parametrize("path", ["nope/", "..%2F..%2Fetc/", "%2Ftmp/"])
    def test_unknown_names_are_404(self, api, synced_results: Path, path: str) -> None:
        assert api.get(f"/api/sessions/{path}").status_code == 404

    def test_unknown_parameters_on_a_detail_route(self, api, synced_results: Path) -> None:
        response = api.get(f"/api/sessions/{SWEEP}/?liked=true")
        assert response.status_code == 400 and response.json() == {"liked": ["Unknown query parameter."]}


class TestRecentLiked:
    def test_favourites_most_recently_annotated_first(self, api, synced_results: Path) -> None:
        for name in [SWEEP, FACIAL, RANDOM]:
            update_metadata(session=Session.objects.get(name=name), changes={"is_favorite": True})
        update_metadata(session=Session.objects.get(name=SWEEP), changes={"user_note": "touched last"})
        update_metadata(session=Session.objects.get(name=RANDOM), changes={"is_favorite": False})
        body = api.get("/api/sessions/recent/liked").json()
        assert [s["session_id"] for s in body["sessions"]] == [SWEEP, FACIAL]
        assert (body["limit"], body["total_count"]) == (10, 2)
        assert names(api.get("/api/sessions/recent/liked?limit=1")) == [SWEEP]
        assert api.get("/api/sessions/recent/liked?liked=true").status_code == 400


def test_times_are_aware_iso_8601(api, synced_results: Path) -> None:
    item = api.get(f"/api/sessions/{FACIAL}/").json()
    for key in ("created_at",):
        assert datetime.fromisoformat(item[key].replace("Z", "+00:00")).tzinfo == timezone.utc
    stats_time = item["stats"]["stats_computed_at"]
    assert stats_time.endswith("Z")
    assert datetime.fromisoformat(stats_time.replace("Z", "+00:00")) <= dj_timezone.now()


def test_a_page_s_details_are_read_by_id_without_the_search_again(api, synced_results: Path) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        body = api.get("/api/sessions/?q=expression&limit=1").json()
    assert body["total_count"] > 1 and len(body["sessions"]) == 1  # more than the page: ids first
    details = [query["sql"] for query in queries.captured_queries if '"uuid"' in query["sql"]]
    # Only the page's ids (the search's matches, listed or as a subquery, stay with the ids' query).
    assert len(details) == 1 and details[0].count(" IN (") == 1, details
