"""Sessions (one generator run each), their cached stats and images, user metadata, events.

The manifest on disk is the source of truth: ``Session``'s counts, ``SessionStats`` and
``SessionImage`` are a cache rebuilt from it. ``SessionMetadata`` and ``Event`` are the
user's and the system's own records and are never rebuilt.

- ``choices``: statuses, event sources and kinds.
- ``session``: ``Session``, its queryset (every rule about which sessions), ``SessionStats``.
- ``images``: ``SessionImage`` rows.
- ``metadata``: rating, notes and tags; the search words.
- ``events``: the append-only event log and the change counter.
- ``watching``: the watcher's heartbeat, the results-folder alarm, the last whole sync's digest.
- ``columns``: values that must fit their column.
"""

from __future__ import annotations

from sessions.models.choices import SYSTEM_PERFORMER, EventKind, EventSource, SessionStatus
from sessions.models.columns import fit_to_column, integer_range
from sessions.models.events import AppendOnlyError, ChangeCounter, Event, EventQuerySet
from sessions.models.images import SessionImage, SessionImageQuerySet, newest_images_first
from sessions.models.metadata import ImageText, SessionMetadata, SessionSearch, SessionTag, UserRating
from sessions.models.session import IN_LIBRARY, Session, SessionQuerySet, SessionStats, list_order
from sessions.models.watching import ResultsFolderAlarm, SyncedFolders, WatcherHeartbeat, WatcherHeartbeatManager

__all__ = [
    "IN_LIBRARY", "SYSTEM_PERFORMER", "AppendOnlyError", "ChangeCounter", "Event", "EventKind", "EventQuerySet",
    "EventSource", "ImageText", "ResultsFolderAlarm", "Session", "SessionImage", "SessionImageQuerySet",
    "SessionMetadata", "SessionQuerySet", "SessionSearch", "SessionStats", "SessionStatus", "SessionTag",
    "SyncedFolders",
    "UserRating", "WatcherHeartbeat", "WatcherHeartbeatManager", "fit_to_column", "integer_range", "list_order",
    "newest_images_first",
]
