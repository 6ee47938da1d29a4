"""Limit/offset pagination in the API's envelope, strict about its parameters."""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response


def _whole_number(request: Request, name: str, *, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"'{raw}' is not a whole number."]}) from None
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValidationError({name: [f"{value} is out of range: it must be {allowed}."]})
    return value


class EnvelopePagination(LimitOffsetPagination):
    """``{"<items_key>": [...], "total_count", "limit", "offset", "next", "previous"}``.

    Unlike DRF's, a malformed or out-of-range ``limit`` or ``offset`` is a 400, not ignored.
    """

    default_limit = 100
    max_limit = 500
    items_key = "sessions"
    # Set by a view that knows what its list's rows depend on (conditional.library_version()):
    # a total counted at that version is kept (Django's cache) and given again for any page of
    # the same filters, rather than counted again. A search matching most of a large library
    # costs its count on the first page asked for, not on every page after it.
    count_version: tuple | None = None
    COUNT_KEPT_FOR = 600  # seconds; a newer version is another key anyway
    # The list's rows before its filters, when the view sets it: a page's details are read from
    # it by id, rather than with the search or the filters worked out again for those ids (a
    # search matching most of a large library made that as costly as the page's ids).
    details: Any = None

    def get_count(self, queryset: Any) -> int:
        if self.count_version is None:
            return super().get_count(queryset)
        try:
            sql, params = queryset.query.get_compiler(queryset.db).as_sql()
        except EmptyResultSet:  # a filter left no row possible (none()): no query to run
            return 0
        seen = repr((sql, params, self.count_version)).encode()
        key = f"sessions:count:{hashlib.blake2b(seen, digest_size=16).hexdigest()}"
        count = cache.get(key)
        if count is None:
            count = super().get_count(queryset)
            cache.set(key, count, timeout=self.COUNT_KEPT_FOR)
        return count

    def get_limit(self, request: Request) -> int:
        return _whole_number(request, self.limit_query_param, default=self.default_limit, minimum=1,
                             maximum=self.max_limit)

    def get_offset(self, request: Request) -> int:
        return _whole_number(request, self.offset_query_param, default=0, minimum=0)

    def validate(self, request: Request) -> None:
        """A malformed limit or offset is a 400 before anything else is answered (a 304 too)."""
        self.get_limit(request)
        self.get_offset(request)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        """The page's ids first (an index walk, however deep the offset), then the details of
        those ids only: a deep page costs what the first one costs. What fits on one page is
        read in one go."""
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        self.count = self.get_count(queryset)
        if self.count == 0 or self.offset >= self.count:
            return []
        if self.offset == 0 and self.count <= self.limit:  # all on one page: no ids to pick first
            return list(queryset)
        ids = list(queryset.prefetch_related(None).values_list("pk", flat=True)[self.offset:self.offset + self.limit])
        base = queryset if self.details is None else self.details
        details = {row.pk: row for row in base.order_by().filter(pk__in=ids)}
        return [details[pk] for pk in ids if pk in details]

    def paginate_list(self, items: list[Any], request: Request) -> list[Any]:
        """The page of a list already read whole."""
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        self.count = len(items)
        return items[self.offset:self.offset + self.limit]

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response({
            self.items_key: data,
            "total_count": self.count,
            "limit": self.limit,
            "offset": self.offset,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
        })

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": [self.items_key, "total_count", "limit", "offset", "next", "previous"],
            "properties": {
                self.items_key: schema,
                "total_count": {"type": "integer", "example": 1234},
                "limit": {"type": "integer", "example": self.default_limit},
                "offset": {"type": "integer", "example": 0},
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {"type": "string", "format": "uri", "nullable": True},
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {"name": "limit", "required": False, "in": "query",
             "description": f"Items per page, 1 to {self.max_limit} (default {self.default_limit}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_limit, "default": self.default_limit}},
            {"name": "offset", "required": False, "in": "query", "description": "Items to skip (default 0).",
             "schema": {"type": "integer", "minimum": 0, "default": 0}},
        ]


class RecentLikedPagination(EnvelopePagination):
    default_limit = 10


class ImagePagination(EnvelopePagination):
    items_key = "images"
