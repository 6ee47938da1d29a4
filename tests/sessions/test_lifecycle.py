from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
import time_machine
from django.db import transaction

from sessions.lifecycle import ALLOWED_MOVES, TransitionRefused, record_events, transition_status
from sessions.models import AppendOnlyError, Event, EventKind, Session
from tests.conftest import create_session, utc

pytestmark = pytest.mark.django_db

STATUSES = ["ongoing", "completed", "aborted"]
SOURCES = ["watchdog", "system", "admin", "api"]
# SPEC section 4, row by row: (from, to, source) → "move" | "noop" | "refused".
TABLE = {
    ("ongoing", "completed", "watchdog"): "move",
    ("ongoing", "aborted", "watchdog"): "move",
    ("aborted", "ongoing", "watchdog"): "move",
    ("aborted", "completed", "watchdog"): "move",
    ("completed", "ongoing", "watchdog"): "refused",
    ("completed", "aborted", "watchdog"): "refused",
    ("ongoing", "aborted", "system"): "move",
    ("ongoing", "completed", "system"): "refused",
    ("completed", "aborted", "system"): "refused",
    ("aborted", "completed", "system"): "refused",
    ("aborted", "ongoing", "system"): "refused",
    ("completed", "ongoing", "system"): "refused",
    **{
        (a, b, person): "move"
        for person in ("admin", "api")
        for a, b in [("ongoing", "completed"), ("ongoing", "aborted"), ("completed", "aborted"), ("aborted", "completed")]
    },
    **{(a, "ongoing", person): "refused" for person in ("admin", "api") for a in ("completed", "aborted")},
    **{(s, s, src): "noop" for s in STATUSES for src in ("watchdog", "system")},
    **{(s, s, src): "refused" for s in STATUSES for src in ("admin", "api")},
}


def test_the_table_covers_every_move() -> None:
    assert len(TABLE) == len(STATUSES) ** 2 * len(SOURCES)
    allowed = {(a, b, source) for source, moves in ALLOWED_MOVES.items() for a, b in moves}
    assert allowed == {key for key, verdict in TABLE.items() if verdict == "move"}


@pytest.mark.parametrize(("from_status", "to_status", "source"), sorted(TABLE), ids=["-".join(key) for key in sorted(TABLE)])
def test_transition_table(from_status: str, to_status: str, source: str) -> None:
    session = create_session(status=from_status)
    performer = "alice" if source in ("admin", "api") else "system"
    verdict = TABLE[(from_status, to_status, source)]
    if verdict == "refused":
        with pytest.raises(TransitionRefused):
            transition_status(session=session, to_status=to_status, source=source, performer=performer,
                              reason="fixing it")
        assert Session.objects.get(pk=session.pk).status == from_status
        assert Event.objects.filter(session=session).count() == 1
        return
    event = transition_status(session=session, to_status=to_status, source=source, performer=performer,
                              reason="fixing it" if source in ("admin", "api") else "")
    stored = Session.objects.get(pk=session.pk)
    if verdict == "noop":
        assert event is None
        assert Event.objects.filter(session=session).count() == 1
        return
    assert stored.status == to_status == session.status
    assert stored.status_source == source
    assert (event.kind, event.from_status, event.to_status, event.source) == (
        EventKind.STATUS_CHANGED, from_status, to_status, source)
    assert event.performer_id == performer


def test_manual_changes_need_a_reason_and_a_user() -> None:
    session = create_session()
    with pytest.raises(TransitionRefused, match="reason is required"):
        transition_status(session=session, to_status="aborted", source="admin", performer="alice", reason="  ")
    with pytest.raises(ValueError, match="user's name"):
        transition_status(session=session, to_status="aborted", source="api", reason="because")
    assert Session.objects.get(pk=session.pk).status == "ongoing"


def test_refusals_say_why() -> None:
    session = create_session(status="completed")
    with pytest.raises(TransitionRefused, match="only the generator starts or resumes a run"):
        transition_status(session=session, to_status="ongoing", source="admin", performer="a", reason="r")
    with pytest.raises(TransitionRefused, match="already completed"):
        transition_status(session=session, to_status="completed", source="api", performer="a", reason="r")
    with pytest.raises(TransitionRefused, match="not a status"):
        transition_status(session=session, to_status="paused", source="api", performer="a", reason="r")


def test_watchdog_and_system_events_are_performed_by_system() -> None:
    session = create_session()
    event = transition_status(session=session, to_status="aborted", source="system", performer="mallory",
                              reason="stale")
    assert event.performer_id == "system"
    assert event.reason == "stale"


def test_person_and_system_changes_pin_the_manifest_they_saw() -> None:
    session = create_session(manifest_mtime_ns=123)
    transition_status(session=session, to_status="aborted", source="system", reason="stale")
    assert Session.objects.get(pk=session.pk).status_pinned_manifest_ns == 123
    # The same manifest asking again: the verdict stands, checked under the row lock.
    assert transition_status(session=session, to_status="ongoing", source="watchdog", manifest_mtime_ns=123) is None
    assert Session.objects.get(pk=session.pk).status == "aborted"
    # A manifest written since: it speaks again.
    transition_status(session=session, to_status="ongoing", source="watchdog", manifest_mtime_ns=456)
    stored = Session.objects.get(pk=session.pk)
    assert stored.status == "ongoing" and stored.status_pinned_manifest_ns is None


