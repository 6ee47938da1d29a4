"""Conditional requests on the API's JSON answers: ETag and Last-Modified from what the writers
already record, and 304 Not Modified when the client's copy is current.

The validators come from one small query each, before any page is built:

- the library (the session list, recent likes): the change counter every session write moves
  (sessions.changes) with its time, and the newest metadata change (``updated_at`` moves on
  every metadata write);
- one session (the item, its stats, its images): its change number and ``updated_at`` (every
  sync, status fix, rename or forgetting moves them) and its metadata's ``updated_at``;
- a session's metadata: its ``updated_at`` alone.

Each ETag also holds the query string, the answer's format and the user, so that no two
answers that could differ share one. For the same reason a JSON answer built once can be kept
under its ETag and given again while the ETag holds (``Validator.keep``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.core.cache import caches
from django.db.models import Max, Subquery
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date, parse_etags, parse_http_date_safe
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from sdgen_site.prepared import PreparedQuery
from sessions.models import ChangeCounter, SessionMetadata
from sessions.selectors import SessionVersion

AnyResponse = TypeVar("AnyResponse", bound=HttpResponseBase)
# Always revalidate (the library changes while people look), and never in a shared cache.
CACHE_CONTROL = "private, no-cache"
# Answers differ by who asks and in which format.
VARY = ("Accept", "Authorization", "Cookie")
VARY_HEADER = ", ".join(VARY)
# A Last-Modified has whole seconds: one of the current second could hide a change made later
# in that same second, so it is sent only once its second is over (the ETag always is).
SETTLED = timedelta(seconds=1)
# Kept answers (Validator.keep): for this long at most (a change makes another key anyway), and
# only those this small (their cache keeps 300 entries in each web process: settings.CACHES).
KEPT_FOR = 600  # seconds
KEPT_UP_TO = 64 * 1024  # bytes


@dataclass(frozen=True)
class Validator:
    etag: str
    last_modified: datetime | None

    def not_modified(self, request: Request) -> Response | None:
        """A 304 when the client's copy is current (If-None-Match first, as RFC 9110 says)."""
        if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
        if if_none_match is not None:
            tags = {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}
            current = "*" in tags or self.etag in tags
        elif (if_modified_since := request.META.get("HTTP_IF_MODIFIED_SINCE")) is None:
            return None  # an unconditional request, most of them
        else:
            since = parse_http_date_safe(if_modified_since)
            current = since is not None and self.last_modified is not None and \
                int(self.last_modified.timestamp()) <= since
        return self.stamp(Response(status=304)) if current else None

    def kept_answer(self, request: Request) -> HttpResponse | None:
        """The JSON answer kept (``keep``) for this question under this validator, stamped; None
        when there is none (or the answer asked for is not JSON)."""
        key = self._kept_key(request)
        if key is None or (kept := caches["answers"].get(key)) is None:
            return None
        content_type, body = kept
        return self.stamp(HttpResponse(body, content_type=content_type))

    def keep(self, request: Request, response: Response) -> HttpResponseBase:
        """``response`` stamped; its JSON kept (the "answers" cache) under this validator, the
        address asked (its host and scheme are in the answer's links) and the media type
        accepted, to be given again by ``kept_answer`` until the validator moves. The validator
        must hold everything the answer shows, as the 304s rely on too: the caller builds the
        answer from what it read the validator from."""
        key = self._kept_key(request)
        if key is not None and response.status_code == 200:
            # Rendered here as the view's own rendering would (DRF leaves a rendered answer be).
            response.accepted_renderer = request.accepted_renderer
            response.accepted_media_type = request.accepted_media_type
            response.renderer_context = {"request": request, "response": response}  # type: ignore[attr-defined]
            response.render()
            if len(response.content) <= KEPT_UP_TO:
                caches["answers"].set(key, (response["Content-Type"], response.content), timeout=KEPT_FOR)
        return self.stamp(response)

    def _kept_key(self, request: Request) -> str | None:
        if not isinstance(getattr(request, "accepted_renderer", None), JSONRenderer):
            return None  # the browsable API is built each time
        # The links an answer holds are made of these, and of the query string the ETag holds.
        seen = f"{self.etag}\x1f{request.scheme}://{request.get_host()}{request.path}\x1f{request.accepted_media_type}"
        return f"sessions:answer:{hashlib.blake2b(seen.encode(), digest_size=16).hexdigest()}"

    def stamp(self, response: AnyResponse) -> AnyResponse:
        response["ETag"] = self.etag
        if self.last_modified is not None:
            response["Last-Modified"] = http_date(int(self.last_modified.timestamp()))
        response["Cache-Control"] = CACHE_CONTROL
        if response.has_header("Vary"):
            patch_vary_headers(response, VARY)
        else:
            response["Vary"] = VARY_HEADER
        return response


