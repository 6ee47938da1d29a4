"""The live stream of library changes (SPEC section 10): Server-Sent Events from the change feed.

One broadcaster thread per server process reads the feed (``sessions.changes``) a few times a
second and keeps the recent changes in memory; every open stream waits on it, without a
database connection of its own, and sends what is newer than its cursor. A stream that resumes
from further back (``Last-Event-ID`` after a restart) first reads the gap from the database.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from sessions.changes import latest_change
from sessions.links import image_url
from sessions.models import Session
from sessions.serializers import iso8601

logger = logging.getLogger(__name__)

FIELDS = ("change_seq", "name", "status", "images_actual", "images_expected", "completion_percentage",
          "cover_image", "updated_at")
RETAINED = 5_000  # changes kept in memory for streams that fall a little behind


def payload(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "session_id": row["name"], "status": row["status"], "images_actual": row["images_actual"],
        "images_expected": row["images_expected"], "completion_percentage": row["completion_percentage"],
        "thumbnail_url": image_url(row["name"], row["cover_image"], thumbnail=True) if row["cover_image"] else None,
        "updated_at": iso8601(row["updated_at"]),
    }


def changes_after(cursor: int, *, limit: int = 1000) -> list[tuple[int, dict[str, Any]]]:
    """(change number, payload) of the sessions changed after ``cursor``, oldest first."""
    rows = Session.objects.filter(change_seq__gt=cursor).order_by("change_seq").values(*FIELDS)[:limit]
    return [(row["change_seq"], payload(row)) for row in rows]


def format_event(seq: int, data: dict[str, Any]) -> str:
    return f"event: session\nid: {seq}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _release_connection() -> None:
    if not connection.in_atomic_block:
        connection.close()


class Broadcaster:
    """Reads the change feed every ``poll`` seconds and wakes the streams waiting for it; stops
    ``idle`` seconds after the last stream closed (``broadcaster()`` starts one again)."""

    def __init__(self, *, poll: float = 0.25, idle: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.poll = poll
        self.idle = idle
        self.monotonic = monotonic
        self.recent: deque[tuple[int, dict[str, Any]]] = deque(maxlen=RETAINED)
        self.seen = latest_change()
        self.condition = threading.Condition()
        self.stopping = threading.Event()
        self.retired = False
        self.quiet_since = monotonic()
        self.thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
        self.thread.start()

    def retire_if_idle(self) -> bool:
        """True (and retired for good) when nobody has listened for ``idle`` seconds. Decided
        under the streams' lock: a stream counted a moment before gets this broadcaster, one
        counted a moment after gets a new one, never a broadcaster that is about to stop."""
        global _broadcaster
        with _lock:
            if _open_streams:
                self.quiet_since = self.monotonic()
            elif self.monotonic() - self.quiet_since > self.idle:
                self.retired = True
                if _broadcaster is self:
                    _broadcaster = None
        return self.retired

    def _run(self) -> None:
        while not self.stopping.wait(self.poll):
            if self.retire_if_idle():
                return  # nobody listens: no more reading of the feed
            try:
                close_old_connections()
                if latest_change() > self.seen:
                    fresh = changes_after(self.seen)
                    with self.condition:
                        for seq, data in fresh:
                            self.recent.append((seq, data))
                            self.seen = max(self.seen, seq)
                        self.condition.notify_all()
            except Exception:
                logger.exception("the change feed could not be read; trying again")
            finally:
                _release_connection()  # this thread holds no connection while it sleeps

    def stop(self, *, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)
        with self.condition:
            self.condition.notify_all()  # streams waiting on it go to its successor now

    def after(self, cursor: int) -> list[tuple[int, dict[str, Any]]] | None:
        """The retained changes after ``cursor``; None when some of them are older than what is
        retained (the caller reads those from the database)."""
        with self.condition:
            if cursor >= self.seen:
                return []
            if not self.recent or cursor < self.recent[0][0] - 1:
                return None
            return [(seq, data) for seq, data in self.recent if seq > cursor]

    def wait(self, cursor: int, timeout: float) -> None:
        with self.condition:
            if self.seen <= cursor:
                self.condition.wait(timeout)


_broadcaster: Broadcaster | None = None
_lock = threading.Lock()
_open_streams: set[EventStream] = set()


def broadcaster() -> Broadcaster:
    global _broadcaster
    with _lock:
        if _broadcaster is None or _broadcaster.retired or not _broadcaster.thread.is_alive():
            _broadcaster = Broadcaster(poll=settings.SDGEN_STREAM_POLL, idle=settings.SDGEN_STREAM_IDLE)
        return _broadcaster


def stop_broadcaster() -> None:
    """Stop this process's broadcaster now rather than when it falls idle (a server that stops,
    a test whose database goes away)."""
    global _broadcaster
    with _lock:
        running, _broadcaster = _broadcaster, None
        if running is not None:
            running.retired = True
    if running is not None:
        running.stop()


class TooManyStreams(Exception):
    """Every stream this process may hold is open: the API's requests keep threads of their own."""


class EventStream:
    """One client's stream: the changes after ``cursor`` (None: from now on), a comment every
    ``keepalive`` seconds of quiet, and an end after ``lifetime`` seconds (the browser reconnects
    with the last id it saw, so nothing is lost and no server thread is held for ever).

    A process serves at most SDGEN_STREAMS_PER_PROCESS at once (``TooManyStreams`` otherwise):
    a stream counts from its creation until ``close()`` (the response calls it when it ends,
    whether or not it was iterated). Checking and counting under one lock keeps a burst of
    connections from all passing the check before any of them counts.
    """

    def __init__(self, *, cursor: int | None, keepalive: float, lifetime: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        with _lock:
            if len(_open_streams) >= settings.SDGEN_STREAMS_PER_PROCESS:
                raise TooManyStreams
            _open_streams.add(self)
        self.feed = broadcaster()
        self.cursor = cursor
        self.keepalive = keepalive
        self.lifetime = lifetime
        self.monotonic = monotonic

    def __iter__(self) -> Iterator[str]:
        if self.cursor is None:
            self.cursor = latest_change()
        yield f"retry: 1000\n: changes after {self.cursor}\n\n"
        # What happened since the client's last id (a reconnect), from the database.
        while self.cursor < latest_change():
            caught_up = changes_after(self.cursor)
            if not caught_up:
                break
            for seq, data in caught_up:
                yield format_event(seq, data)
                self.cursor = seq
        _release_connection()  # no connection is held while the stream waits
        ends = self.monotonic() + self.lifetime
        while self.monotonic() < ends:
            if self.feed.retired:  # stopped since (by stop_broadcaster): follow the one now reading
                self.feed = broadcaster()
            fresh = self.feed.after(self.cursor)
            if fresh is None:  # further back than what the feed keeps: read from the database
                fresh = changes_after(self.cursor)
                _release_connection()
            for seq, data in fresh:
                yield format_event(seq, data)
                self.cursor = seq
            if not fresh:
                waited_from = self.monotonic()
                self.feed.wait(self.cursor, min(self.keepalive, max(0.0, ends - waited_from)))
                if self.feed.seen <= self.cursor and self.monotonic() - waited_from >= self.keepalive:
                    yield ": keepalive\n\n"

    def close(self) -> None:
        with _lock:
            _open_streams.discard(self)


def close_streams() -> None:
    """Stop counting every open stream (a test whose client left a stream unread)."""
    with _lock:
        _open_streams.clear()
