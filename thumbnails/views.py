"""The image files of sessions, and their thumbnails rendered on demand."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sessions import selectors
from sessions.image_files import is_image_name, is_thumbnail_source
from sessions.scanning import resolve_inside
from sessions.views import CACHE_CONTROL, boolean_parameter, file_response, no_such_session, reject_unknown_parameters
from thumbnails.rendering import Status
from thumbnails.services import ensure_thumbnail
from thumbnails.storage import ThumbnailStore, thumbnail_name, thumbnail_store


class SessionImageFileView(APIView):
    """An image file of a session; with ``?thumbnail=1`` its WebP thumbnail, rendered on demand."""

    @extend_schema(
        summary="An image file, or its thumbnail",
        parameters=[OpenApiParameter("thumbnail", OpenApiTypes.BOOL, description="1: the WebP thumbnail, rendered "
                                     "now if missing.")],
        responses={(200, "image/*"): OpenApiTypes.BINARY, 304: OpenApiResponse(description="Not modified."),
                   404: OpenApiResponse(description="No such session, image or thumbnail."),
                   503: OpenApiResponse(description="The image is still being written.")},
    )
    def get(self, request: Request, name: str, filename: str) -> HttpResponseBase:
        reject_unknown_parameters(request, {"thumbnail"})
        thumbnail = boolean_parameter("thumbnail", request.query_params.get("thumbnail", "0"))
        if not selectors.in_library(name):
            raise no_such_session(name)
        source = resolve_inside(settings.SDGEN_RESULTS_DIR, name, filename)
        if source is None or not is_image_name(filename):
            raise NotFound("no such image")
        if not thumbnail:
            return file_response(request, source)
        if not is_thumbnail_source(filename):
            raise NotFound("this kind of image has no thumbnail")
        outcome = ensure_thumbnail(results_dir=settings.SDGEN_RESULTS_DIR, thumbnails_dir=settings.SDGEN_THUMBNAILS_DIR,
                                   session_name=name, filename=filename)
        if outcome.status is Status.INCOMPLETE:
            return Response({"detail": "the image is still being written; try again shortly"}, status=503,
                            headers={"Retry-After": "1"})
        if outcome.status is Status.BUSY:  # another request's render of it takes long
            return Response({"detail": outcome.error}, status=503, headers={"Retry-After": "1"})
        if outcome.status is Status.FAILED:
            raise NotFound(f"no thumbnail: {outcome.error}")
        store = thumbnail_store(settings.SDGEN_THUMBNAILS_DIR)
        if not store.local:
            return stored_response(request, store, name, thumbnail_name(filename))
        path = resolve_inside(settings.SDGEN_THUMBNAILS_DIR, name, thumbnail_name(filename))
        if path is None:
            raise NotFound("no thumbnail")
        return file_response(request, path, "image/webp")


def stored_response(request: HttpRequest, store: ThumbnailStore, session: str, name: str) -> HttpResponseBase:
    """A thumbnail from another storage, streamed through this server like a local one (with
    ETag and Last-Modified, or 304): the same address, the same authentication, and a bucket
    that only the server can reach works as well as a public one."""
    stamp = store.stamp(session, name)
    if stamp is None:
        raise NotFound("no thumbnail")
    size, mtime_ns = stamp
    etag = f'"{size:x}-{mtime_ns:x}"'
    last_modified = mtime_ns // 10**9
    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if not_modified is None:
        response: HttpResponseBase = FileResponse(store.open(session, name), content_type="image/webp")
        response["Content-Length"] = str(size)
        response["ETag"] = etag
        response["Last-Modified"] = http_date(last_modified)
    else:
        response = not_modified
    response["Cache-Control"] = CACHE_CONTROL
    return response
