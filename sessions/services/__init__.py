"""Services: the writes that span several models. Views, commands and the watcher call these."""

from sessions.lifecycle import mark_stale_sessions
from sessions.services.metadata import update_metadata
from sessions.services.sync import SessionSynchronizer, SyncReport, refresh_planner_statistics, sync_sessions

__all__ = [
    "SessionSynchronizer",
    "SyncReport",
    "mark_stale_sessions",
    "refresh_planner_statistics",
    "sync_sessions",
    "update_metadata",
]
