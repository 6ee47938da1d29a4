"""The site's WSGI application: Django's handler, with a shorter middleware chain for API
requests that carry a bearer token.

Such a request uses no cookie, session, CSRF token or flash message: the API's first
authentication class reads the ``Bearer`` header and either finds the token's user or refuses
the request (401), so the session authentication after it is never asked. The middlewares
that only serve cookies, pages and the admin's login cost 0.1–0.2 ms of a small API answer's
1–2 ms through the web server; the chain for those requests leaves them out. Every other
request (pages, the admin, the API with a session cookie) goes through the whole chain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http.response import HttpResponseBase

from sdgen_site.middleware import API_PREFIX

NOT_FOR_TOKEN_API_REQUESTS = frozenset({
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files are never under /api/
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # only cookie-authenticated requests need it
    "django.contrib.auth.middleware.AuthenticationMiddleware",  # DRF sets request.user itself
    "django.contrib.messages.middleware.MessageMiddleware",
    "axes.middleware.AxesMiddleware",  # lock-outs of the login forms; wrong tokens are counted apart
})

StartResponse = Callable[..., Any]


def is_token_api_request(environ: dict[str, Any]) -> bool:
    """An API request whose ``Authorization`` header names the Bearer scheme."""
    return (environ.get("PATH_INFO", "").startswith(API_PREFIX)
            and environ.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer ")


class TokenApiHandler(WSGIHandler):
    """Django's handler over ``settings.MIDDLEWARE`` less ``NOT_FOR_TOKEN_API_REQUESTS``."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds its chain from settings.MIDDLEWARE alone: the shorter list stands in
        # for it while this handler is built (once, at start-up), then the whole list is back.
        whole = settings.MIDDLEWARE
        settings.MIDDLEWARE = [path for path in whole if path not in NOT_FOR_TOKEN_API_REQUESTS]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = whole


class SiteHandler(WSGIHandler):
    """The whole chain, except for token-authenticated API requests (``TokenApiHandler``)."""

    def __init__(self) -> None:
        super().__init__()
        self.token_api = TokenApiHandler()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> HttpResponseBase:
        if is_token_api_request(environ):
            return self.token_api(environ, start_response)
        return super().__call__(environ, start_response)
