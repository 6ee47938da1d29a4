"""GET /api/stream: Server-Sent Events of library changes, in order, resumable, authenticated."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from sessions.changes import latest_change
from sessions.lifecycle import transition_status
from sessions.models import Session
from sessions.services import sync_sessions
from sessions.stream import EventStream, TooManyStreams, stop_broadcaster

RANDOM = "20261121_043627-random_test"


def parse(text: str) -> list[dict]:
    """The events of a stream's text: {"event", "id", "data"} each (comments left out)."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
                      and ": " in line)
        if "data" in fields:
            events.append({"event": fields.get("event"), "id": int(fields["id"]), "data": json.loads(fields["data"])})
    return events


def read(stream: EventStream, *, until, deadline: float = 10.0) -> str:
    """Iterate ``stream`` until ``until(text)`` or the deadline; then close it."""
    text = ""
    ends = time.monotonic() + deadline
    iterator = iter(stream)
    try:
        for chunk in iterator:
            text += chunk
            if until(text) or time.monotonic() > ends:
                break
    finally:
        stream.close()
    return text


@pytest.mark.django_db
def test_every_change_since_a_cursor_in_order(synced_results: Path) -> None:
    events = parse(read(EventStream(cursor=0, keepalive=5, lifetime=2), until=lambda text: text.count("data:") >= 4))
    assert [event["data"]["session_id"] for event in events] == sorted(
        Session.objects.values_list("name", flat=True), key=lambda name: Session.objects.get(name=name).change_seq)
    assert [event["id"] for event in events] == sorted(event["id"] for event in events)
    random = next(event for event in events if event["data"]["session_id"] == RANDOM)
    assert random["event"] == "session"
    assert random["data"] == {
        "session_id": RANDOM, "status": "completed", "images_actual": 2, "images_expected": 2,
        "completion_percentage": 100.0, "thumbnail_url": f"/api/sessions/{RANDOM}/images/random_test_0000.png?thumbnail=1",
        "updated_at": random["data"]["updated_at"],
    }
    # Resuming after the third change gives the fourth only.
    after = parse(read(EventStream(cursor=events[2]["id"], keepalive=5, lifetime=1), until=lambda text: "data:" in text))
    assert [event["id"] for event in after] == [events[3]["id"]]


@pytest.mark.django_db
def test_status_changes_and_missing_folders_are_changes(synced_results: Path, tmp_path: Path) -> None:
    before = latest_change()
    session = Session.objects.get(name=RANDOM)
    transition_status(session=session, to_status="aborted", source="admin", performer="ada", reason="test")
    shutil.move(synced_results / RANDOM, tmp_path / RANDOM)
    sync_sessions(results_dir=synced_results)
    # A session's latest state, at its latest change: here the two changes are one event.
    events = parse(read(EventStream(cursor=before, keepalive=5, lifetime=0.5), until=lambda text: False))
    assert [(event["data"]["session_id"], event["data"]["status"]) for event in events] == [(RANDOM, "aborted")]
    assert latest_change() == events[-1]["id"] == before + 2


@pytest.mark.django_db
def test_a_quiet_stream_sends_a_comment_and_ends_after_its_lifetime(synced_results: Path) -> None:
    started = time.monotonic()
    text = read(EventStream(cursor=None, keepalive=0.1, lifetime=0.5), until=lambda text: False)
    assert ": keepalive" in text and "data:" not in text
    assert text.startswith("retry: 1000\n")
    assert time.monotonic() - started < 5


@pytest.mark.django_db(transaction=True)
def test_a_change_made_while_the_stream_is_open_arrives(synced_results: Path) -> None:
    stream = EventStream(cursor=None, keepalive=5, lifetime=10)
    iterator = iter(stream)
    try:
        assert next(iterator).startswith("retry:")
        transition_status(session=Session.objects.get(name=RANDOM), to_status="aborted", source="admin",
                          performer="ada", reason="while watching")
        event = next(iterator)  # the broadcaster reads the feed and wakes this stream
    finally:
        stream.close()
    assert parse(event)[0]["data"]["status"] == "aborted"


