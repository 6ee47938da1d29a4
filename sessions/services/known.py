"""What the database holds about each session folder, as far as a sync's comparisons go:
read in one plain query, and kept between the syncs of a long-lived caller (the watcher)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import connection

from sessions.stats import STATS_VERSION

# A folder's state as stored (sessions.scanning.FolderState), any of its values None where the
# database holds none: such a state matches no folder on disk.
StoredState = tuple[str, "int | None", "int | None", "int | None", "int | None", "int | None"]


class Known(NamedTuple):
    pk: int
    is_missing: bool | int  # 0/1 as SQLite gives it: only its truth is read
    folder_mtime_ns: int | None
    manifest_mtime_ns: int | None
    manifest_size: int | None
    stats_version: int | None
    folder_device: int | None
    folder_inode: int | None
    fingerprint: str | None

    def state(self, name: str) -> StoredState | None:
        """This session's stored folder state (``load_states``); None when it is missing."""
        if self.is_missing:
            return None
        if self.stats_version is not None and self.stats_version != STATS_VERSION:
            return _never_on_disk(name)
        return (name, self.folder_mtime_ns, self.folder_device, self.folder_inode, self.manifest_mtime_ns,
                self.manifest_size)

    @property
    def identity(self) -> tuple[int, int] | None:
        """The folder as a file system object, when known."""
        if self.folder_device is None or self.folder_inode is None:
            return None
        return self.folder_device, self.folder_inode


def _never_on_disk(name: str) -> StoredState:
    # No folder has a None mtime: the name differs whether its folder is there (it is read
    # again) or gone (it is marked missing, or followed to its new name).
    return name, None, None, None, None, None


_SQL = (
    "SELECT s.name, s.id, s.is_missing, s.folder_mtime_ns, s.manifest_mtime_ns, s.manifest_size, st.stats_version, "
    "s.folder_device, s.folder_inode, s.fingerprint "
    "FROM gen_sessions_session s LEFT JOIN gen_sessions_sessionstats st ON st.session_id = s.id"
)


def load_known(where: str = "", params: Sequence[Any] = ()) -> dict[str, Known]:
    # Plain SQL: a library of 100,000 sessions is read in a fraction of what the ORM takes.
    with connection.cursor() as cursor:
        cursor.execute(f"{_SQL} {where}", list(params))
        rows = cursor.fetchall()
    make = Known._make
    return {row[0]: make(row[1:]) for row in rows}


def load_states() -> set[StoredState]:
    """The stored folder state (``StoredState``) of each present session: a
    sync leaves it unread while its folder shows the same. Six columns a row, as plain tuples:
    a whole library's are compared with what is on disk as two sets, without a Python object
    for each session. A session whose stats are of another version has a state no folder
    shows, so that it is looked at whatever its folder shows."""
    with connection.cursor() as cursor:
        cursor.execute(_STATES_SQL, [False])
        states = set(cursor.fetchall())
        cursor.execute(_OUTDATED_SQL, [STATS_VERSION, STATS_VERSION])
        outdated = {name for (name,) in cursor.fetchall()}
    if outdated:  # after an upgrade that changed what the stats hold
        states = {_never_on_disk(state[0]) if state[0] in outdated else state for state in states}
    return states


_STATES_SQL = (
    "SELECT name, folder_mtime_ns, folder_device, folder_inode, manifest_mtime_ns, manifest_size "
    "FROM gen_sessions_session WHERE is_missing = %s"
)
# Two ranges rather than <>: both databases read them from the stats_of_version index.
_OUTDATED = "st.stats_version < %s OR st.stats_version > %s"
_OUTDATED_SQL = (
    "SELECT s.name FROM gen_sessions_sessionstats st JOIN gen_sessions_session s ON s.id = st.session_id "
    f"WHERE {_OUTDATED}"
)


def any_outdated_stats() -> bool:
    """Whether any session has stats of another version than this code's (after an upgrade)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM gen_sessions_sessionstats st WHERE {_OUTDATED} LIMIT 1",
                       [STATS_VERSION, STATS_VERSION])
        return cursor.fetchone() is not None


def load_named(names: Sequence[str]) -> dict[str, Known]:
    if not names:
        return {}
    return load_known(f"WHERE s.name IN ({', '.join(['%s'] * len(names))})", names)


class KnownSessions:
    """Kept by a caller that syncs again and again: after the first load, each ``current()``
    reads only the rows changed since (every writer moves ``updated_at``)."""

    def __init__(self) -> None:
        self._entries: dict[str, Known] | None = None
        self._states: dict[str, StoredState] = {}  # of the entries that have one (Known.state)
        self._loaded_at: datetime | None = None

    def current(self, *, now: datetime) -> dict[str, Known]:
        if self._entries is None or self._loaded_at is None:
            self._entries, self._states = {}, {}
            self._merge(load_known())
        else:
            since = self._loaded_at - timedelta(seconds=2)
            self._merge(load_known("WHERE s.updated_at >= %s", [since]))
        self._loaded_at = now
        return self._entries

    def states(self) -> set[StoredState]:
        """``load_states()`` as of the last ``current()``."""
        return set(self._states.values())

    def forget(self, names: Sequence[str]) -> None:
        """Read ``names`` again from the database (after this caller wrote them)."""
        if self._entries is not None:
            for name in names:
                self._entries.pop(name, None)
                self._states.pop(name, None)
            self._merge(load_named(list(names)))

    def _merge(self, fresh: dict[str, Known]) -> None:
        assert self._entries is not None
        # A session renamed elsewhere comes back under its new name: drop its old one.
        moved = {entry.pk for entry in fresh.values()}
        for name in [name for name, entry in self._entries.items() if entry.pk in moved and name not in fresh]:
            del self._entries[name]
            self._states.pop(name, None)
        self._entries.update(fresh)
        for name, entry in fresh.items():
            if (state := entry.state(name)) is None:
                self._states.pop(name, None)
            else:
                self._states[name] = state
