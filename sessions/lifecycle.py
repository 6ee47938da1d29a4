"""The session status state machine (SPEC section 4) and the event log (SPEC section 5).

``transition_status`` is the only code that changes a session's status after discovery;
``record_events`` is the only code that writes events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from sessions.models import SYSTEM_PERFORMER, Event, EventKind, EventSource, Session, SessionStatus

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
    for field, value in changes.items():
        setattr(session, field, value)
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
    return Event.objects.bulk_create(events)


def _milliseconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
