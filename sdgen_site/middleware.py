"""Requests no view should see, and failures no view should turn into a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
RETRY_AFTER_SECONDS = 5


def _answer(request: HttpRequest, status: int, detail: dict | str) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse(detail if isinstance(detail, dict) else {"detail": detail}, status=status)
    text = detail if isinstance(detail, str) else "; ".join(f"{k}: {' '.join(v)}" for k, v in detail.items())
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


class RejectNulCharactersMiddleware:
    """A NUL character can be in no name, file name or filter value, and PostgreSQL cannot
    even compare text with one: such a path is a 404, such a query parameter a 400."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            return _answer(request, 404, "Not found: a path cannot hold a NUL character.")
        bad = sorted({name for name, values in request.GET.lists()
                      if "\x00" in name or any("\x00" in value for value in values)})
        if bad:
            return _answer(request, 400, {name.replace("\x00", "\\0"): ["NUL characters are not allowed."]
                                          for name in bad})
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """While the database is down (or locked for too long), answer 503 with a short reason;
    the error itself, with its host and database names, goes to the log only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.error("database unavailable during %s %s", request.method, request.path, exc_info=exception)
        response = _answer(request, 503, "The database is not available right now; try again shortly.")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