def test_a_failed_event_write_leaves_the_status_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    session = create_session()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("sessions.lifecycle.insert_objects", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        transition_status(session=session, to_status="completed", source="watchdog")
    monkeypatch.undo()
    stored = Session.objects.get(pk=session.pk)
    assert stored.status == "ongoing"
    assert list(Event.objects.filter(session=session).values_list("kind", flat=True)) == ["discovered"]


def test_a_failed_event_write_inside_an_outer_transaction_rolls_back_only_the_move(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = create_session()
    monkeypatch.setattr("sessions.lifecycle.insert_objects",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with transaction.atomic():
        with pytest.raises(RuntimeError):
            transition_status(session=session, to_status="aborted", source="watchdog")
        assert Session.objects.get(pk=session.pk).status == "ongoing"


def test_a_status_changed_by_another_writer_meanwhile_is_not_overwritten(monkeypatch: pytest.MonkeyPatch) -> None:
    session = create_session(status="ongoing")
    read_before_the_other_write = Session.objects.get(pk=session.pk)
    Session.objects.filter(pk=session.pk).update(status="completed")  # another process wins

    class StaleRead:  # what a reader without a row lock (SQLite) may have seen
        def only(self, *fields):
            return self

        def get(self, **lookup):
            return read_before_the_other_write

    monkeypatch.setattr(Session.objects, "select_for_update", StaleRead)
    with pytest.raises(TransitionRefused, match="changed at the same time"):
        transition_status(session=session, to_status="aborted", source="watchdog")
    monkeypatch.undo()
    assert Session.objects.get(pk=session.pk).status == "completed"
    assert Event.objects.filter(session=session).count() == 1


def test_event_shape_and_millisecond_utc_timestamps() -> None:
    with time_machine.travel(utc(2025, 11, 7, 12, 31, 0, 123456), tick=False):
        session = create_session()
        event = transition_status(session=session, to_status="aborted", source="system", reason="stale")
    event.refresh_from_db()
    assert event.timestamp == utc(2025, 11, 7, 12, 31, 0, 123000)
    assert event.record_id.version == 4
    assert event.record_id != Event.objects.get(kind="discovered").record_id


def test_timestamps_never_go_backwards_when_the_clock_does() -> None:
    session = create_session()
    later = Event.objects.get(session=session).timestamp
    earlier = later - timedelta(hours=1)
    transition_status(session=session, to_status="completed", source="watchdog", now=earlier)
    transition_status(session=session, to_status="aborted", source="admin", performer="bob", reason="bad", now=earlier)
    # In the order written (the model's default ordering would sort them by time).
    stamps = list(Event.objects.filter(session=session).order_by("id").values_list("timestamp", flat=True))
    assert stamps == sorted(stamps)
    assert stamps[-1] >= later


def test_event_chain_invariants_over_a_sequence_of_moves() -> None:
    session = create_session()
    moves = [("completed", "watchdog"), ("aborted", "admin"), ("completed", "api"), ("aborted", "api")]
    for status, source in moves:
        transition_status(session=session, to_status=status, source=source, performer="carol", reason="r")
    events = list(Event.objects.filter(session=session).order_by("id"))
    assert [e.kind for e in events].count("discovered") == 1
    assert events[0].kind == "discovered" and events[0].from_status is None
    for previous, event in pairwise(events):
        assert event.from_status == previous.to_status
        assert event.timestamp >= previous.timestamp
    assert events[-1].to_status == Session.objects.get(pk=session.pk).status


class TestEventsAreAppendOnly:
    def test_saving_an_existing_event_raises(self) -> None:
        event = Event.objects.get(session=create_session())
        event.reason = "rewritten"
        with pytest.raises(AppendOnlyError):
            event.save()
        assert Event.objects.get(pk=event.pk).reason == ""

    def test_deleting_raises(self) -> None:
        session = create_session()
        event = Event.objects.get(session=session)
        with pytest.raises(AppendOnlyError):
            event.delete()
        with pytest.raises(AppendOnlyError):
            Event.objects.filter(session=session).delete()
        with pytest.raises(AppendOnlyError):
            Event.objects.all().update(reason="x")
        with pytest.raises(AppendOnlyError), transaction.atomic():
            Event.objects.bulk_update([event], ["reason"])
        assert Event.objects.filter(session=session).count() == 1

    def test_a_session_with_events_cannot_be_deleted(self) -> None:
        from django.db.models import ProtectedError

        session = create_session()
        with pytest.raises(ProtectedError):
            session.delete()

    def test_record_events_appends_in_bulk(self) -> None:
        from sessions.lifecycle import EventSpec

        session = create_session()
        events = record_events([EventSpec(session_id=session.pk, kind="missing", source="watchdog",
                                          from_status="ongoing", to_status="ongoing")] * 2)
        assert len(events) == 2
        assert Event.objects.filter(session=session).count() == 3
