"""Services: the writes that span several models. Views, commands and the watcher call these."""

from sessions.services.forget import ForgetReport, forget_sessions
from sessions.services.metadata import update_metadata
from sessions.services.sync import (
    SessionSynchronizer,
    SyncReport,
    mark_missing,
    mark_stale_sessions,
    sync_sessions,
)

__all__ = [
    "ForgetReport",
    "forget_sessions",
    "SessionSynchronizer",
    "SyncReport",
    "mark_missing",
    "mark_stale_sessions",
    "sync_sessions",
    "update_metadata",
]
