"""The API's views about the library as a whole (SPEC sections 8 and 10): the live stream of
changes, the counts, and the health check."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sessions import selectors, stream
from sessions.conditional import library_validator, library_version
from sessions.serializers import GlobalStatsSerializer, HealthSerializer
from sessions.views import reject_unknown_parameters

logger = logging.getLogger(__name__)


# Each event of the stream (an OpenAPI 3.0 text/event-stream schema describes one event).
SESSION_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["session"]},
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The change number; send it back as "
                                                                     "Last-Event-ID to resume after it."},
        "data": {"type": "string", "description": "JSON: session_id, status, images_actual, images_expected, "
                                                  "completion_percentage, thumbnail_url, updated_at."},
    },
    "required": ["event", "id", "data"],
}


class EventStreamRenderer(BaseRenderer):
    """``text/event-stream``: what EventSource asks for. Errors go out as an ``error`` event."""

    media_type = "text/event-stream"
    format = "event-stream"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return f"event: error\ndata: {json.dumps(data)}\n\n".encode()


class ChangeStreamView(APIView):
    """Server-Sent Events of library changes (SPEC section 10)."""

    renderer_classes = [EventStreamRenderer, JSONRenderer]

    @extend_schema(
        summary="Library changes as Server-Sent Events",
        description="event: session; id: a change number that only grows; data: the session's session_id, status, "
                    "images_actual, images_expected, completion_percentage, thumbnail_url and updated_at. Send "
                    "Last-Event-ID to resume after it. A comment every 15 s keeps a quiet connection open.",
        parameters=[OpenApiParameter("Last-Event-ID", {"type": "string", "pattern": "^[0-9]*$"},
                                     OpenApiParameter.HEADER,
                                     description="Resume after this change number (empty: from now on).")],
        responses={(200, "text/event-stream"): SESSION_EVENT_SCHEMA,
                   503: OpenApiResponse(description="This server holds as many streams as it may.")},
    )
    def get(self, request: Request) -> HttpResponseBase:
        reject_unknown_parameters(request, ())
        raw = request.headers.get("Last-Event-ID", "").strip()
        if raw and not raw.isdigit():
            raise ValidationError({"Last-Event-ID": [f"'{raw}' is not a change number."]})
        try:
            events = stream.EventStream(cursor=int(raw) if raw else None, keepalive=settings.SDGEN_STREAM_KEEPALIVE,
                                        lifetime=settings.SDGEN_STREAM_LIFETIME)
        except stream.TooManyStreams:
            return Response({"detail": "This server holds as many live streams as it may; try again shortly."},
                            status=503, headers={"Retry-After": "5"})
        response = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the events back
        return response


class LibraryStatsView(APIView):
    conditional = frozenset({"get"})  # ETag and Last-Modified; 304 when nothing changed

    @extend_schema(summary="Counts over the library, from the sessions' statuses", responses=GlobalStatsSerializer)
    def get(self, request: Request) -> Response:
        reject_unknown_parameters(request, ())
        version = library_version()
        validator = library_validator(request, version)
        if (not_modified := validator.not_modified(request)) is not None:
            return not_modified
        stats = selectors.library_stats(now=timezone.now(), version=version)
        return validator.stamp(Response(GlobalStatsSerializer(stats).data))


class HealthView(APIView):
    """Answers without credentials, for monitoring."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Liveness, the watcher's last heartbeat, and anything that needs a person",
                   responses=HealthSerializer, auth=[])
    def get(self, request: Request) -> Response:
        reject_unknown_parameters(request, ())
        try:
            health = selectors.library_health(now=timezone.now())
        except DatabaseError:
            # The error names hosts and databases: for the log, not for anonymous callers.
            logger.exception("health check: the database cannot be read")
            return Response({"status": "error", "detail": "the database is not available"}, status=503)
        return Response(HealthSerializer(health).data)
