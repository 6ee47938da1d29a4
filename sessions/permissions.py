"""Who may change what: one rule for the API, the admin and the gallery (SPEC sections 8, 11).

Reading needs a logged-in user (or a token); every change needs the permission below, as
Django's permission system grants it (superusers hold them all). Status fixes and forgetting
also need a staff account, as in the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission


@dataclass(frozen=True)
class _Rule:
    permission: str
    staff_only: bool
    refusal: str


class SessionAction(Enum):
    CHANGE_STATUS = _Rule("gen_sessions.change_session", True,
                          "Changing a status needs a staff account with the gen_sessions.change_session permission.")
    REFRESH = _Rule("gen_sessions.change_session", False,
                    "Re-reading a session needs the gen_sessions.change_session permission.")
    EDIT_METADATA = _Rule("gen_sessions.change_sessionmetadata", False,
                          "Changing favourites, ratings, tags or notes needs the "
                          "gen_sessions.change_sessionmetadata permission.")
    FORGET = _Rule("gen_sessions.delete_session", True,
                   "Forgetting a session needs a staff account with the gen_sessions.delete_session permission.")

    @property
    def refusal(self) -> str:
        return self.value.refusal


def may(user: Any, action: SessionAction) -> bool:
    """Whether ``user`` may do ``action`` (on any session: permissions are not per object)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if action.value.staff_only and not user.is_staff:
        return False
    return user.has_perm(action.value.permission)


def api_permission(action: SessionAction) -> type[BasePermission]:
    """A DRF permission class: reads pass, writes need ``may(user, action)``."""

    class MayDo(BasePermission):
        message = action.refusal
        reads_pass = True  # the OpenAPI document (sessions.schema) documents 403 for writes only

        def has_permission(self, request: Any, view: Any) -> bool:
            return request.method in SAFE_METHODS or may(request.user, action)

    MayDo.__name__ = MayDo.__qualname__ = f"May{action.name.title().replace('_', '')}"
    return MayDo
