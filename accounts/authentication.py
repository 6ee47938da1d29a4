"""``Authorization: Bearer <token>`` for the API, with hashed tokens (django-rest-knox).

A client that keeps presenting wrong tokens gets 429 for its wrong tokens; a right token is
always accepted, whoever else guessed wrong from the same address (behind a proxy, every
user shares one).
"""

from __future__ import annotations

import binascii
from hmac import compare_digest
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS, knox_settings
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from accounts.services import TOKEN_FAILURE_WINDOW, TOKEN_FAILURES_ALLOWED, record_token_failure
from sdgen_site.prepared import PreparedQuery

KEYWORD = "Bearer"
INVALID = _("Invalid token.")  # knox's words
_TOKEN_FIELDS = [field.attname for field in AuthToken._meta.concrete_fields]
_USER_FIELDS = [field.attname for field in get_user_model()._meta.concrete_fields]
_TOKENS = PreparedQuery(lambda key: AuthToken.objects.filter(token_key=key).order_by().values_list(
    *_TOKEN_FIELDS, *(f"user__{name}" for name in _USER_FIELDS)))


def _tokens_with_key(key: str) -> list[AuthToken]:
    """The tokens with this key, each with its user (what knox reads with select_related)."""
    tokens = []
    for row in _TOKENS.rows(key):
        auth_token = AuthToken.from_db(DEFAULT_DB_ALIAS, _TOKEN_FIELDS, row[:len(_TOKEN_FIELDS)])
        auth_token.user = get_user_model().from_db(DEFAULT_DB_ALIAS, _USER_FIELDS, row[len(_TOKEN_FIELDS):])
        tokens.append(auth_token)
    return tokens


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

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        """knox's check, with the token and its user read by one query compiled once (building
        and compiling that query cost more than the rest of a cached answer): each token with
        this key is checked for expiry, then its SHA-512 digest compared in constant time, and
        its user must be active."""
        text = token.decode("utf-8")
        for auth_token in _tokens_with_key(text[:CONSTANTS.TOKEN_KEY_LENGTH]):
            if self._cleanup_token(auth_token):
                continue
            try:
                digest = hash_token(text)
            except (TypeError, binascii.Error):
                raise AuthenticationFailed(INVALID) from None
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                return self.validate_user(auth_token)
        raise AuthenticationFailed(INVALID)

    def _cleanup_token(self, auth_token: Any) -> bool:
        """Whether the token has expired (and is deleted). knox also reads all the user's other
        tokens on every request to delete expired ones; ours get no expiry (REST_KNOX's
        TOKEN_TTL is None), so that query is left out. The token's own expiry still counts."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False
