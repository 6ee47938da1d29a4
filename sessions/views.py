"""The REST API (SPEC section 8). Views validate and call selectors and services."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.http.response import HttpResponseBase
from django.urls import Resolver404, resolve
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django_filters import FilterSet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from sessions import selectors
from sessions.conditional import (
    library_validator,
    library_version,
    metadata_validator,
    session_data_validator,
    session_validator,
)
from sessions.filters import (
    ImageFilter,
    LibraryImageFilter,
    SessionFilter,
    StrictBooleanField,
    free_text_parameters,
)
from sessions.lifecycle import TransitionRefused, transition_status
from sessions.manifest import MANIFEST_NAME
from sessions.models import EventSource, Session, SessionImage, SessionMetadata
from sessions.pagination import EnvelopePagination, ImagePagination, RecentLikedPagination
from sessions.permissions import SessionAction, api_permission
from sessions.scanning import ResultsDirError, resolve_inside
from sessions.selectors import SessionVersion
from sessions.serializers import (
    EventListSerializer,
    EventSerializer,
    ImageSerializer,
    MetadataSerializer,
    SessionSerializer,
    StatsSerializer,
    StatusChangeSerializer,
)
from sessions.services import sync_sessions, update_metadata
from sessions.sparse import PARAMETER as FIELDS
from sessions.sparse import fields_parameter, requested_fields

logger = logging.getLogger(__name__)

CACHE_CONTROL = "private, max-age=300"
PAGINATION_PARAMETERS = frozenset({"limit", "offset"})
# DRF's browsable API chooses its renderer with ?format=.
ALWAYS_ALLOWED = frozenset({"format"})


def reject_unknown_parameters(request: Request, allowed: Collection[str], *, free_text: Collection[str] = ()) -> None:
    """Unknown query parameters are a 400, and so is an empty value of any parameter but a free
    text one (``free_text``): ``status=`` or ``thumbnail=`` is no value, as the OpenAPI document says."""
    unknown = sorted(set(request.query_params) - set(allowed) - ALWAYS_ALLOWED)
    if unknown:
        raise ValidationError({name: ["Unknown query parameter."] for name in unknown})
    empty = sorted(name for name, values in request.query_params.lists()
                   if name not in free_text and any(not v.strip() for v in values))
    if empty:
        raise ValidationError({name: ["This parameter needs a value."] for name in empty})


def reject_body(request: Request) -> None:
    """For actions that take no body: any field sent is unknown."""
    data = request.data
    if data and hasattr(data, "keys"):
        raise ValidationError({name: ["Unknown field."] for name in sorted(data.keys())})
    if data and not hasattr(data, "keys"):
        raise ValidationError({"detail": "This action takes no body."})


def file_response(request: HttpRequest, path: Path, content_type: str | None = None) -> HttpResponseBase:
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


IMAGE_FILTERS = frozenset(ImageFilter.base_filters)
NO_STATS = "this session has no readable manifest, and its images carry no parameters: no stats"
SESSION_FIELDS = SessionSerializer.Meta.fields
IMAGE_FIELDS = ImageSerializer.Meta.fields


@extend_schema_view(
    list=extend_schema(summary="Sessions, filtered and ordered, newest first by default",
                       parameters=[fields_parameter(SESSION_FIELDS)]),
    retrieve=extend_schema(summary="One session", parameters=[fields_parameter(SESSION_FIELDS)]),
)
class SessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Generation sessions with their stats and user metadata."""

    serializer_class = SessionSerializer
    lookup_field = "name"
    lookup_value_regex = r"[^/]+"  # names hold dots and spaces
    filter_backends = [DjangoFilterBackend]
    filterset_class = SessionFilter
    pagination_class = EnvelopePagination
    # The filters each action takes (its query parameters, and their OpenAPI description).
    filtersets: dict[str, type[FilterSet]] = {"list": SessionFilter, "images": ImageFilter}
    paginated = frozenset({"list", "recent_liked", "images"})
    # The actions that answer items and take fields= (the item's fields they choose from).
    sparse_items: dict[str, list[str]] = {"list": SESSION_FIELDS, "retrieve": SESSION_FIELDS,
                                          "recent_liked": SESSION_FIELDS, "images": IMAGE_FIELDS}
    wanted: frozenset[str] | None = None
    # The answers with an ETag and Last-Modified, 304 when the client's copy is current.
    conditional = frozenset({"list", "retrieve", "recent_liked", "stats", "images", "metadata"})

    # The body each action takes (the browsable API builds its forms from these).
    serializer_classes: dict[str, type] = {"metadata": MetadataSerializer, "change_status": StatusChangeSerializer}

    def get_queryset(self):
        return selectors.sessions_with_details(fields=self.wanted)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "fields": self.wanted}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        sessions = self.get_queryset()
        queryset = self.filter_queryset(sessions)  # a bad filter is a 400, never a 304
        self.pages.validate(request)
        version = library_version()
        validator = library_validator(request, version)
        if (not_modified := validator.not_modified(request)) is not None:
            return not_modified
        if version[1] is not None:  # (nothing synced yet: no version to trust, as for /api/stats)
            self.pages.count_version = version  # the rows depend on nothing else (the ETag says the same)
        self.pages.details = sessions
        page = self.paginate_queryset(queryset)
        return validator.stamp(self.get_paginated_response(self.get_serializer(page, many=True).data))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        validator = session_validator(request, self.session_version())
        if (answer := validator.not_modified(request) or validator.kept_answer(request)) is not None:
            return answer
        session = self.session()
        # Validated by the version the answer is built from (it may have moved since the first look).
        return session_validator(request, SessionVersion.of(session)).keep(
            request, Response(self.get_serializer(self._item(session)).data))

    def _item(self, session: Session) -> Session:
        if self.wanted is not None and not self.wanted & {"stats", "metadata"}:
            return session  # its own columns are enough: the look-up already read them
        item = self.get_queryset().filter(pk=session.pk).first()
        if item is None:  # forgotten in between
            raise no_such_session(self.kwargs["name"])
        return item

    @property
    def pages(self) -> EnvelopePagination:
        assert isinstance(self.paginator, EnvelopePagination)
        return self.paginator

    def get_serializer_class(self) -> type:
        return self.serializer_classes.get(self.action, SessionSerializer)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication and permissions come first
        filterset = self.filtersets.get(self.action)
        allowed = set(filterset.base_filters) if filterset else set()
        if self.action in self.paginated:
            allowed |= PAGINATION_PARAMETERS
        if self.action in self.sparse_items:
            allowed.add(FIELDS)
        reject_unknown_parameters(request, allowed, free_text=free_text_parameters(filterset) if filterset else ())
        if self.action in self.sparse_items:
            self.wanted = requested_fields(request, self.sparse_items[self.action])

    def session_version(self) -> SessionVersion:
        version = selectors.session_version(self.kwargs["name"])
        if version is None:
            raise no_such_session(self.kwargs["name"])
        return version

    def session(self) -> Session:
        session = selectors.session_named(self.kwargs["name"])
        if session is None:
            raise no_such_session(self.kwargs["name"])
        return session

    def session_with_stats(self) -> Session:
        """The session with all its stats (for answers that show them whole)."""
        session = Session.objects.in_library().select_related("stats").filter(name=self.kwargs["name"]).first()
        if session is None:
            raise no_such_session(self.kwargs["name"])
        return session

    @extend_schema(summary="Favourite sessions, most recently annotated first",
                   responses=SessionSerializer(many=True), parameters=[fields_parameter(SESSION_FIELDS)])
    @action(detail=False, url_path="recent/liked", pagination_class=RecentLikedPagination, filter_backends=[])
    def recent_liked(self, request: Request) -> Response:
        self.pages.validate(request)
        validator = library_validator(request)
        if (not_modified := validator.not_modified(request)) is not None:
            return not_modified
        page = self.paginate_queryset(selectors.recently_liked_sessions(fields=self.wanted))
        return validator.stamp(self.get_paginated_response(self.get_serializer(page, many=True).data))

    @extend_schema(summary="The session's stats", responses={200: StatsSerializer, 404: OpenApiResponse(
        description="No such session, or it has no readable manifest.")})
    @action(detail=True, url_path="stats", filter_backends=[])
    def stats(self, request: Request, name: str) -> HttpResponseBase:
        # One narrow query, then the JSON the sync rendered: this answer is polled often.
        answer = selectors.stats_answer(name)
        if answer is None:
            raise no_such_session(name)
        if answer.source is None or (answer.source == "manifest" and not answer.has_manifest):
            raise NotFound(NO_STATS)  # whatever copy the client holds
        validator = session_data_validator(request, "stats", pk=answer.pk, change_seq=answer.change_seq,
                                           updated_at=answer.updated_at)
        if (not_modified := validator.not_modified(request)) is not None:
            return not_modified
        if answer.rendered is not None and isinstance(request.accepted_renderer, JSONRenderer):
            return validator.stamp(HttpResponse(answer.rendered, content_type=JSONRenderer.media_type))
        return validator.stamp(Response(StatsSerializer(self._stats_of(self.session_with_stats())).data))

    @extend_schema(
        summary="Recompute the session's stats from disk now", request=None,
        responses={200: StatsSerializer,
                   404: OpenApiResponse(description="No such session, its folder is gone, or it has no manifest."),
                   409: OpenApiResponse(description="The manifest cannot be read now; the last good stats are kept."),
                   503: OpenApiResponse(description="The results folder cannot be used.")},
    )
    @action(detail=True, methods=["post"], url_path="stats/refresh", filter_backends=[],
            permission_classes=[IsAuthenticated, api_permission(SessionAction.REFRESH)])
    def refresh_stats(self, request: Request, name: str) -> Response:
        reject_body(request)
        session = self.session()
        try:
            sync_sessions(results_dir=settings.SDGEN_RESULTS_DIR, names=[session.name], full=True)
        except ResultsDirError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        session = self.session_with_stats()
        if session.is_missing:
            raise NotFound("the session's folder is no longer in the results folder")
        if session.sync_error:
            return Response({"detail": f"it could not be read again: {session.sync_error}"},
                            status=status.HTTP_409_CONFLICT)
        return Response(StatsSerializer(self._stats_of(session)).data)

    @staticmethod
    def _stats_of(session: Session):
        stats = getattr(session, "stats", None)
        if stats is None or (stats.source == "manifest" and not session.has_manifest):
            raise NotFound(NO_STATS)
        return stats

    @extend_schema(methods=["GET"], summary="The session's user metadata (defaults until first set)",
                   responses=MetadataSerializer)
    @extend_schema(methods=["PATCH"], summary="Change some metadata fields; created on first use",
                   request=MetadataSerializer, responses=MetadataSerializer)
    @action(detail=True, methods=["get", "patch"], url_path="metadata", filter_backends=[],
            permission_classes=[IsAuthenticated, api_permission(SessionAction.EDIT_METADATA)])
    def metadata(self, request: Request, name: str) -> HttpResponseBase:
        if request.method == "PATCH":
            serializer = MetadataSerializer(data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            update_metadata(session=self.session(), changes=dict(serializer.validated_data))
            return Response(MetadataSerializer(self._metadata(name)).data)
        version = self.session_version()
        validator = metadata_validator(request, pk=version.pk, updated_at=version.metadata_updated_at)
        if (answer := validator.not_modified(request) or validator.kept_answer(request)) is not None:
            return answer
        metadata = self._metadata(name)
        return metadata_validator(request, pk=metadata.session.pk, updated_at=metadata.updated_at).keep(
            request, Response(MetadataSerializer(metadata).data))

    @staticmethod
    def _metadata(name: str) -> SessionMetadata:
        metadata = selectors.metadata_named(name)
        if metadata is None:
            raise no_such_session(name)
        return metadata

    @extend_schema(summary="The session's event log, oldest first", responses=EventListSerializer)
    @action(detail=True, url_path="events", filter_backends=[])
    def events(self, request: Request, name: str) -> Response:
        events = selectors.session_events(self.session())
        return Response({"events": EventSerializer(events, many=True).data})

    @extend_schema(
        summary="Fix the status by hand (staff with gen_sessions.change_session)",
        request=StatusChangeSerializer,
        responses={200: SessionSerializer, 403: OpenApiResponse(description=SessionAction.CHANGE_STATUS.refusal),
                   409: OpenApiResponse(description="The state machine refuses this change.")},
    )
    @action(detail=True, methods=["post"], url_path="status", filter_backends=[],
            permission_classes=[IsAuthenticated, api_permission(SessionAction.CHANGE_STATUS)])
    def change_status(self, request: Request, name: str) -> Response:
        serializer = StatusChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        session = self.session()
        try:
            transition_status(session=session, to_status=serializer.validated_data["status"], source=EventSource.API,
                              performer=request.user.get_username(), reason=serializer.validated_data["reason"])
        except TransitionRefused as refusal:
            return Response({"detail": str(refusal)}, status=status.HTTP_409_CONFLICT)
        return Response(SessionSerializer(self.get_queryset().get(pk=session.pk)).data)

    @extend_schema(summary="The session's images", responses=ImageSerializer(many=True),
                   parameters=[fields_parameter(IMAGE_FIELDS)])
    @action(detail=True, url_path="images/", url_name="images", pagination_class=ImagePagination, filter_backends=[])
    def images(self, request: Request, name: str) -> HttpResponseBase:
        version = self.session_version()
        filterset = None
        if not IMAGE_FILTERS.isdisjoint(request.query_params):  # a bad filter is a 400, never a 304
            filterset = ImageFilter(request.query_params, queryset=selectors.session_images(version.pk),
                                    request=request)
            if not filterset.is_valid():
                raise ValidationError(filterset.errors)
        self.pages.validate(request)
        validator = session_data_validator(request, "images", pk=version.pk, change_seq=version.change_seq,
                                           updated_at=version.updated_at)
        if (answer := validator.not_modified(request) or validator.kept_answer(request)) is not None:
            return answer
        session = self.session()
        validator = session_data_validator(request, "images", pk=session.pk, change_seq=session.change_seq,
                                           updated_at=session.updated_at)
        return validator.keep(request, self._images_page(request, session, filterset))

    def _images_page(self, request: Request, session: Session, filterset: FilterSet | None) -> Response:
        # A session's images unfiltered, when they fit on the page asked for (most runs): one
        # query compiled once, rather than a count and a page.
        whole = (selectors.every_session_image(session)
                 if filterset is None and session.images_actual <= self.pages.get_limit(request) else None)
        if whole is not None:
            page: list[Any] | None = self.pages.paginate_list(whole, request)
        else:
            page = self.paginate_queryset(selectors.session_images(session) if filterset is None else filterset.qs)
        return self.get_paginated_response(
            ImageSerializer(page, many=True, context={"session": session, "fields": self.wanted}).data)

    @extend_schema(summary="The manifest as stored on disk", responses={(200, "application/json"): OpenApiTypes.OBJECT})
    @action(detail=True, url_path="manifest", filter_backends=[])
    def manifest(self, request: Request, name: str) -> HttpResponseBase:
        if not selectors.in_library(name):
            raise no_such_session(name)
        path = resolve_inside(settings.SDGEN_RESULTS_DIR, name, MANIFEST_NAME)
        if path is None:
            raise NotFound("this session has no manifest on disk")
        return file_response(request, path, "application/json")


@extend_schema_view(list=extend_schema(summary="Images across the library, newest first; q searches them",
                                       parameters=[fields_parameter(IMAGE_FIELDS)]))
class LibraryImageViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Images of every session in the library."""

    serializer_class = ImageSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = LibraryImageFilter
    pagination_class = ImagePagination
    wanted: frozenset[str] | None = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema only needs the model
            return SessionImage.objects.none()
        return selectors.library_images(with_params=self.wanted is None or "params" in self.wanted)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "fields": self.wanted}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        images = self.get_queryset()
        assert isinstance(self.paginator, EnvelopePagination)
        self.paginator.details = images
        page = self.paginate_queryset(self.filter_queryset(images))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        reject_unknown_parameters(request, frozenset(LibraryImageFilter.base_filters) | PAGINATION_PARAMETERS
                                  | {FIELDS}, free_text=free_text_parameters(LibraryImageFilter))
        self.wanted = requested_fields(request, IMAGE_FIELDS)


def no_such_session(name: str) -> NotFound:
    return NotFound(f"no session named {name!r}")


def boolean_parameter(name: str, value: str) -> bool:
    """The API's one boolean rule (true/false/1/0), the filters' own."""
    try:
        return bool(StrictBooleanField().clean(value))
    except forms.ValidationError as exc:
        raise ValidationError({name: exc.messages}) from None


def api_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Unmatched paths under /api/ answer in JSON too; a missing final slash is redirected."""
    with_slash = request.path + "/"
    if not request.path.endswith("/"):
        try:
            match = resolve(with_slash)
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(with_slash + (f"?{query}" if query else ""))
    return JsonResponse({"detail": "Not found."}, status=404)
