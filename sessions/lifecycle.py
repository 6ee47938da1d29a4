"""Who may change a session's status, and what gets recorded (SPEC sections 4, 5 and 11).

- ``status_at_discovery``: the status a session is first seen with (event ``discovered``).
- ``transition_status``: the only code that changes a status after discovery, through the
  state machine, under a row lock.
- ``mark_missing``, ``restored_events``: a folder that disappears and comes back.
- ``mark_stale_sessions``: the stale rule (``system`` aborts runs that stopped moving).
- ``forget_sessions``: a person removes missing sessions from the library.
- ``rename_sessions``: a session whose folder was renamed or moved keeps its identity.
- ``record_events``: the only code that writes events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from sessions.bulk_insert import insert_objects
from sessions.changes import stamp_changes
from sessions.models import SYSTEM_PERFORMER, Event, EventKind, EventSource, Session, SessionStatus
from sessions.scanning import stamp_session_folder
from sessions.signals import session_renamed

if TYPE_CHECKING:
    from sessions.services.renames import Rename

logger = logging.getLogger(__name__)

ONGOING, COMPLETED, ABORTED = SessionStatus.ONGOING, SessionStatus.COMPLETED, SessionStatus.ABORTED
STALE_REASON = "stale"

_MANUAL_MOVES = frozenset({(ONGOING, COMPLETED), (ONGOING, ABORTED), (COMPLETED, ABORTED), (ABORTED, COMPLETED)})
ALLOWED_MOVES: dict[str, frozenset[tuple[str, str]]] = {
    EventSource.WATCHDOG: frozenset({(ONGOING, COMPLETED), (ONGOING, ABORTED), (ABORTED, ONGOING), (ABORTED, COMPLETED)}),
    EventSource.SYSTEM: frozenset({(ONGOING, ABORTED)}),
    EventSource.ADMIN: _MANUAL_MOVES,
    EventSource.API: _MANUAL_MOVES,
}
_PEOPLE = frozenset({EventSource.ADMIN, EventSource.API})


class TransitionRefused(Exception):
    """A status change the state machine does not allow; ``str(error)`` says why."""


@dataclass(frozen=True)
class EventSpec:
    session_id: int
    kind: str
    source: str
    from_status: str | None = None
    to_status: str | None = None
    performer_id: str = SYSTEM_PERFORMER
    reason: str = ""


def status_at_discovery(*, manifest_status: str | None, has_manifest: bool) -> str:
    """What the manifest says; a manifest unreadable on first sight is most likely a run
    rewriting it right now (ongoing); a folder without one is a finished set of images."""
    if manifest_status is not None:
        return manifest_status
    return ONGOING if has_manifest else COMPLETED


def discovered_events(sessions: Iterable[Session]) -> list[EventSpec]:
    return [EventSpec(session_id=s.pk, kind=EventKind.DISCOVERED, source=EventSource.WATCHDOG, to_status=s.status)
            for s in sessions]


def restored_events(sessions: Iterable[Session]) -> list[EventSpec]:
    """For sessions whose folder is back (forgotten ones included: they return)."""
    return [EventSpec(session_id=s.pk, kind=EventKind.RESTORED, source=EventSource.WATCHDOG, from_status=s.status,
                      to_status=s.status) for s in sessions]


def is_move_needed(*, from_status: str, to_status: str, source: str) -> bool:
    """Check a move against the table: False for a silent no-op, raise when refused."""
    if source not in ALLOWED_MOVES:
        raise ValueError(f"unknown event source {source!r}")
    if to_status not in SessionStatus.values:
        raise TransitionRefused(f"{to_status!r} is not a status (use one of: {', '.join(SessionStatus.values)})")
    if from_status == to_status:
        if source in _PEOPLE:
            raise TransitionRefused(f"the session is already {to_status}")
        return False
    if (from_status, to_status) in ALLOWED_MOVES[source]:
        return True
    if to_status == ONGOING and source in _PEOPLE:
        raise TransitionRefused("only the generator starts or resumes a run: a status cannot be set to ongoing by hand")
    raise TransitionRefused(f"a {source} change from {from_status} to {to_status} is not allowed")


def transition_status(
    *,
    session: Session,
    to_status: str,
    source: str,
    performer: str = SYSTEM_PERFORMER,
    reason: str = "",
    manifest_mtime_ns: int | None = None,
    now: datetime | None = None,
) -> Event | None:
    """Move ``session`` to ``to_status`` and record the event, atomically.

    Returns the new event, or None for a watchdog or system no-op. Raises
    ``TransitionRefused`` for a move the table refuses; nothing is written then.
    For the watchdog, ``manifest_mtime_ns`` is the mtime of the manifest that asks for the
    move: while it is the one a person or the stale rule saw when setting the status, their
    verdict stands (a no-op). ``session`` is updated in place on success.
    """
    reason = reason.strip()
    if source in _PEOPLE:
        if not reason:
            raise TransitionRefused("a reason is required for a manual status change")
        if not performer or performer == SYSTEM_PERFORMER:
            raise ValueError("a manual status change needs the user's name as performer")
    else:
        performer = SYSTEM_PERFORMER
    now = now or timezone.now()
    with transaction.atomic():
        # The row lock serialises writers on PostgreSQL; the status condition in the UPDATE
        # (compare-and-set) protects SQLite, which has no row locks.
        current = (
            Session.objects.select_for_update()
            .only("status", "manifest_mtime_ns", "status_pinned_manifest_ns")
            .get(pk=session.pk)
        )
        pinned = current.status_pinned_manifest_ns
        if source == EventSource.WATCHDOG and pinned is not None and pinned == (manifest_mtime_ns or 0):
            return None  # the manifest has not changed since a person or the stale rule spoke
        if not is_move_needed(from_status=current.status, to_status=to_status, source=source):
            return None
        # A person's or the stale rule's verdict stands until the manifest changes after it.
        pinned = None if source == EventSource.WATCHDOG else (current.manifest_mtime_ns or 0)
        changes = {
            "status": to_status,
            "status_source": source,
            "status_changed_at": now,
            "status_pinned_manifest_ns": pinned,
            "updated_at": now,
        }
        if Session.objects.filter(pk=session.pk, status=current.status).update(**changes) != 1:
            raise TransitionRefused("the session's status changed at the same time; try again")
        stamp_changes([session.pk])
        (event,) = record_events(
            [
                EventSpec(
                    session_id=session.pk,
                    kind=EventKind.STATUS_CHANGED,
                    source=source,
                    from_status=current.status,
                    to_status=to_status,
                    performer_id=performer,
                    reason=reason,
                )
            ],
            now=now,
        )
    for name, value in changes.items():
        setattr(session, name, value)
    logger.info("%s: %s → %s by %s (%s)%s", session.name, current.status, to_status, source, performer,
                f": {reason}" if reason else "")
    return event


def record_events(specs: Sequence[EventSpec], *, now: datetime | None = None) -> list[Event]:
    """Append events. Timestamps are UTC milliseconds and never go backwards per session."""
    if not specs:
        return []
    stamp = _milliseconds(now or timezone.now())
    latest = dict(
        Event.objects.filter(session_id__in={spec.session_id for spec in specs})
        .values("session_id")
        .annotate(latest=Max("timestamp"))
        .values_list("session_id", "latest")
    )
    events = []
    for spec in specs:
        timestamp = max(stamp, latest.get(spec.session_id) or stamp)
        latest[spec.session_id] = timestamp
        events.append(
            Event(
                session_id=spec.session_id,
                kind=spec.kind,
                source=spec.source,
                from_status=spec.from_status,
                to_status=spec.to_status,
                performer_id=spec.performer_id,
                reason=spec.reason,
                timestamp=timestamp,
            )
        )
    insert_objects(events, returning_pk=True)
    return events


def _milliseconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def mark_missing(*, session_ids: Sequence[int], now: datetime) -> int:
    """Flag sessions whose folder is gone; their stats, images and metadata are kept."""
    if not session_ids:
        return 0
    with transaction.atomic():
        sessions = list(Session.objects.filter(pk__in=session_ids, is_missing=False).only("pk", "name", "status"))
        Session.objects.filter(pk__in=[s.pk for s in sessions]).update(
            is_missing=True, folder_mtime_ns=None, updated_at=now
        )
        stamp_changes([s.pk for s in sessions])
        record_events(
            [
                EventSpec(session_id=s.pk, kind=EventKind.MISSING, source=EventSource.WATCHDOG,
                          from_status=s.status, to_status=s.status)
                for s in sessions
            ],
            now=now,
        )
    for session in sessions:
        logger.info("%s: folder is gone, marked missing", session.name)
    return len(sessions)


def mark_stale_sessions(*, now: datetime | None = None, stale_after: timedelta | None = None) -> int:
    """Abort ongoing sessions that showed no change for ``SDGEN_STALE_AFTER`` minutes."""
    now = now or timezone.now()
    stale_after = stale_after if stale_after is not None else timedelta(minutes=settings.SDGEN_STALE_AFTER)
    count = 0
    for session in Session.objects.stale(inactive_since=now - stale_after):
        try:
            if transition_status(session=session, to_status=ABORTED, source=EventSource.SYSTEM,
                                 reason=STALE_REASON, now=now):
                count += 1
        except TransitionRefused as exc:
            logger.info("%s: not marked stale: %s", session.name, exc)
    return count


@dataclass
class ForgetReport:
    forgotten: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # name → why not


def forget_sessions(*, names: Sequence[str], results_dir: Path, source: str, performer: str,
                    now: datetime) -> ForgetReport:
    """Forget the named sessions that are missing (SPEC section 11): out of every list, count
    and search, their event log kept; a forgotten session whose folder comes back returns
    with its metadata (the sync restores it). The others are refused, with the reason.

    A session's folder is looked for on disk as well: one that came back since the last sync
    is present, whatever the database last recorded.
    """
    report = ForgetReport()
    with transaction.atomic():
        sessions = {s.name: s for s in Session.objects.select_for_update().filter(name__in=list(names))}
        to_forget = []
        for name in dict.fromkeys(names):
            session = sessions.get(name)
            if session is None or session.forgotten_at is not None:
                report.refused[name] = "no such session in the library"
            elif not session.is_missing or stamp_session_folder(results_dir, name) is not None:
                report.refused[name] = "its folder is in the results folder: only missing sessions can be forgotten"
            else:
                to_forget.append(session)
        Session.objects.filter(pk__in=[s.pk for s in to_forget]).update(forgotten_at=now, updated_at=now)
        stamp_changes([s.pk for s in to_forget])
        record_events([EventSpec(session_id=s.pk, kind=EventKind.FORGOTTEN, source=source, from_status=s.status,
                                 to_status=s.status, performer_id=performer) for s in to_forget], now=now)
    for session in to_forget:
        report.forgotten.append(session.name)
        logger.info("%s: forgotten by %s (%s)", session.name, performer, source)
    return report


def rename_sessions(renames: Sequence[Rename], *, now: datetime) -> list[tuple[Session, str]]:
    """Give each session its folder's new name, with a ``renamed`` event ("from <old name>"): its
    UUID, metadata, events and stats stay; nothing is missing and nothing new is discovered.
    Returns (session, old name) for each session renamed.

    A name the database still gives to a missing session (whose folder left long ago) is taken
    from it: that session stays missing under "<name> (replaced <id>)". Swaps work (every name is
    let go before any is taken). Listeners of ``session_renamed`` hear of each after the commit.
    """
    if not renames:
        return []
    from sessions.services.search_documents import refresh_session_words

    ids = [rename.session_id for rename in renames]
    with transaction.atomic():
        sessions = {s.pk: s for s in Session.objects.select_for_update().filter(pk__in=ids)}
        holders = Session.objects.filter(name__in=[r.new_name for r in renames]).exclude(pk__in=ids)
        moves = [(holder, f"{holder.name} (replaced {holder.uuid.hex[:8]})") for holder in holders]
        moves += [(sessions[r.session_id], r.new_name) for r in renames if r.session_id in sessions]
        for session, _ in moves:  # every name let go first: the unique names never collide
            Session.objects.filter(pk=session.pk).update(name=f"~renaming~{session.pk}")
        renamed = []
        for session, new_name in moves:
            renamed.append((session, session.name))
            Session.objects.filter(pk=session.pk).update(name=new_name, updated_at=now)
            session.name = new_name
            refresh_session_words(session=session)
        record_events([EventSpec(session_id=session.pk, kind=EventKind.RENAMED, source=EventSource.WATCHDOG,
                                 from_status=session.status, to_status=session.status, reason=f"from {old_name}")
                       for session, old_name in renamed], now=now)
        stamp_changes([session.pk for session, _ in renamed])
        for session, old_name in renamed:
            transaction.on_commit(partial(session_renamed.send, sender=Session, session=session, old_name=old_name,
                                          new_name=session.name))
    for session, old_name in renamed:
        logger.info("%s: renamed from %s", session.name, old_name)
    return renamed
