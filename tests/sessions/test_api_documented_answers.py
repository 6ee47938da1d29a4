"""Each error answer the API gives is in the OpenAPI document, for that operation, with the
body the document describes: a client generated from it is never surprised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from sessions.models import Session

pytestmark = pytest.mark.django_db

NAME = "20261121_043601-facial_expressions"
IMAGE = "facial_expressions_0000_seed-42.png"
S = "/api/sessions/{name}/"

# (who asks, method, path as documented, path asked, query or body, the answer expected)
CASES: list[tuple[str, str, str, str, dict[str, Any] | None, int]] = [
    # 400: unknown, empty, malformed parameters; unknown, missing, read-only or invalid body fields
    ("reader", "get", "/api/sessions/", "/api/sessions/?sort=name", None, 400),
    ("reader", "get", "/api/sessions/", "/api/sessions/?status=", None, 400),
    ("reader", "get", "/api/sessions/", "/api/sessions/?liked=", None, 400),
    ("reader", "get", "/api/sessions/", "/api/sessions/?ordering=created_at,-created_at", None, 400),
    ("reader", "get", "/api/sessions/", "/api/sessions/?from_date=yesterday", None, 400),
    ("reader", "get", "/api/sessions/", "/api/sessions/?q=a%00", None, 400),
    ("reader", "get", "/api/sessions/recent/liked", "/api/sessions/recent/liked?limit=0", None, 400),
    ("reader", "get", S, f"/api/sessions/{NAME}/?x=1", None, 400),
    ("reader", "get", S + "stats", f"/api/sessions/{NAME}/stats?x=1", None, 400),
    ("reader", "get", S + "events", f"/api/sessions/{NAME}/events?x=1", None, 400),
    ("reader", "get", S + "manifest", f"/api/sessions/{NAME}/manifest?x=1", None, 400),
    ("reader", "get", S + "metadata", f"/api/sessions/{NAME}/metadata?x=1", None, 400),
    ("reader", "get", S + "images/", f"/api/sessions/{NAME}/images/?variation=Angle", None, 400),
    ("reader", "get", S + "images/", f"/api/sessions/{NAME}/images/?seed=", None, 400),
    ("reader", "get", S + "images/{filename}", f"/api/sessions/{NAME}/images/{IMAGE}?thumbnail=", None, 400),
    ("reader", "get", S + "images/{filename}", f"/api/sessions/{NAME}/images/{IMAGE}?thumbnail=yes", None, 400),
    ("reader", "get", "/api/images/", "/api/images/?liked=maybe", None, 400),
    ("reader", "get", "/api/images/", "/api/images/?variation=", None, 400),
    ("reader", "get", "/api/stats", "/api/stats?x=1", None, 400),
    ("reader", "get", "/api/stream", "/api/stream?x=1", None, 400),
    ("anonymous", "get", "/api/health", "/api/health?x=1", None, 400),
    ("staff", "patch", S + "metadata", f"/api/sessions/{NAME}/metadata", {"colour": "red"}, 400),
    ("staff", "patch", S + "metadata", f"/api/sessions/{NAME}/metadata", {"created_at": "2026-01-01"}, 400),
    ("staff", "patch", S + "metadata", f"/api/sessions/{NAME}/metadata", {"tags": [""]}, 400),
    ("staff", "post", S + "status", f"/api/sessions/{NAME}/status", {"status": "aborted"}, 400),
    ("staff", "post", S + "status", f"/api/sessions/{NAME}/status", {"status": "aborted", "reason": " "}, 400),
    ("staff", "post", S + "stats/refresh", f"/api/sessions/{NAME}/stats/refresh", {"full": True}, 400),
    # 401: no credentials
    ("anonymous", "get", "/api/sessions/", "/api/sessions/", None, 401),
    ("anonymous", "get", "/api/sessions/recent/liked", "/api/sessions/recent/liked", None, 401),
    ("anonymous", "get", S, f"/api/sessions/{NAME}/", None, 401),
    ("anonymous", "get", S + "stats", f"/api/sessions/{NAME}/stats", None, 401),
    ("anonymous", "post", S + "stats/refresh", f"/api/sessions/{NAME}/stats/refresh", None, 401),
    ("anonymous", "get", S + "metadata", f"/api/sessions/{NAME}/metadata", None, 401),
    ("anonymous", "patch", S + "metadata", f"/api/sessions/{NAME}/metadata", {}, 401),
    ("anonymous", "get", S + "events", f"/api/sessions/{NAME}/events", None, 401),
    ("anonymous", "post", S + "status", f"/api/sessions/{NAME}/status", {}, 401),
    ("anonymous", "get", S + "images/", f"/api/sessions/{NAME}/images/", None, 401),
    ("anonymous", "get", S + "images/{filename}", f"/api/sessions/{NAME}/images/{IMAGE}", None, 401),
    ("anonymous", "get", S + "manifest", f"/api/sessions/{NAME}/manifest", None, 401),
    ("anonymous", "get", "/api/images/", "/api/images/", None, 401),
    ("anonymous", "get", "/api/stream", "/api/stream", None, 401),
    ("anonymous", "get", "/api/stats", "/api/stats", None, 401),
    # 403: writes without the permission
    ("reader", "patch", S + "metadata", f"/api/sessions/{NAME}/metadata", {"is_favorite": True}, 403),
    ("reader", "post", S + "status", f"/api/sessions/{NAME}/status", {"status": "aborted", "reason": "x"}, 403),
    ("reader", "post", S + "stats/refresh", f"/api/sessions/{NAME}/stats/refresh", None, 403),
    # 404: no such session, image or file
    ("reader", "get", S, "/api/sessions/nope/", None, 404),
    ("reader", "get", S + "stats", "/api/sessions/nope/stats", None, 404),
    ("staff", "post", S + "stats/refresh", "/api/sessions/nope/stats/refresh", None, 404),
    ("reader", "get", S + "metadata", "/api/sessions/nope/metadata", None, 404),
    ("staff", "patch", S + "metadata", "/api/sessions/nope/metadata", {}, 404),
    ("reader", "get", S + "events", "/api/sessions/nope/events", None, 404),
    ("staff", "post", S + "status", "/api/sessions/nope/status", {"status": "aborted", "reason": "x"}, 404),
    ("reader", "get", S + "images/", "/api/sessions/nope/images/", None, 404),
    ("reader", "get", S + "images/{filename}", f"/api/sessions/{NAME}/images/nope.png", None, 404),
    ("reader", "get", S + "manifest", "/api/sessions/nope/manifest", None, 404),
    ("reader", "get", "/api/stream", "/api/stream?format=xml", None, 404),
    # 409: a transition the state machine refuses
    ("staff", "post", S + "status", f"/api/sessions/{NAME}/status", {"status": "completed", "reason": "x"}, 409),
    # 415: a body that is not JSON
    ("staff", "patch", S + "metadata", f"/api/sessions/{NAME}/metadata", "<xml/>", 415),
    # dates beyond what a date-time holds are no 500
    ("reader", "get", "/api/sessions/", "/api/sessions/?to_date=9999-12-31", None, 200),
    ("reader", "get", "/api/sessions/", "/api/sessions/?from_date=0001-01-01", None, 200),
    # ...nor are those that leave no session possible (later than 9999-12-31 in UTC)
    ("reader", "get", "/api/sessions/", "/api/sessions/?from_date=9999-12-31T23:00:00-05:00", None, 200),
    ("reader", "get", "/api/sessions/", "/api/sessions/?from_date=9999-12-31T23:00:00-05:00&q=blurry", None, 200),
    ("reader", "get", "/api/sessions/", "/api/sessions/?to_date=0001-01-01T01:00:00%2B05:00", None, 200),
]


@pytest.fixture(scope="module")
def document(django_db_blocker) -> dict[str, Any]:
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def clients(api, staff_api) -> dict[str, APIClient]:
    return {"anonymous": APIClient(), "reader": api, "staff": staff_api}


@pytest.mark.parametrize(("who", "method", "documented", "path", "data", "expected"), CASES,
                         ids=[f"{c[1]} {c[3]} as {c[0]}: {c[5]}" for c in CASES])
def test_the_answer_is_documented(document: dict[str, Any], clients: dict[str, APIClient], synced_results: Path,
                                  settings, who: str, method: str, documented: str, path: str, data: Any,
                                  expected: int) -> None:
    settings.SDGEN_TIME_ZONE = "Asia/Tokyo"  # east of UTC: the first day of year 1 is before it
    client = clients[who]
    if isinstance(data, str):
        response = getattr(client, method)(path, data, content_type="application/xml")
    elif method == "get":
        response = client.get(path)
    else:
        response = getattr(client, method)(path, data, format="json")
    assert response.status_code == expected, response.content
    responses = document["paths"][documented][method]["responses"]
    assert str(expected) in responses, f"{method.upper()} {documented} answers {expected}, undocumented"
    content = responses[str(expected)].get("content", {})
    if expected >= 400:
        media_type = response["Content-Type"].split(";")[0]
        body = response.json() if media_type == "application/json" else server_sent_event(response.content)
        schema = content[media_type]["schema"]
        jsonschema.validate(body, {**schema, "components": document["components"]})
        if media_type == "text/event-stream":  # the event's data is the JSON error
            schema = content["application/json"]["schema"]
            jsonschema.validate(json.loads(body["data"]), {**schema, "components": document["components"]})


def server_sent_event(content: bytes) -> dict[str, str]:
    fields = dict(line.split(": ", 1) for line in content.decode().splitlines() if ": " in line)
    return {name: fields[name] for name in ("event", "data", "id") if name in fields}


def test_every_operation_is_tried(document: dict[str, Any]) -> None:
    operations = {(path, method) for path, item in document["paths"].items() for method in item}
    assert operations == {(case[2], case[1]) for case in CASES}


def test_the_refused_transition_left_the_session_alone(staff_api, synced_results: Path) -> None:
    # The 409 above starts from a completed session.
    assert Session.objects.get(name=NAME).status == "completed"