def _validator(request: Request, *parts: object, last_modified: datetime | None) -> Validator:
    renderer = getattr(request, "accepted_renderer", None)
    seen = [*parts, request.META.get("QUERY_STRING", ""), getattr(renderer, "format", ""), request.user.pk]
    digest = hashlib.blake2b("\x1f".join(map(str, seen)).encode(), digest_size=16).hexdigest()
    settled = last_modified is not None and last_modified <= timezone.now() - SETTLED
    return Validator(etag=f'"{digest}"', last_modified=last_modified if settled else None)


# Compiled once per connection (sdgen_site.prepared): they run before every answer.
_LIBRARY = PreparedQuery(lambda _: (
    ChangeCounter.objects.filter(pk=1).order_by()
    .annotate(newest_metadata=Subquery(SessionMetadata.objects.order_by("-updated_at").values("updated_at")[:1]))
    .values_list("value", "changed_at", "newest_metadata")))


def library_version() -> tuple[int, datetime | None, datetime | None]:
    """What moves with any change to any session or its metadata: the change counter, when it
    last moved, and the newest metadata change."""
    row = next(iter(_LIBRARY.rows("")), None)
    if row is None:  # nothing synced yet
        return 0, None, SessionMetadata.objects.aggregate(newest=Max("updated_at"))["newest"]
    return row


def library_validator(request: Request, version: tuple | None = None) -> Validator:
    """For answers about many sessions: moves with any change to any of them (``version``:
    library_version(), when the caller has it already)."""
    version = version or library_version()
    changed = [moment for moment in version[1:] if moment is not None]
    return _validator(request, "library", *version, last_modified=max(changed, default=None))


def session_validator(request: Request, version: SessionVersion) -> Validator:
    """For a session item (with its metadata)."""
    updated_at, metadata_updated_at = version.updated_at, version.metadata_updated_at
    last_modified = max(updated_at, metadata_updated_at or updated_at)
    return _validator(request, "item", version.pk, version.change_seq, updated_at, metadata_updated_at,
                      last_modified=last_modified)


def metadata_validator(request: Request, *, pk: int, updated_at: datetime | None) -> Validator:
    """For a session's metadata (``updated_at``: when it last changed, None if never set; every
    write moves it, the tags' included)."""
    return _validator(request, "metadata", pk, updated_at, last_modified=updated_at)


def session_data_validator(request: Request, kind: str, *, pk: int, change_seq: int,
                           updated_at: datetime) -> Validator:
    """For what the sync alone writes of a session (``kind``: its stats, its images), from its row."""
    return _validator(request, kind, pk, change_seq, updated_at, last_modified=updated_at)


def conditional_parameters() -> list[OpenApiParameter]:
    """The request headers a conditional GET takes, and the validators its answers carry."""
    return [
        OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER,
                         description="The ETag of the copy you hold: 304 with no body if it is still current."),
        OpenApiParameter("If-Modified-Since", str, OpenApiParameter.HEADER,
                         description="An HTTP date: 304 with no body if nothing changed since (If-None-Match, "
                                     "when sent, decides instead)."),
        OpenApiParameter("ETag", str, OpenApiParameter.HEADER, required=True, response=[200, 304],
                         description="This answer's validator; send it back as If-None-Match."),
        OpenApiParameter("Last-Modified", str, OpenApiParameter.HEADER, response=[200, 304],
                         description="When what this answer shows last changed (left out within a second of a "
                                     "change)."),
    ]
