"""``Authorization: Bearer <token>`` for the API, with hashed tokens (django-rest-knox).

A client that keeps presenting wrong tokens gets 429 for its wrong tokens; a right token is
always accepted, whoever else guessed wrong from the same address (behind a proxy, every
user shares one).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from knox.auth import TokenAuthentication
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from accounts.services import TOKEN_FAILURE_WINDOW, TOKEN_FAILURES_ALLOWED, record_token_failure

KEYWORD = "Bearer"


class BearerTokenAuthentication(TokenAuthentication):
    def authenticate_header(self, request: Request) -> str:
        return KEYWORD

    def authenticate(self, request: Request) -> Any:
        header = get_authorization_header(request).split()
        if header and header[0].lower() == b"token":
            raise AuthenticationFailed(
                f"Send the token as 'Authorization: {KEYWORD} <token>' (the scheme is {KEYWORD}, not Token).")
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            if header and header[0].lower() == KEYWORD.lower().encode():
                failures = record_token_failure(address=request.META.get("REMOTE_ADDR") or "?", now=timezone.now())
                if failures > TOKEN_FAILURES_ALLOWED:
                    raise Throttled(wait=TOKEN_FAILURE_WINDOW.total_seconds(),
                                    detail="Too many wrong tokens from this address; try again later.") from None
            raise

    def _cleanup_token(self, auth_token: Any) -> bool:
        """Whether the token has expired (and is deleted). knox also reads all the user's other
        tokens on every request to delete expired ones; ours get no expiry (REST_KNOX's
        TOKEN_TTL is None), so that query is left out. The token's own expiry still counts."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False
