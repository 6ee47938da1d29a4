"""Live updates in a real browser (gallery/static/gallery/js/live.js).

The client follows SPEC section 10's stream contract. Until the server has ``GET /api/stream``,
the pages are driven here by a stand-in EventSource that the test feeds with events of that
contract; the new images themselves come from the real API (``?since=K``). The last test uses
the real stream and runs by itself once the endpoint is served.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import resolve

from sessions.models import Session
from sessions.services import sync_sessions
from sessions.views import api_not_found
from tests.gallery.browser import PASSWORD, OngoingRun, log_in, open_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Replaces window.EventSource before the page's scripts run: each stream the page opens is kept
# in window.streams, and the test calls emit() / fail() on it.
STAND_IN = """
window.streams = [];
class StandInEventSource {
  constructor(url) {
    this.url = url; this.readyState = 0; this.listeners = {};
    window.streams.push(this);
    setTimeout(() => { this.readyState = 1; this.dispatch("open", {}); }, 0);
  }
  addEventListener(type, listener) { (this.listeners[type] = this.listeners[type] || []).push(listener); }
  dispatch(type, event) { for (const listener of this.listeners[type] || []) listener(event); }
  emit(id, data) { this.dispatch("session", { data: JSON.stringify(data), lastEventId: String(id) }); }
  fail(closed) { this.readyState = closed ? 2 : 0; this.dispatch("error", {}); }
  close() { this.readyState = 2; }
}
StandInEventSource.CLOSED = 2;
window.EventSource = StandInEventSource;
"""


@pytest.fixture
def running(results_dir: Path, settings, monkeypatch: pytest.MonkeyPatch) -> OngoingRun:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    run = OngoingRun(results_dir, total=8)
    run.write(2)
    settings.SDGEN_RESULTS_DIR = results_dir
    sync_sessions(results_dir=results_dir)
    User.objects.create_superuser("ada", password=PASSWORD)
    return run


def event_of(session: Session, thumbnail_url: str | None = None) -> dict:
    """What the stream sends for a session (SPEC section 10)."""
    return {"session_id": session.name, "status": session.status, "images_actual": session.images_actual,
            "images_expected": session.images_expected, "completion_percentage": session.completion_percentage,
            "thumbnail_url": thumbnail_url, "updated_at": session.updated_at.isoformat()}


def emit(page, cursor: int, data: dict) -> None:
    page.evaluate("([cursor, data]) => window.streams.at(-1).emit(cursor, data)", [cursor, data])


def test_the_grid_follows_the_stream(live_server, running: OngoingRun) -> None:
    with open_browser() as context:
        context.add_init_script(STAND_IN)
        page = context.new_page()
        log_in(page, live_server.url, "ada")
        page.wait_for_function("document.body.dataset.live === 'live'")
        assert page.evaluate("window.streams.map(s => s.url)") == ["/api/stream"]
        assert page.locator("[data-live-indicator]").is_visible()
        card = page.locator(f".card[data-session='{running.name}']")
        assert card.locator("[data-field=count]").inner_text() == "2 / 8"

        running.write(8)
        sync_sessions(results_dir=running.folder.parent)
        session = Session.objects.get(name=running.name)
        emit(page, 41, event_of(session, "/api/sessions/x/images/new.png?thumbnail=1"))
        emit(page, 42, {**event_of(session), "session_id": "not on this page"})  # ignored
        assert card.locator("[data-field=count]").inner_text() == "8 / 8"
        assert card.locator("[data-field=status]").inner_text() == "completed"
        assert card.locator("[data-field=status]").get_attribute("class") == "badge status-completed"
        assert card.locator("[data-field=bar]").evaluate("bar => bar.style.width") == "100%"
        assert card.locator("img[data-field=cover]").get_attribute("src") == "/api/sessions/x/images/new.png?thumbnail=1"
        # Text from the stream is text.
        emit(page, 43, {**event_of(session), "status": "<b>x</b>"})
        assert card.locator("[data-field=status]").inner_text() == "<b>x</b>"


def test_a_session_page_appends_new_images_without_a_reload(live_server, running: OngoingRun) -> None:
    with open_browser() as context:
        context.add_init_script(STAND_IN)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        log_in(page, live_server.url, "ada", f"/sessions/{running.name}/")
        page.wait_for_function("document.body.dataset.live === 'live'")
        thumbs = page.locator("[data-thumbs] a[data-viewer-index]")
        assert thumbs.count() == 2
        page.evaluate("window.loadedOnce = true")  # gone if the page were reloaded

        running.write(5)
        sync_sessions(results_dir=running.folder.parent)
        emit(page, 7, event_of(Session.objects.get(name=running.name)))
        page.wait_for_function("document.querySelectorAll('[data-thumbs] a[data-viewer-index]').length === 5")
        assert page.evaluate("window.loadedOnce") is True
        assert page.locator("[data-session-head] [data-field=count]").inner_text() == "5 / 8"
        files = thumbs.evaluate_all("links => links.map(link => link.querySelector('img').alt)")
        assert files == [image.filename for image in running.plan.images[:5]]
        assert page.locator("[data-thumbs] .thumb.is-new").count() == 3
        # The viewer steps onto the new ones.
        thumbs.nth(1).click()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        assert page.locator("[data-v=filename]").inner_text() == running.plan.images[4].filename
        assert page.locator("[data-v=count]").inner_text() == "5 / 5"
        page.keyboard.press("Escape")

        # An event that repeats a count, or another session's, fetches nothing new.
        emit(page, 8, event_of(Session.objects.get(name=running.name)))
        running.write(8)
        sync_sessions(results_dir=running.folder.parent)
        emit(page, 9, event_of(Session.objects.get(name=running.name)))
        page.wait_for_function("document.querySelectorAll('[data-thumbs] a[data-viewer-index]').length === 8")
        assert page.locator("[data-session-head] [data-field=status]").inner_text() == "completed"
        assert not errors, errors


def test_new_images_respect_the_pages_chips(live_server, running: OngoingRun) -> None:
    with open_browser() as context:
        context.add_init_script(STAND_IN)
        page = context.new_page()
        log_in(page, live_server.url, "ada", f"/sessions/{running.name}/?variation=Angle%3Afront+view")
        page.wait_for_function("document.body.dataset.live === 'live'")
        assert page.locator("[data-thumbs] a[data-viewer-index]").count() == 1
        running.write(6)
        sync_sessions(results_dir=running.folder.parent)
        emit(page, 3, event_of(Session.objects.get(name=running.name)))
        page.wait_for_function("document.querySelectorAll('[data-thumbs] a[data-viewer-index]').length === 3")
        shown = page.locator("[data-thumbs] img").evaluate_all("images => images.map(image => image.title || "
                                                                "image.parentElement.title)")
        assert all("Angle: front view" in title for title in shown)


def test_without_the_stream_the_page_stays_quiet(live_server, running: OngoingRun) -> None:
    """A server that answers /api/stream with a 404 (as before the endpoint existed)."""
    with open_browser() as context:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url) if "/api/stream" in request.url else None)
        page.route("**/api/stream", lambda route: route.fulfill(status=404, content_type="application/json",
                                                               body=json.dumps({"detail": "Not found."})))
        log_in(page, live_server.url, "ada", f"/sessions/{running.name}/")
        page.wait_for_function("document.body.dataset.live === 'unavailable'")
        page.wait_for_timeout(300)
        assert len(asked) == 1  # not asked again and again
        assert page.locator("[data-live-indicator]").is_hidden()
        assert page.locator("[data-thumbs] a[data-viewer-index]").count() == 2
        page.locator("[data-viewer-index='0']").click()
        assert page.locator("dialog[data-viewer]").is_visible()
        assert not errors, errors


def test_a_stream_that_drops_is_left_to_reconnect(live_server, running: OngoingRun) -> None:
    with open_browser() as context:
        context.add_init_script(STAND_IN)
        page = context.new_page()
        log_in(page, live_server.url, "ada")
        page.wait_for_function("document.body.dataset.live === 'live'")
        page.evaluate("window.streams[0].fail(false)")  # the browser reconnects by itself (Last-Event-ID)
        assert page.evaluate("document.body.dataset.live") == "reconnecting"
        assert page.locator("[data-live-indicator]").is_hidden()
        page.evaluate("window.streams[0].readyState = 1; window.streams[0].dispatch('open', {})")
        assert page.evaluate("document.body.dataset.live") == "live"
        assert page.evaluate("window.streams.length") == 1


def _stream_is_served() -> bool:
    return resolve("/api/stream").func is not api_not_found


@pytest.mark.skipif(not _stream_is_served(),
                    reason="GET /api/stream (SPEC section 10) is not served yet; this runs once it is")
def test_the_real_stream_brings_new_images(live_server, running: OngoingRun) -> None:
    with open_browser() as context:
        page = context.new_page()
        log_in(page, live_server.url, "ada", f"/sessions/{running.name}/")
        page.wait_for_function("document.body.dataset.live === 'live'")
        running.write(4)
        sync_sessions(results_dir=running.folder.parent)
        page.wait_for_function("document.querySelectorAll('[data-thumbs] a[data-viewer-index]').length === 4",
                               timeout=15_000)  # a deadline for a loaded CI machine, not a speed goal
        assert page.locator("[data-session-head] [data-field=count]").inner_text() == "4 / 8"
        page.goto(f"{live_server.url}/")
        page.wait_for_function("document.body.dataset.live === 'live'")
        running.write(8)
        sync_sessions(results_dir=running.folder.parent)
        card = page.locator(f".card[data-session='{running.name}']")
        page.wait_for_function("document.querySelector('.card [data-field=status]').textContent === 'completed'",
                               timeout=15_000)  # a deadline for a loaded CI machine, not a speed goal
        assert card.locator("[data-field=count]").inner_text() == "8 / 8"
