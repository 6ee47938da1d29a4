"""Stats: /api/sessions/{name}/stats, .../stats/refresh, /api/stats and /api/health."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from sessions.lifecycle import transition_status
from sessions.models import EventSource, Session, SessionStatus, WatcherHeartbeat
from sessions.services import sync_sessions, update_metadata
from tests.conftest import SessionWriter

pytestmark = pytest.mark.django_db

NAME = "20261121_043601-facial_expressions"
STATS_KEYS = [
    "sd_model", "sampler_name", "scheduler", "steps", "cfg_scale", "width", "height", "template_version",
    "generation_mode", "seed_mode", "seed_base", "seed_min", "seed_max", "resolved_prompt", "negative_prompt",
    "images_expected", "images_actual", "images_recorded", "completion_percentage", "is_seed_sweep", "placeholders",
    "variations_summary", "variations_theoretical", "session_created_at", "manifest_generated_at",
    "first_image_created_at", "last_image_created_at", "stats_computed_at", "stats_version", "source",
]


class TestSessionStats:
    def test_the_stats_object(self, api, synced_results: Path) -> None:
        body = api.get(f"/api/sessions/{NAME}/stats").json()
        assert list(body) == STATS_KEYS
        assert body["images_actual"] == body["images_expected"] == body["images_recorded"] == 4
        assert body["completion_percentage"] == 100.0
        assert body["placeholders"] == {"FacialExpression": 2, "Angle": 2} and body["variations_theoretical"] == 6
        assert body["seed_min"] == 42 and body["seed_max"] == 45 and body["seed_mode"] == "progressive"
        assert body["manifest_generated_at"] == "2026-11-21T04:36:01.980150Z"

    def test_the_sync_renders_the_answer_once_and_it_is_what_the_serializer_gives(
            self, api, synced_results: Path, django_assert_num_queries) -> None:
        from rest_framework.renderers import JSONRenderer

        from sessions.models import SessionStats
        from sessions.serializers import StatsSerializer

        for stats in SessionStats.objects.select_related("session"):
            assert stats.rendered is not None
            # The same JSON (PostgreSQL's jsonb hands placeholders back in an order of its own:
            # the rendered answer keeps the manifest's).
            built = JSONRenderer().render(StatsSerializer(stats).data)
            assert json.loads(stats.rendered) == json.loads(built)
            with django_assert_num_queries(2):  # the token with its user, the session with its stats
                answer = api.get(f"/api/sessions/{stats.session.name}/stats")
            assert answer.content == stats.rendered.encode() and answer["Content-Type"] == "application/json"
        # rows of earlier versions (nothing rendered yet) are answered the same, built per request
        stats = SessionStats.objects.select_related("session").get(session__name=NAME)
        SessionStats.objects.update(rendered=None)
        assert api.get(f"/api/sessions/{NAME}/stats").content == JSONRenderer().render(StatsSerializer(stats).data)
        assert "facial_expressions" in api.get(f"/api/sessions/{NAME}/stats", HTTP_ACCEPT="text/html").content.decode()

    def test_what_the_sync_changes_is_rendered_again(self, api, synced_results: Path) -> None:
        before = api.get(f"/api/sessions/{NAME}/stats").json()
        (synced_results / NAME / "facial_expressions_0003_seed-45.png").unlink()
        sync_sessions(results_dir=synced_results, names=[NAME], full=True)
        after = api.get(f"/api/sessions/{NAME}/stats").json()
        assert after["images_actual"] == before["images_actual"] - 1
        assert after["completion_percentage"] < before["completion_percentage"]

    def test_404_without_the_session_or_its_manifest(self, api, synced_results: Path,
                                                     write_session: SessionWriter) -> None:
        assert api.get("/api/sessions/nope/stats").status_code == 404
        write_session(synced_results, "loose", None, images=["a.png"])
        sync_sessions(results_dir=synced_results)
        response = api.get("/api/sessions/loose/stats")
        assert response.status_code == 404 and "no readable manifest" in response.json()["detail"]
        assert api.get("/api/sessions/loose/").json()["stats"] is None

    def test_refresh_recomputes_from_disk(self, editor_api, synced_results: Path) -> None:
        manifest = synced_results / NAME / "manifest.json"
        data = json.loads(manifest.read_text())
        data["snapshot"]["runtime_info"]["sd_model_checkpoint"] = "changed.safetensors"
        manifest.write_text(json.dumps(data))
        assert editor_api.get(f"/api/sessions/{NAME}/stats").json()["sd_model"].startswith("v1-5")  # cached
        response = editor_api.post(f"/api/sessions/{NAME}/stats/refresh")
        assert response.status_code == 200 and response.json()["sd_model"] == "changed.safetensors"
        assert editor_api.get(f"/api/sessions/{NAME}/stats").json()["sd_model"] == "changed.safetensors"

    def test_refresh_of_a_broken_manifest_says_so_and_keeps_the_last_good_stats(self, editor_api,
                                                                                synced_results: Path) -> None:
        (synced_results / NAME / "manifest.json").write_text("{broken")
        response = editor_api.post(f"/api/sessions/{NAME}/stats/refresh")
        assert response.status_code == 409
        assert response.json()["detail"].startswith("it could not be read again: manifest.json is not valid JSON")
        assert editor_api.get(f"/api/sessions/{NAME}/stats").json()["sd_model"].startswith("v1-5")
        assert "not valid JSON" in editor_api.get(f"/api/sessions/{NAME}/").json()["sync_error"]

    def test_refresh_of_a_session_whose_folder_is_gone(self, editor_api, synced_results: Path, tmp_path: Path) -> None:
        (synced_results / NAME).rename(tmp_path / "away")
        response = editor_api.post(f"/api/sessions/{NAME}/stats/refresh")
        assert response.status_code == 404 and "no longer" in response.json()["detail"]
        assert editor_api.get(f"/api/sessions/{NAME}/").json()["is_missing"] is True

    def test_refresh_without_a_results_folder(self, editor_api, synced_results: Path, settings, tmp_path: Path) -> None:
        settings.SDGEN_RESULTS_DIR = tmp_path / "unmounted"
        response = editor_api.post(f"/api/sessions/{NAME}/stats/refresh")
        assert response.status_code == 503 and "does not exist" in response.json()["detail"]

    def test_refresh_takes_no_body_fields_or_parameters(self, editor_api, synced_results: Path) -> None:
        assert editor_api.post(f"/api/sessions/{NAME}/stats/refresh?x=1").status_code == 400
        response = editor_api.post(f"/api/sessions/{NAME}/stats/refresh", {"force": True}, format="json")
        assert response.status_code == 400 and response.json() == {"force": ["Unknown field."]}
        assert editor_api.get(f"/api/sessions/{NAME}/stats/refresh").status_code == 405


class TestLibraryStats:
    def test_counts_from_statuses(self, api, synced_results: Path, write_session: SessionWriter) -> None:
        Session.objects.filter(name=NAME).update(status="aborted")
        Session.objects.filter(name="20261121_043614-facial_expressions").update(status="ongoing")
        update_metadata(session=Session.objects.get(name=NAME), changes={"is_favorite": True})
        write_session(synced_results, "gone", None, images=["a.png"])
        sync_sessions(results_dir=synced_results)
        Session.objects.filter(name="gone").update(is_missing=True)
        body = api.get("/api/stats").json()
        computed_at = body.pop("computed_at")
        assert body == {"total_sessions": 4, "sessions_ongoing": 1, "sessions_completed": 2, "sessions_aborted": 1,
                        "total_images": 12, "favorite_sessions": 1}
        assert computed_at.endswith("Z")

    def test_an_unchanged_library_is_not_counted_again_and_any_change_is(
            self, api, synced_results: Path, django_assert_num_queries) -> None:
        first = api.get("/api/stats")
        assert first.json()["sessions_aborted"] == 0 and first.json()["favorite_sessions"] == 0
        with django_assert_num_queries(2):  # the token with its user, the library's version
            again = api.get("/api/stats")
        assert again.json() == first.json() and again["ETag"] == first["ETag"]
        with django_assert_num_queries(2):
            assert api.get("/api/stats", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304

        transition_status(session=Session.objects.get(name=NAME), to_status=SessionStatus.ABORTED,
                          source=EventSource.API, performer="test", reason="stopped by hand")
        after_status = api.get("/api/stats")
        assert after_status.json()["sessions_aborted"] == 1 and after_status["ETag"] != first["ETag"]
        update_metadata(session=Session.objects.get(name=NAME), changes={"is_favorite": True})
        after_like = api.get("/api/stats", HTTP_IF_NONE_MATCH=after_status["ETag"])
        assert after_like.status_code == 200 and after_like.json()["favorite_sessions"] == 1

    def test_an_empty_library(self, api) -> None:
        body = api.get("/api/stats").json()
        assert body["total_sessions"] == 0 and body["total_images"] == 0

    def test_unknown_parameters(self, api) -> None:
        assert api.get("/api/stats?verbose=1").status_code == 400


class TestHealth:
    def test_no_credentials_needed_and_no_watcher_yet(self, client) -> None:
        response = client.get("/api/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "watcher": {"running": False, "mode": None, "last_event_at": None,
                                                               "last_sync_at": None, "sessions_watched": None},
                                   "problems": []}

    def test_a_results_folder_that_looks_wrong_is_a_warning(self, client) -> None:
        from sessions.models import ResultsFolderAlarm

        ResultsFolderAlarm.objects.create(pk=1, results_dir="/home/me/private", raised_at=timezone.now(),
                                          sessions_present=30, sessions_vanished=30)
        body = client.get("/api/health").json()
        assert body["status"] == "warning"
        assert body["problems"] == ["the results folder looks wrong: 30 of the 30 sessions on disk are not in it, so "
                                    "none was marked missing. If they really are gone, run `manage.py syncsessions "
                                    "--accept-missing`."]
        assert "/home/me" not in str(body)  # nothing private for anonymous callers

    def test_the_watchers_heartbeat(self, client) -> None:
        now = timezone.now()
        WatcherHeartbeat.objects.create(pk=1, mode="polling", pid=1, results_dir="/r", started_at=now, beat_at=now,
                                        last_event_at=now, last_sync_at=now, sessions_watched=3)
        watcher = client.get("/api/health").json()["watcher"]
        assert (watcher["running"], watcher["mode"], watcher["sessions_watched"]) == (True, "polling", 3)
        WatcherHeartbeat.objects.filter(pk=1).update(beat_at=now - timedelta(minutes=2))
        assert client.get("/api/health").json()["watcher"]["running"] is False
        WatcherHeartbeat.objects.filter(pk=1).update(beat_at=now, stopped_at=now)
        assert client.get("/api/health").json()["watcher"]["running"] is False

    def test_a_wrong_token_does_not_matter_here(self, client) -> None:
        assert client.get("/api/health", HTTP_AUTHORIZATION="Bearer wrong").status_code == 200
