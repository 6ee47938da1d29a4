"""HTTP views of the sessions app."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sessions.models import Session
from sessions.scanning import resolve_inside
from sessions.stats import is_image_name
from thumbnails.rendering import Status
from thumbnails.services import THUMBNAIL_SUFFIX, ensure_thumbnail, is_thumbnail_source

TRUE_VALUES = {"true", "1"}
FALSE_VALUES = {"false", "0"}
CACHE_CONTROL = "private, max-age=300"


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in TRUE_VALUES:
        return True
    if lowered in FALSE_VALUES:
        return False
    raise ValidationError({name: [f"'{value}' is not a boolean: use true, false, 1 or 0."]})


def reject_unknown_parameters(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ValidationError({"detail": f"unknown query parameter(s): {', '.join(unknown)}"})


def file_response(request: HttpRequest, path: Path, content_type: str | None = None) -> HttpResponse:
    """The file with ETag and Last-Modified, or 304 when the client's copy is current."""
    stat = path.stat()
    etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
    last_modified = int(stat.st_mtime)
    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if not_modified is not None:
        not_modified["Cache-Control"] = CACHE_CONTROL
        return not_modified
    response = FileResponse(open(path, "rb"), content_type=content_type)
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    response["Cache-Control"] = CACHE_CONTROL
    return response


class SessionImageFileView(APIView):
    """An image file of a session; with ``?thumbnail=1`` its WebP thumbnail, rendered on demand."""

    def get(self, request: Request, name: str, filename: str) -> HttpResponse:
        reject_unknown_parameters(request, {"thumbnail"})
        thumbnail = parse_bool("thumbnail", request.query_params.get("thumbnail", "0"))
        if not Session.objects.filter(name=name).exists():
            raise NotFound("no such session")
        source = resolve_inside(settings.SDGEN_RESULTS_DIR, name, filename)
        if source is None or not is_image_name(filename):
            raise NotFound("no such image")
        if not thumbnail:
            return file_response(request, source)
        if not is_thumbnail_source(filename):
            raise NotFound("only PNG images have thumbnails")
        outcome = ensure_thumbnail(results_dir=settings.SDGEN_RESULTS_DIR, thumbnails_dir=settings.SDGEN_THUMBNAILS_DIR,
                                   session_name=name, filename=filename)
        if outcome.status is Status.INCOMPLETE:
            return Response({"detail": "the image is still being written; try again shortly"}, status=503,
                            headers={"Retry-After": "1"})
        if outcome.status is Status.FAILED:
            raise NotFound(f"no thumbnail: {outcome.error}")
        path = resolve_inside(settings.SDGEN_THUMBNAILS_DIR, name, os.path.splitext(filename)[0] + THUMBNAIL_SUFFIX)
        if path is None:
            raise NotFound("no thumbnail")
        return file_response(request, path, "image/webp")
