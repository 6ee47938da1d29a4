"""The API's content negotiation answers what DRF's own answers, for every Accept header."""

from __future__ import annotations

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer, StaticHTMLRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from sdgen_site.negotiation import JsonFirstNegotiation

ACCEPTS = [None, "", "*/*", "application/json", " application/json ", "application/json; indent=4",
           "text/html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
           "application/*", "application/json;q=0.5, text/html", "image/png"]


def chosen(negotiation, accept: str | None, renderers, query: str = "") -> tuple[type, str] | str:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/stats{query}", **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except Exception as exc:  # a 406 must stay a 406
        return type(exc).__name__
    return type(renderer), media_type


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["", "?format=api", "?format=json"])
@pytest.mark.parametrize("renderers", [[JSONRenderer(), BrowsableAPIRenderer()],
                                       [BrowsableAPIRenderer(), JSONRenderer()], [StaticHTMLRenderer()]],
                         ids=["json-first", "html-first", "html-only"])
def test_same_choice_as_drf(accept: str | None, query: str, renderers) -> None:
    assert chosen(JsonFirstNegotiation(), accept, renderers, query) == chosen(
        DefaultContentNegotiation(), accept, renderers, query)


def test_the_api_uses_it(api) -> None:
    response = api.get("/api/stats", HTTP_ACCEPT="*/*")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert isinstance(response.accepted_renderer, JSONRenderer)
    page = api.get("/api/stats", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
