"""What the last whole sync left the database holding of the session folders, as one digest.

A whole sync compares every folder's state on disk with every present session's stored state
(``sessions.services.known.load_states``). Reading a library's worth of stored states costs
more than looking at the folders; while the database has not been written since the last whole
sync (its change counter, its newest session write and the stats version are the same), the
digest of the states then stored stands for them: folders that give the same digest show
exactly what is stored, and the sync has nothing to read.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from django.db.models import Max

from sessions.models import ChangeCounter, Session, SyncedFolders
from sessions.scanning import FolderState
from sessions.services.known import StoredState, any_outdated_stats, load_states
from sessions.stats import STATS_VERSION

# Each state's five numbers, as they are in nearly every state (a folder without a manifest has
# None for two; a number out of range cannot be packed): a text of them stands in then.
_PACK = struct.Struct("<5q").pack
_BITS = 64


class DatabaseMarks(NamedTuple):
    """What moves with every write of a session: the change counter (each write that changes
    what a list shows), the newest ``updated_at`` (every writer moves it), and the stats version
    of this code."""

    change_value: int
    newest_update: datetime | None
    stats_version: int


def database_marks() -> DatabaseMarks:
    """Two look-ups: the counter's row, and the first entry of the index of the sessions' writes
    (``session_by_updated``: forgotten sessions move the counter when they are forgotten or
    come back, and are not written otherwise)."""
    value = ChangeCounter.objects.filter(pk=1).values_list("value", flat=True).first()
    newest = Session.objects.in_library().aggregate(newest=Max("updated_at"))["newest"]
    return DatabaseMarks(value or 0, newest, STATS_VERSION)


def states_digest(states: Iterable[StoredState | FolderState]) -> tuple[int, int]:
    """How many states, and one digest of them all, whatever their order and in any process: the
    sum of each state's BLAKE2b, kept to a signed 64-bit number, what a BigIntegerField holds.
    (Python's own hash of a state's tuple would be cheaper, but summed it is nearly linear in
    the tuple's parts: two folders swapping names gave the same sum about one time in twenty.)"""
    blake2b, number, pack, error = hashlib.blake2b, int.from_bytes, _PACK, struct.error
    total = count = 0
    for state in states:
        try:
            numbers = b"p" + pack(*state[1:])
        except error:
            numbers = b"r" + repr(state[1:]).encode("ascii") + b"\0"  # no folder name holds a NUL
        total += number(blake2b(numbers + state[0].encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                        "little")
        count += 1
    total &= (1 << _BITS) - 1
    return count, total - (1 << _BITS) if total >> (_BITS - 1) else total


def folders_as_synced(on_disk: list[FolderState], marks: DatabaseMarks) -> bool:
    """Whether the folders on disk show what the database held after the last whole sync, and
    the database is still as it was then (``marks``, read before this look)."""
    synced = SyncedFolders.objects.filter(pk=1).first()
    if synced is None or DatabaseMarks(synced.change_value, synced.newest_update, synced.stats_version) != marks:
        return False
    if any_outdated_stats():  # stats of an older version, however they came there, are read again
        return False
    return states_digest(on_disk) == (synced.states, synced.digest)


def record_synced_folders(*, marks: DatabaseMarks, states: set[StoredState] | None = None) -> None:
    """Record the digest of the stored states (``states``: as loaded after ``marks`` were read,
    by the caller when it has them; else loaded here). A write between the marks and the states
    moves the marks past the recorded ones, so the next sync compares the states one by one."""
    count, digest = states_digest(load_states() if states is None else states)
    SyncedFolders.objects.update_or_create(pk=1, defaults={
        "states": count, "digest": digest, "change_value": marks.change_value,
        "newest_update": marks.newest_update, "stats_version": marks.stats_version})
