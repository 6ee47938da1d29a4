from __future__ import annotations

from typing import Any

from django.core.cache import cache
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request


class BearerTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, sent as ``Authorization: Bearer <token>``.

    A client that keeps presenting wrong tokens is turned away (429) for a while, so that
    tokens cannot be guessed at speed. Counts live in Django's cache, on disk in the data
    dir, shared by the web server's processes.
    """

    keyword = "Bearer"
    FAILURES_ALLOWED = 10
    WINDOW_SECONDS = 300

    def authenticate(self, request: Request) -> Any:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # not a token request: leave it to the other authentication classes
        key = f"sdgen:token-failures:{request.META.get('REMOTE_ADDR', '?')}"
        if cache.get(key, 0) >= self.FAILURES_ALLOWED:
            raise Throttled(wait=self.WINDOW_SECONDS, detail="Too many failed token attempts; try again later.")
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            cache.add(key, 0, timeout=self.WINDOW_SECONDS)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=self.WINDOW_SECONDS)
            raise
