"""What the database holds about each session folder, as far as a sync's comparisons go:
read in one plain query, and kept between the syncs of a long-lived caller (the watcher)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import connection


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

    @property
    def identity(self) -> tuple[int, int] | None:
        """The folder as a file system object, when known."""
        if self.folder_device is None or self.folder_inode is None:
            return None
        return self.folder_device, self.folder_inode


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


def load_named(names: Sequence[str]) -> dict[str, Known]:
    if not names:
        return {}
    return load_known(f"WHERE s.name IN ({', '.join(['%s'] * len(names))})", names)


class KnownSessions:
    """Kept by a caller that syncs again and again: after the first load, each ``current()``
    reads only the rows changed since (every writer moves ``updated_at``)."""

    def __init__(self) -> None:
        self._entries: dict[str, Known] | None = None
        self._loaded_at: datetime | None = None

    def current(self, *, now: datetime) -> dict[str, Known]:
        if self._entries is None or self._loaded_at is None:
            self._entries = load_known()
        else:
            since = self._loaded_at - timedelta(seconds=2)
            self._merge(load_known("WHERE s.updated_at >= %s", [since]))
        self._loaded_at = now
        return self._entries

    def forget(self, names: Sequence[str]) -> None:
        """Read ``names`` again from the database (after this caller wrote them)."""
        if self._entries is not None:
            for name in names:
                self._entries.pop(name, None)
            self._merge(load_named(list(names)))

    def _merge(self, fresh: dict[str, Known]) -> None:
        assert self._entries is not None
        # A session renamed elsewhere comes back under its new name: drop its old one.
        moved = {entry.pk for entry in fresh.values()}
        for name in [name for name, entry in self._entries.items() if entry.pk in moved and name not in fresh]:
            del self._entries[name]
        self._entries.update(fresh)
