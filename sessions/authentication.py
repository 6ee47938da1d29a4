from __future__ import annotations

from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, sent as ``Authorization: Bearer <token>``."""

    keyword = "Bearer"
