"""/api/sessions/{name}/events and the staff-only POST /api/sessions/{name}/status."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessions.models import Event, Session

pytestmark = pytest.mark.django_db

NAME = "20261121_043621-seed_sweep_test"
EVENT_KEYS = ["record_id", "session_id", "kind", "from_status", "to_status", "source", "performer_id", "reason",
              "timestamp"]


def fix(client, body, name: str = NAME):
    return client.post(f"/api/sessions/{name}/status", body, format="json")


def test_events_oldest_first(staff_api, api, synced_results: Path) -> None:
    fix(staff_api, {"status": "aborted", "reason": "wrong model"})
    fix(staff_api, {"status": "completed", "reason": "it was fine after all"})
    body = api.get(f"/api/sessions/{NAME}/events").json()
    assert list(body) == ["events"]
    events = body["events"]
    assert [list(event) for event in events] == [EVENT_KEYS] * 3
    assert [(e["kind"], e["from_status"], e["to_status"], e["source"]) for e in events] == [
        ("discovered", None, "completed", "watchdog"),
        ("status_changed", "completed", "aborted", "api"),
        ("status_changed", "aborted", "completed", "api"),
    ]
    assert events[1]["performer_id"] == "fixer" and events[1]["reason"] == "wrong model"
    assert events[0]["performer_id"] == "system" and events[0]["session_id"] == NAME
    for event in events:
        assert len(event["timestamp"]) == len("2025-11-07T12:31:00.123Z") and event["timestamp"].endswith("Z")


def test_a_staff_fix_answers_the_item(staff_api, synced_results: Path) -> None:
    response = fix(staff_api, {"status": "aborted", "reason": "  broken outputs  "})
    assert response.status_code == 200
    assert response.json()["session_id"] == NAME and response.json()["status"] == "aborted"
    event = Event.objects.filter(session__name=NAME).last()
    assert (event.source, event.performer_id, event.reason) == ("api", "fixer", "broken outputs")


def test_only_staff_may_fix(api, synced_results: Path) -> None:
    response = fix(api, {"status": "aborted", "reason": "mine"})
    assert response.status_code == 403
    assert Session.objects.get(name=NAME).status == "completed"


@pytest.mark.parametrize(
    ("start", "body", "message"),
    [
        ("completed", {"status": "completed", "reason": "again"}, "already completed"),
        ("completed", {"status": "ongoing", "reason": "resume"}, "only the generator starts or resumes a run"),
        ("aborted", {"status": "ongoing", "reason": "resume"}, "only the generator"),
    ],
)
def test_a_refused_transition_is_409_and_changes_nothing(staff_api, synced_results: Path, start: str, body: dict,
                                                         message: str) -> None:
    Session.objects.filter(name=NAME).update(status=start)
    response = fix(staff_api, body)
    assert response.status_code == 409
    assert message in response.json()["detail"]
    assert Session.objects.get(name=NAME).status == start
    assert Event.objects.filter(session__name=NAME).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "aborted"}, "reason"),
        ({"status": "aborted", "reason": "   "}, "reason"),
        ({"reason": "x"}, "status"),
        ({"status": "paused", "reason": "x"}, "status"),
        ({"status": "aborted", "reason": "x", "performer": "someone else"}, "performer"),
    ],
)
def test_bad_bodies_are_400(staff_api, synced_results: Path, body: dict, field: str) -> None:
    response = fix(staff_api, body)
    assert response.status_code == 400 and field in response.json()
    assert Session.objects.get(name=NAME).status == "completed"


def test_unknown_sessions(staff_api, api, synced_results: Path) -> None:
    assert fix(staff_api, {"status": "aborted", "reason": "x"}, name="nope").status_code == 404
    assert api.get("/api/sessions/nope/events").status_code == 404
