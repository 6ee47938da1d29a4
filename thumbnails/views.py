"""The image files of sessions, and their thumbnails rendered on demand."""

from __future__ import annotations

import os

from django.conf import settings
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sessions.image_files import is_image_name, is_thumbnail_source
from sessions.models import Session
from sessions.scanning import resolve_inside
from sessions.views import boolean_parameter, file_response, no_such_session, reject_unknown_parameters
from thumbnails.rendering import Status
from thumbnails.services import THUMBNAIL_SUFFIX, ensure_thumbnail


class SessionImageFileView(APIView):
    """An image file of a session; with ``?thumbnail=1`` its WebP thumbnail, rendered on demand."""

    @extend_schema(
        summary="An image file, or its thumbnail",
        parameters=[OpenApiParameter("thumbnail", OpenApiTypes.BOOL, description="1: the WebP thumbnail, rendered "
                                     "now if missing.")],
        responses={(200, "image/*"): OpenApiTypes.BINARY, 304: OpenApiResponse(description="Not modified."),
                   404: OpenApiResponse(description="No such session, image or thumbnail."),
                   503: OpenApiResponse(description="The PNG is still being written.")},
    )
    def get(self, request: Request, name: str, filename: str) -> HttpResponseBase:
        reject_unknown_parameters(request, {"thumbnail"})
        thumbnail = boolean_parameter("thumbnail", request.query_params.get("thumbnail", "0"))
        if not Session.objects.in_library().filter(name=name).exists():
            raise no_such_session(name)
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
        if outcome.status is Status.BUSY:  # another request's render of it takes long
            return Response({"detail": outcome.error}, status=503, headers={"Retry-After": "1"})
        if outcome.status is Status.FAILED:
            raise NotFound(f"no thumbnail: {outcome.error}")
        path = resolve_inside(settings.SDGEN_THUMBNAILS_DIR, name, os.path.splitext(filename)[0] + THUMBNAIL_SUFFIX)
        if path is None:
            raise NotFound("no thumbnail")
        return file_response(request, path, "image/webp")
