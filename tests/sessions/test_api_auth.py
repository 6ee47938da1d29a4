"""Authentication on every API route, found from the URL configuration itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from sessions.permissions import SessionAction, may
from sessions.views import api_not_found
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

OPEN_ROUTES = {"api/health"}
NAME = "20261121_043601-facial_expressions"
SAMPLE_VALUES = {"name": NAME, "filename": "facial_expressions_0000_seed-42.png"}


def api_routes() -> list[tuple[str, list[str]]]:
    """(concrete path, HTTP methods) for every URL pattern under api/."""
    found = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.lstrip("^").startswith("api/"):
                if pattern.callback is api_not_found:
                    continue  # the JSON 404 for paths that are not routes
                found.append((concrete(route), methods(pattern)))

    walk(get_resolver().url_patterns, "")
    return sorted(set((path, tuple(verbs)) for path, verbs in found))


def concrete(route: str) -> str:
    route = route.replace("^", "").replace("$", "").replace("\\.", ".")
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE_VALUES[m.group(1)], route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_VALUES[m.group(1)], route)
    return "/" + route


def methods(pattern: URLPattern) -> list[str]:
    callback = pattern.callback
    if getattr(callback, "actions", None):
        return sorted(callback.actions)
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return sorted(m for m in ("get", "post", "patch", "put", "delete") if hasattr(view_class, m))


ROUTES = api_routes()
READS = [(path, "get") for path, verbs in ROUTES if "get" in verbs]
WRITES = [(path, verb) for path, verbs in ROUTES for verb in verbs if verb != "get"]

# Every route that changes something, the action it needs (sessions.permissions), and a body
# it accepts. A new write route fails test_every_write_route_is_classified until it is here.
WRITE_RULES: dict[tuple[str, str], tuple[SessionAction, dict]] = {
    (f"/api/sessions/{NAME}/status", "post"): (SessionAction.CHANGE_STATUS, {"status": "aborted", "reason": "test"}),
    (f"/api/sessions/{NAME}/metadata", "patch"): (SessionAction.EDIT_METADATA, {"is_favorite": True}),
    (f"/api/sessions/{NAME}/stats/refresh", "post"): (SessionAction.REFRESH, {}),
}


def user_with(username: str, *codenames: str, staff: bool = False) -> APIClient:
    return token_client(username=username, staff=staff, permissions=codenames)


# The people of the table: who they are, and the permissions Django grants them.
USERS = {
    "reader": lambda: user_with("reader"),
    "view-only staff": lambda: user_with("viewer", "view_session", "view_sessionmetadata", staff=True),
    "note taker": lambda: user_with("notes", "change_sessionmetadata"),
    "non-staff fixer": lambda: user_with("nonstaff", "change_session", "change_sessionmetadata"),
    "editing staff": lambda: user_with("editor", "change_session", "change_sessionmetadata", "delete_session",
                                       staff=True),
}


def test_the_route_table_is_complete() -> None:
    paths = {path for path, _ in ROUTES}
    for expected in ["/api/sessions/", f"/api/sessions/{NAME}/", f"/api/sessions/{NAME}/stats",
                     f"/api/sessions/{NAME}/stats/refresh", f"/api/sessions/{NAME}/metadata",
                     "/api/sessions/recent/liked", f"/api/sessions/{NAME}/events", f"/api/sessions/{NAME}/status",
                     f"/api/sessions/{NAME}/images/", f"/api/sessions/{NAME}/images/{SAMPLE_VALUES['filename']}",
                     f"/api/sessions/{NAME}/manifest", "/api/stats", "/api/health", "/api/schema/", "/api/docs/"]:
        assert expected in paths


def test_every_write_route_is_classified() -> None:
    assert sorted(WRITES) == sorted(WRITE_RULES)


@pytest.mark.parametrize(("path", "verbs"), ROUTES, ids=[path for path, _ in ROUTES])
def test_anonymous_callers_get_401(synced_results: Path, path: str, verbs: tuple[str, ...]) -> None:
    for verb in verbs:
        response = getattr(APIClient(), verb)(path)
        if path.lstrip("/") in OPEN_ROUTES:
            assert response.status_code == 200
        else:
            assert response.status_code == 401, f"{verb.upper()} {path} answered {response.status_code}"
            assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("who", USERS)
def test_every_signed_in_user_may_read_every_route(synced_results: Path, who: str) -> None:
    client = USERS[who]()
    for path, _ in READS:
        response = client.get(path)
        if path == "/api/stream":
            response.close()  # as the server does: an open stream holds its place among the process's
        assert response.status_code == 200, path


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize(("path", "verb"), sorted(WRITE_RULES), ids=[f"{v} {p}" for p, v in sorted(WRITE_RULES)])
def test_writes_need_the_permission_the_admin_needs(synced_results: Path, who: str, path: str, verb: str) -> None:
    client = USERS[who]()
    action, body = WRITE_RULES[(path, verb)]
    response = getattr(client, verb)(path, body, format="json")
    if may(client.user, action):
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 403, f"{who}: {verb.upper()} {path} answered {response.status_code}"
        assert response.json() == {"detail": action.refusal}


def test_a_refused_status_fix_changes_nothing(synced_results: Path) -> None:
    from sessions.models import Event, Session

    viewer = USERS["view-only staff"]()
    before = Event.objects.count()
    viewer.post(f"/api/sessions/{NAME}/status", {"status": "aborted", "reason": "no"}, format="json")
    assert Session.objects.get(name=NAME).status == "completed" and Event.objects.count() == before


def test_the_admin_and_the_api_agree(synced_results: Path) -> None:
    """The same people may fix a status in the admin as through the API."""
    from django.test import Client

    from sessions.models import Session

    session = Session.objects.get(name=NAME)
    for who, make in USERS.items():
        user = make().user
        if not user.is_staff:
            continue
        browser = Client()
        browser.force_login(user)
        page = browser.get(f"/admin/gen_sessions/session/{session.pk}/change/")
        assert page.status_code == 200
        status_editable = b'name="status_reason"' in page.content
        assert status_editable == may(user, SessionAction.CHANGE_STATUS), who


# The schema and its page are pages of their own; the stream speaks text/event-stream only.
BROWSABLE = [path for path, _ in READS if not any(part in path for part in ("schema", "docs", "stream"))]


@pytest.mark.parametrize("path", BROWSABLE)
def test_the_browsable_api_renders_every_route(synced_results: Path, path: str) -> None:
    User.objects.create_superuser("browser", password="pw")
    client = APIClient()
    assert client.login(username="browser", password="pw")
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200, path
    if not response.streaming:  # files (an image, the manifest) are served as they are
        assert b"sdgen site" in response.content


def test_a_wrong_token_is_401(synced_results: Path) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert client.get("/api/sessions/").status_code == 401


def test_the_token_scheme_says_to_use_bearer(api, synced_results: Path) -> None:
    token = api._credentials["HTTP_AUTHORIZATION"].split()[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/sessions/")
    assert response.status_code == 401
    assert "Authorization: Bearer <token>" in response.json()["detail"]


def test_the_admin_session_works_for_the_browsable_api(synced_results: Path) -> None:
    User.objects.create_user("browser", password="pw")
    client = APIClient()
    assert client.login(username="browser", password="pw")
    response = client.get("/api/sessions/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert NAME.encode() in response.content and b"sdgen site API" in response.content


def test_paths_that_are_not_routes_are_json_404s(api, synced_results: Path) -> None:
    for path in ["/api/nothing", "/api/sessions/x/y/z", f"/api/sessions/{NAME}/stats/"]:
        response = api.get(path)
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    redirect = api.get(f"/api/sessions/{NAME}?format=json")
    assert redirect.status_code == 301 and redirect["Location"] == f"/api/sessions/{NAME}/?format=json"


def test_an_unknown_session_is_named(api, synced_results: Path) -> None:
    for path in ["/api/sessions/nope/", "/api/sessions/nope/stats", "/api/sessions/nope/images/x.png"]:
        assert api.get(path).json() == {"detail": "no session named 'nope'"}
