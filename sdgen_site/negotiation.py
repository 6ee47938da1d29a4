"""Content negotiation for the API: DRF's own, with its commonest outcome found without parsing."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

# Accept headers that DRF answers with the JSON renderer and its plain media type, when JSON is
# a view's first renderer: asking for JSON or for anything (no header at all: "*/*"; an empty
# one is a 406 in DRF, and stays one).
PLAIN_JSON_ACCEPTS = frozenset({"*/*", "application/json"})


class JsonFirstNegotiation(DefaultContentNegotiation):
    """Scripts and the gallery ask for JSON or for anything on every request: that answer is
    known without parsing the header and ranking every renderer (under cProfile, 7 % of a
    cached stats answer's time). Anything else (the browsable API's text/html, ?format=, parameters such as
    ``indent``) goes through DRF's negotiation unchanged."""

    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        first = renderers[0] if renderers else None
        if (type(first) is JSONRenderer and not format_suffix
                and request.META.get("HTTP_ACCEPT", "*/*").strip() in PLAIN_JSON_ACCEPTS
                and self.settings.URL_FORMAT_OVERRIDE not in request.query_params):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
