"""Authentication on every API route, found from the URL configuration itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from sessions.authentication import BearerTokenAuthentication
from sessions.views import api_not_found

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


def test_the_route_table_is_complete() -> None:
    paths = {path for path, _ in ROUTES}
    for expected in ["/api/sessions/", f"/api/sessions/{NAME}/", f"/api/sessions/{NAME}/stats",
                     f"/api/sessions/{NAME}/stats/refresh", f"/api/sessions/{NAME}/metadata",
                     "/api/sessions/recent/liked", f"/api/sessions/{NAME}/events", f"/api/sessions/{NAME}/status",
                     f"/api/sessions/{NAME}/images/", f"/api/sessions/{NAME}/images/{SAMPLE_VALUES['filename']}",
                     f"/api/sessions/{NAME}/manifest", "/api/stats", "/api/health", "/api/schema/", "/api/docs/"]:
        assert expected in paths


@pytest.mark.parametrize(("path", "verbs"), ROUTES, ids=[path for path, _ in ROUTES])
def test_every_route_wants_credentials(client, synced_results: Path, path: str, verbs: tuple[str, ...]) -> None:
    for verb in verbs:
        response = getattr(APIClient(), verb)(path)
        if path.lstrip("/") in OPEN_ROUTES:
            assert response.status_code == 200
        else:
            assert response.status_code == 401, f"{verb.upper()} {path} answered {response.status_code}"
            assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("path", "verbs"), ROUTES, ids=[path for path, _ in ROUTES])
def test_every_route_answers_a_valid_token(staff_api, synced_results: Path, path: str, verbs: tuple[str, ...]) -> None:
    if "get" in verbs:
        assert staff_api.get(path).status_code == 200


def test_a_wrong_token_is_401(synced_results: Path) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert client.get("/api/sessions/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token also-not-accepted")
    assert client.get("/api/sessions/").status_code == 401


def test_the_admin_session_works_for_the_browsable_api(synced_results: Path) -> None:
    User.objects.create_user("browser", password="pw")
    client = APIClient()
    assert client.login(username="browser", password="pw")
    response = client.get("/api/sessions/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert NAME.encode() in response.content and b"sdgen site API" in response.content


def test_failed_token_attempts_are_throttled(api, synced_results: Path) -> None:
    guesser = APIClient()
    for attempt in range(BearerTokenAuthentication.FAILURES_ALLOWED):
        guesser.credentials(HTTP_AUTHORIZATION=f"Bearer guess{attempt}")
        assert guesser.get("/api/sessions/").status_code == 401
    blocked = guesser.get("/api/sessions/")
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    guesser.credentials(HTTP_AUTHORIZATION=api._credentials["HTTP_AUTHORIZATION"])
    assert guesser.get("/api/sessions/").status_code == 429  # even the right token waits
    User.objects.create_user("browser", password="pw")
    browser = APIClient()
    browser.login(username="browser", password="pw")
    assert browser.get("/api/sessions/").status_code == 200  # logged-in sessions are not affected


def test_paths_that_are_not_routes_are_json_404s(api, synced_results: Path) -> None:
    for path in ["/api/nothing", "/api/sessions/x/y/z", f"/api/sessions/{NAME}/stats/"]:
        response = api.get(path)
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    redirect = api.get(f"/api/sessions/{NAME}?format=json")
    assert redirect.status_code == 301 and redirect["Location"] == f"/api/sessions/{NAME}/?format=json"
