"""API requests with a bearer token take a shorter middleware chain (sdgen_site/handlers.py):
they must be answered exactly as through the whole chain, and every other request still
goes through the whole chain."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client

from sdgen_site.handlers import NOT_FOR_TOKEN_API_REQUESTS, SiteHandler, is_token_api_request
from sessions.models import Session, SessionMetadata

pytestmark = pytest.mark.django_db

Answer = tuple[int, dict[str, str], bytes]


def call(app: Any, method: str, path: str, *, body: bytes = b"", **headers: str) -> Answer:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    path, _, query = path.partition("?")
    environ.update({"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                    "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                    "CONTENT_TYPE": "application/json", **headers})
    started: list[Any] = []
    content = b"".join(app(environ, lambda status, header_list, *_: started.extend([status, header_list])))
    return int(started[0].split()[0]), dict(started[1]), content


@pytest.fixture
def handlers(serve_in_process: Callable[[Any], Any]) -> tuple[Any, Any]:
    """(the site's application, Django's own handler over the whole chain)."""
    return serve_in_process(SiteHandler()), serve_in_process(WSGIHandler())


@pytest.fixture
def bearer(db) -> str:
    from accounts.services import create_api_token

    user = User.objects.create_user("reader", password="pw", is_staff=True)
    return f"Bearer {create_api_token(user=user)}"


@pytest.mark.parametrize(("path", "header", "expected"), [
    ("/api/sessions/", "Bearer abc", True),
    ("/api/stats", "bearer abc", True),
    ("/api/sessions/", "Token abc", False),
    ("/api/sessions/", "", False),
    ("/api/sessions/", "Bearerabc", False),
    ("/", "Bearer abc", False),
    ("/admin/", "Bearer abc", False),
    ("/apiary/", "Bearer abc", False),
])
def test_which_requests_take_the_shorter_chain(path: str, header: str, expected: bool) -> None:
    environ = {"PATH_INFO": path, **({"HTTP_AUTHORIZATION": header} if header else {})}
    assert is_token_api_request(environ) is expected


def view_middlewares(handler: WSGIHandler) -> set[str]:
    return {f"{type(m.__self__).__module__}.{type(m.__self__).__name__}" for m in handler._view_middleware}


def test_the_shorter_chain_leaves_out_what_token_requests_never_use() -> None:
    whole = list(django_settings.MIDDLEWARE)
    handler = SiteHandler()
    assert django_settings.MIDDLEWARE == whole  # put back once the shorter chain is built
    assert NOT_FOR_TOKEN_API_REQUESTS <= set(whole)  # a renamed middleware would be left in silently
    csrf = "django.middleware.csrf.CsrfViewMiddleware"
    assert csrf in view_middlewares(handler) and csrf not in view_middlewares(handler.token_api)


def test_token_requests_are_answered_as_through_the_whole_chain(handlers: tuple[Any, Any], bearer: str,
                                                                 synced_results: Path) -> None:
    site, whole = handlers
    name = Session.objects.order_by("name").values_list("name", flat=True)[0]
    image = sorted(p.name for p in (synced_results / name).glob("*.png"))[0]
    paths = ["/api/sessions/", f"/api/sessions/{name}/", f"/api/sessions/{name}/?fields=images_actual",
             f"/api/sessions/{name}/metadata", f"/api/sessions/{name}/images/", f"/api/sessions/{name}/stats",
             f"/api/sessions/{name}/manifest", f"/api/sessions/{name}/images/{image}", "/api/stats",
             "/api/images/?q=smiling", "/api/sessions/?bogus=1", "/api/no-such-thing", "/api/sessions/?q=%00"]
    for path in paths:
        ours, django_s = call(site, "GET", path, HTTP_AUTHORIZATION=bearer), call(whole, "GET", path,
                                                                                   HTTP_AUTHORIZATION=bearer)
        assert ours == django_s, path
    statuses = {call(site, "GET", path, HTTP_AUTHORIZATION=bearer)[0] for path in paths}
    assert statuses == {200, 400, 404}  # the list covers answers and refusals


def test_a_gzipped_answer_is_the_same_answer(handlers: tuple[Any, Any], bearer: str, synced_results: Path) -> None:
    answers = [call(app, "GET", "/api/sessions/", HTTP_AUTHORIZATION=bearer, HTTP_ACCEPT_ENCODING="gzip")
               for app in handlers]
    assert [a[1]["Content-Encoding"] for a in answers] == ["gzip", "gzip"]
    assert json.loads(gzip.decompress(answers[0][2])) == json.loads(gzip.decompress(answers[1][2]))


def test_a_wrong_token_is_refused_even_beside_a_logged_in_cookie(handlers: tuple[Any, Any],
                                                                  synced_results: Path) -> None:
    site, _ = handlers
    client = Client()
    client.force_login(User.objects.create_superuser("admin", password="pw"))
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    assert call(site, "GET", "/api/sessions/", HTTP_COOKIE=cookie)[0] == 200  # the whole chain reads it
    status, headers, _ = call(site, "GET", "/api/sessions/", HTTP_COOKIE=cookie, HTTP_AUTHORIZATION="Bearer wrong")
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"


def test_a_token_request_writes_without_a_csrf_token(handlers: tuple[Any, Any], synced_results: Path) -> None:
    from accounts.services import create_api_token
    from tests.conftest import token_client

    editor = token_client(username="editor", permissions=("change_sessionmetadata",)).user
    site, _ = handlers
    name = Session.objects.order_by("name").values_list("name", flat=True)[0]
    token = f"Bearer {create_api_token(user=editor)}"
    status, _, content = call(site, "PATCH", f"/api/sessions/{name}/metadata", body=b'{"tags": ["kept"]}',
                              HTTP_AUTHORIZATION=token)
    assert status == 200, content
    assert SessionMetadata.objects.filter(session__name=name).exists()
    assert json.loads(call(site, "GET", f"/api/sessions/{name}/metadata", HTTP_AUTHORIZATION=token)[2])["tags"] == [
        "kept"]