@pytest.mark.django_db
def test_the_endpoint(api, synced_results: Path, settings) -> None:
    assert APIClient().get("/api/stream").status_code == 401
    settings.SDGEN_STREAM_LIFETIME = 0.3
    response = api.get("/api/stream", HTTP_LAST_EVENT_ID="0", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache"
    text = b"".join(response.streaming_content).decode()  # the test client closes it at the end
    assert len(parse(text)) == 4
    bad = api.get("/api/stream", HTTP_LAST_EVENT_ID="yesterday", HTTP_ACCEPT="text/event-stream")
    assert bad.status_code == 400 and b"not a change number" in bad.content


@pytest.mark.django_db
def test_a_process_holds_only_so_many_streams(api, synced_results: Path, settings) -> None:
    settings.SDGEN_STREAMS_PER_PROCESS = 1
    held = EventStream(cursor=None, keepalive=5, lifetime=5)
    iterator = iter(held)
    next(iterator)
    try:
        refused = api.get("/api/stream", HTTP_ACCEPT="text/event-stream")
        assert refused.status_code == 503 and refused["Retry-After"]
    finally:
        held.close()
    accepted = api.get("/api/stream", HTTP_ACCEPT="text/event-stream")
    accepted.close()  # as the server does when the client goes
    assert accepted.status_code == 200


@pytest.mark.django_db
def test_a_burst_of_streams_is_counted_before_any_is_read(settings) -> None:
    # Connections arriving together are all created before the server reads from any of them:
    # each must count from its creation, or all of them pass the limit.
    settings.SDGEN_STREAMS_PER_PROCESS = 2
    first = EventStream(cursor=None, keepalive=5, lifetime=5)
    second = EventStream(cursor=None, keepalive=5, lifetime=5)
    try:
        with pytest.raises(TooManyStreams):
            EventStream(cursor=None, keepalive=5, lifetime=5)
    finally:
        first.close()
        first.close()  # closing twice frees one place, not two
    third = EventStream(cursor=None, keepalive=5, lifetime=5)
    with pytest.raises(TooManyStreams):
        EventStream(cursor=None, keepalive=5, lifetime=5)
    second.close()
    third.close()


@pytest.mark.django_db
def test_a_stream_never_gets_a_broadcaster_that_is_stopping(settings) -> None:
    # The broadcaster stops once nobody has listened for SDGEN_STREAM_IDLE seconds. A stream
    # opened just as it decides to stop must get a new one, or it waits for ever on one that no
    # longer reads the feed (the session page then never sees its new images).
    settings.SDGEN_STREAM_POLL = 60.0  # its thread stays out of the way: the test decides when it looks
    settings.SDGEN_STREAM_IDLE = 0.0
    first = EventStream(cursor=None, keepalive=5, lifetime=5)
    feed = first.feed
    feed.quiet_since -= 1
    assert not feed.retire_if_idle()  # a stream is open
    first.close()
    feed.quiet_since -= 1
    assert feed.retire_if_idle()
    second = EventStream(cursor=None, keepalive=5, lifetime=5)
    try:
        assert second.feed is not feed and not second.feed.retired
        second.feed.quiet_since -= 1
        assert not second.feed.retire_if_idle()
    finally:
        second.close()
        feed.stop()


@pytest.mark.django_db(transaction=True)
def test_a_stream_follows_the_broadcaster_that_replaced_its_own(synced_results: Path) -> None:
    stream = EventStream(cursor=None, keepalive=5, lifetime=10)
    iterator = iter(stream)
    try:
        assert next(iterator).startswith("retry:")
        waiting = threading.Thread(target=lambda: events.append(next(iterator)))
        events: list[str] = []
        waiting.start()  # the stream waits on its broadcaster for the next change
        time.sleep(0.2)
        stop_broadcaster()  # as a server's reload does, or a test's end
        transition_status(session=Session.objects.get(name=RANDOM), to_status="aborted", source="admin",
                          performer="ada", reason="after a new broadcaster")
        waiting.join(3)  # well before its 5 s keepalive: it was woken and went to the new one
        assert not waiting.is_alive()
    finally:
        stream.close()
    assert parse(events[0])[0]["data"]["status"] == "aborted"
