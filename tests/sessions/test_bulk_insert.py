"""``insert_objects`` stores every kind of value the sync writes, in any mix of nulls, hands back
keys in order, and upserts, on both databases."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from sessions.bulk_insert import insert_objects
from sessions.models import Session, SessionStats

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 11, 21, 4, 36, 1, 123456, tzinfo=timezone.utc)


def session(name: str, **fields) -> Session:
    return Session(**{"name": name, "status": "completed", "status_source": "watchdog", "status_changed_at": WHEN,
                      "created_at": WHEN, "last_activity_at": WHEN, "first_seen_at": WHEN, "updated_at": WHEN,
                      **fields})


def test_sessions_are_stored_with_their_keys_in_order() -> None:
    sessions = [
        session("a ünïcode 'quoted' name", folder_mtime_ns=1_700_000_000_123_456_789, images_actual=3,
                completion_percentage=42.5, sync_error="a\nnew line", cover_image="x.png"),
        session("b", folder_mtime_ns=None, completion_percentage=None, sync_error=None, forgotten_at=WHEN),
        session("c"),
    ]
    insert_objects(sessions, returning_pk=True)
    stored = {row.pk: row for row in Session.objects.all()}
    assert [stored[s.pk].name for s in sessions] == [s.name for s in sessions]
    first, second = stored[sessions[0].pk], stored[sessions[1].pk]
    assert (first.folder_mtime_ns, first.images_actual, first.completion_percentage, first.sync_error) == (
        1_700_000_000_123_456_789, 3, 42.5, "a\nnew line")
    assert first.cover_image == "x.png" and first.created_at == WHEN
    assert (second.folder_mtime_ns, second.completion_percentage, second.sync_error, second.forgotten_at) == (
        None, None, None, WHEN)


def test_a_column_null_in_every_row_and_an_upsert() -> None:
    owners = [session(name) for name in ("a", "b")]
    insert_objects(owners, returning_pk=True)
    rows = [SessionStats(session_id=owner.pk, stats_computed_at=WHEN, stats_version=1, sd_model=None,
                         placeholders={"Expression": 2}, variations_summary={}) for owner in owners]
    insert_objects(rows, update_conflicts_on=["session"], update_fields=["sd_model", "placeholders"])
    again = [SessionStats(session_id=owners[0].pk, stats_computed_at=WHEN, stats_version=1, sd_model="v1-5",
                          placeholders={"nested": {"list": [1, None, "two"]}}, variations_summary={})]
    insert_objects(again, update_conflicts_on=["session"], update_fields=["sd_model", "placeholders"])
    stored = {row.session_id: row for row in SessionStats.objects.all()}
    assert (stored[owners[0].pk].sd_model, stored[owners[0].pk].placeholders) == (
        "v1-5", {"nested": {"list": [1, None, "two"]}})
    assert (stored[owners[1].pk].sd_model, stored[owners[1].pk].placeholders) == (None, {"Expression": 2})


def test_datetimes_of_any_zone_are_stored_as_the_same_moment() -> None:
    moments = [WHEN, datetime(2026, 7, 14, 22, 30, tzinfo=ZoneInfo("Europe/Paris")),
               datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=ZoneInfo("America/Los_Angeles")),
               datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)]
    sessions = [session(f"s{number}", last_activity_at=moment, forgotten_at=None if number % 2 else moment)
                for number, moment in enumerate(moments)]
    insert_objects(sessions, returning_pk=True)
    for stored, moment in zip(Session.objects.order_by("name"), moments, strict=True):
        assert stored.last_activity_at == moment
        assert stored.forgotten_at == (None if stored.name in ("s1", "s3") else moment)
    # What Django's own writes give: a filter on the same moment finds the row.
    assert Session.objects.filter(last_activity_at=moments[1]).get().name == "s1"


def test_texts_and_json_that_need_escaping_in_a_plain_insert() -> None:
    """On PostgreSQL a plain insert goes by COPY, whose text format escapes tabs, new lines and
    backslashes itself."""
    awkward = 'tab\there, back\\slash, "quotes", CR\r\nLF, \\N, ünïcode ✓'
    owner = session(awkward, sync_error=awkward)
    insert_objects([owner], returning_pk=True)
    placeholders = {awkward: [awkward, None, 1.5, {"\\": "\t"}]}
    insert_objects([SessionStats(session_id=owner.pk, stats_computed_at=WHEN, stats_version=1, sd_model=awkward,
                                 placeholders=placeholders, variations_summary={})])
    stored = Session.objects.get(pk=owner.pk)
    assert (stored.name, stored.sync_error) == (awkward, awkward)
    stats = SessionStats.objects.get(session_id=owner.pk)
    assert (stats.sd_model, stats.placeholders) == (awkward, placeholders)


def test_keys_handed_out_are_not_handed_out_again() -> None:
    inserted = [session(name) for name in ("a", "b", "c")]
    insert_objects(inserted, returning_pk=True)
    later = Session.objects.create(**{field: getattr(session("d"), field) for field in (
        "name", "status", "status_source", "status_changed_at", "created_at", "last_activity_at", "first_seen_at",
        "updated_at")})
    assert later.pk not in {s.pk for s in inserted}
    insert_objects(more := [session("e")], returning_pk=True)
    assert more[0].pk not in {later.pk, *(s.pk for s in inserted)}
    assert Session.objects.count() == 5


def test_a_row_that_breaks_a_constraint_is_django_s_integrity_error() -> None:
    """The sync's writer tells a collision with a concurrent sync by it."""
    insert_objects([session("a")], returning_pk=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_objects([session("b"), session("a")], returning_pk=True)
    assert list(Session.objects.values_list("name", flat=True)) == ["a"]
