"""What the thumbnails app does when the sessions app says something happened."""

from __future__ import annotations

import logging
from typing import Any

from sessions.models import Session
from thumbnails.services import move_session_thumbnails

logger = logging.getLogger(__name__)


def move_thumbnails_of_renamed_session(sender: type[Session], *, session: Session, old_name: str,
                                       new_name: str | None = None, **kwargs: Any) -> None:
    """A renamed session keeps its thumbnails (moved, not made again). Never raises: the rename
    is done; thumbnails left behind are found by the next catch-up (orphans removed, the rest
    made again)."""
    try:
        move_session_thumbnails(old_name=old_name, new_name=new_name or session.name)
    except Exception:
        logger.exception("%s: cannot move the thumbnails of %s", new_name or session.name, old_name)
