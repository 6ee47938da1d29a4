"""Requests no view should see, and failures no view should turn into a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.middleware.gzip import GZipMiddleware

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


class ApiJsonGZipMiddleware(GZipMiddleware):
    """Compresses the API's JSON answers for clients that accept gzip (Django's GZipMiddleware,
    which leaves out answers under 200 bytes and adds random padding against BREACH).

    Only those: HTML pages carry CSRF tokens next to text a visitor can put in the URL (what
    BREACH needs), the live stream must not be held back, and images are compressed already.
    No API answer holds a secret (tokens are shown by ``manage.py drf_create_token`` alone);
    an answer that ever does must be sent with ``Cache-Control: no-store``, and is left alone.
    """

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if (not request.path.startswith(API_PREFIX)
                or not response.get("Content-Type", "").startswith("application/json")
                or "no-store" in response.get("Cache-Control", "")):
            return response
        return super().process_response(request, response)
