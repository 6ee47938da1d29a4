"""Large JSON answers of the API are gzipped for clients that ask; pages and streams are not."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_session_list_is_gzipped_and_unchanged(api, synced_results: Path) -> None:
    plain = api.get("/api/sessions/")
    zipped = api.get("/api/sessions/", HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped["Vary"]
    assert json.loads(gzip.decompress(zipped.content)) == plain.json()
    assert len(zipped.content) < len(plain.content) / 3
    # its ETag (made weak by compression) still gives 304
    assert api.get("/api/sessions/", HTTP_ACCEPT_ENCODING="gzip",
                   HTTP_IF_NONE_MATCH=zipped["ETag"]).status_code == 304


def test_small_answers_pages_and_the_browsable_api_are_not_gzipped(api, synced_results: Path) -> None:
    assert "Content-Encoding" not in api.get("/api/sessions/?fields=status&limit=1", HTTP_ACCEPT_ENCODING="gzip")
    browsable = api.get("/api/sessions/", HTTP_ACCEPT="text/html", HTTP_ACCEPT_ENCODING="gzip")
    assert browsable.status_code == 200 and "Content-Encoding" not in browsable
    User.objects.create_user("gina", password="pw")
    client = Client()
    client.force_login(User.objects.get(username="gina"))
    page = client.get("/", HTTP_ACCEPT_ENCODING="gzip")
    assert page.status_code == 200 and "Content-Encoding" not in page


def test_an_answer_sent_no_store_is_never_gzipped(rf) -> None:
    from django.http import JsonResponse

    from sdgen_site.middleware import ApiJsonGZipMiddleware

    secret = JsonResponse({"token": "x" * 500})
    secret["Cache-Control"] = "no-store"
    middleware = ApiJsonGZipMiddleware(lambda request: secret)
    assert "Content-Encoding" not in middleware(rf.get("/api/anything", HTTP_ACCEPT_ENCODING="gzip"))
    middleware = ApiJsonGZipMiddleware(lambda request: JsonResponse({"data": "x" * 500}))
    assert middleware(rf.get("/api/anything", HTTP_ACCEPT_ENCODING="gzip"))["Content-Encoding"] == "gzip"
