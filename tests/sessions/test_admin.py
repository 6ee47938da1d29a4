"""The Django admin: lists and pages on the real fixtures, status fixes, notes, permissions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions.models import Event, Session, SessionMetadata, WatcherHeartbeat
from sessions.services import sync_sessions, update_metadata
from tests.conftest import SessionWriter, load_manifest

pytestmark = pytest.mark.django_db

LIST = "/admin/gen_sessions/session/"
EVENTS = "/admin/gen_sessions/event/"
FACIAL = "20261121_043601-facial_expressions"
SWEEP = "20261121_043621-seed_sweep_test"
RANDOM = "20261121_043627-random_test"


@pytest.fixture
def admin_client(db) -> Client:
    user = User.objects.create_superuser("ada", password="pw")
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def page(session: Session) -> str:
    return f"{LIST}{session.pk}/change/"


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(captured)


def add_sessions(root: Path, write_session: SessionWriter, count: int, images: int = 4) -> None:
    manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
    manifest["images"] = [{**manifest["images"][n % 4], "filename": f"x_{n:04d}_seed-{n}.png", "seed": n}
                          for n in range(images)]
    for n in range(count):
        write_session(root, f"202503{n + 1:02d}_120000-more", manifest)
    sync_sessions(results_dir=root)
    for session in Session.objects.all()[:count]:
        update_metadata(session=session, changes={"is_favorite": True, "tags": ["t"]})


class TestRendering:
    def test_the_list_with_the_real_fixtures(self, admin_client: Client, synced_results: Path) -> None:
        html = admin_client.get(LIST).content.decode()
        for name in (FACIAL, SWEEP, RANDOM):
            assert name in html
        assert 'class="sdgen-badge"' in html and "v1-5-pruned-emaonly.safetensors" in html
        assert f'/api/sessions/{RANDOM}/images/random_test_0000.png?thumbnail=1' in html
        assert "4 / 4" in html and 'class="sdgen-bar"' in html
        for filter_title in ("By status", "By favourite", "By test run", "By seed sweep", "By complete", "By model",
                             "By missing from disk", "By sync error"):
            assert filter_title in html

    def test_the_list_costs_the_same_queries_for_4_or_34_sessions(
        self, admin_client: Client, synced_results: Path, write_session: SessionWriter
    ) -> None:
        few = queries(admin_client, LIST)
        add_sessions(synced_results, write_session, 30)
        assert Session.objects.count() == 34
        assert queries(admin_client, LIST) == few
        assert queries(admin_client, f"{LIST}?status__exact=completed&favourite=yes&q=run") <= few + 1

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("status__exact=aborted", {RANDOM}),
            ("favourite=yes", {FACIAL}),
            ("test=yes", {SWEEP}),
            ("seed_sweep=yes", {SWEEP}),
            ("complete=no", {"20261121_043614-facial_expressions"}),
            ("model=v1-5-pruned-emaonly.safetensors+%5B6ce0161689%5D", {FACIAL, SWEEP, RANDOM,
                                                                       "20261121_043614-facial_expressions"}),
            ("missing=yes", set()),
            ("sync_error=yes", {SWEEP}),
            ("q=seed_sweep", {SWEEP}),
            ("q=%7BAngle%7D", set()),  # the prompt template is not searched
            ("q=angry", {RANDOM}),  # a word of one image's prompt
        ],
    )
    def test_filters_and_search(self, admin_client: Client, synced_results: Path, query: str, expected: set) -> None:
        Session.objects.filter(name=RANDOM).update(status="aborted")
        Session.objects.filter(name="20261121_043614-facial_expressions").update(completion_percentage=50)
        Session.objects.filter(name=SWEEP).update(sync_error="manifest.json is not valid JSON")
        update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": True})
        update_metadata(session=Session.objects.get(name=SWEEP), changes={"is_test": True})
        response = admin_client.get(f"{LIST}?{query}")
        shown = {s.name for s in response.context["cl"].result_list}
        assert shown == expected

    def test_the_session_page(self, admin_client: Client, synced_results: Path) -> None:
        session = Session.objects.get(name=FACIAL)
        Session.objects.filter(pk=session.pk).update(sync_error="manifest.json is not valid JSON: EOF")
        html = admin_client.get(page(session)).content.decode()
        for text in ("Generation", "Counts", "Timing", "Variations", "Event log", "Manifest", "DPM++ 2M",
                     "FacialExpression (2 used)", "images on disk", "discovered", "manifest.json (2,794 bytes)",
                     "<details", 'loading="lazy"', "manifest.json is not valid JSON: EOF", "Your notes"):
            assert text in html, text
        assert html.count('<img src="/api/sessions/') == 4
        # Variation values on hover (PostgreSQL's jsonb does not keep the keys' order).
        assert ('title="FacialExpression: smiling, cheerful expression\nAngle: front view\nseed: 42"' in html
                or 'title="Angle: front view\nFacialExpression: smiling, cheerful expression\nseed: 42"' in html)
        assert f'href="/api/sessions/{FACIAL}/images/facial_expressions_0000_seed-42.png"' in html

    def test_the_session_page_costs_the_same_queries_for_4_or_40_images(
        self, admin_client: Client, empty_results_dir: Path, write_session: SessionWriter, settings
    ) -> None:
        settings.SDGEN_RESULTS_DIR = empty_results_dir
        add_sessions(empty_results_dir, write_session, 1, images=4)
        queries(admin_client, page(Session.objects.get()))  # warms the content-type cache the page uses
        small = queries(admin_client, page(Session.objects.get()))
        Session.objects.all().update(folder_mtime_ns=0)
        add_sessions(empty_results_dir, write_session, 1, images=40)
        session = Session.objects.get()
        assert session.images_actual == 40
        assert queries(admin_client, page(session)) == small

    def test_a_session_without_a_manifest(self, admin_client: Client, synced_results: Path,
                                          write_session: SessionWriter) -> None:
        write_session(synced_results, "loose", None, images=["a.png"])
        sync_sessions(results_dir=synced_results)
        html = admin_client.get(page(Session.objects.get(name="loose"))).content.decode()
        assert "No readable manifest." in html and "No manifest on disk." in html

    def test_the_event_log(self, admin_client: Client, synced_results: Path, write_session: SessionWriter) -> None:
        few = queries(admin_client, EVENTS)
        add_sessions(synced_results, write_session, 20)
        assert queries(admin_client, EVENTS) == few
        html = admin_client.get(f"{EVENTS}?kind__exact=discovered&q={SWEEP}").content.decode()
        assert SWEEP in html and FACIAL not in html
        for filter_title in ("By kind", "By source", "By performer id"):
            assert filter_title in html


class TestOddData:
    def test_a_deeply_nested_manifest_is_shown_as_it_is(self, admin_client: Client, synced_results: Path) -> None:
        (synced_results / FACIAL / "manifest.json").write_text('{"snapshot": {"x": ' + "[" * 100_000 + "]" * 100_000
                                                               + "}}")
        sync_sessions(results_dir=synced_results)
        session = Session.objects.get(name=FACIAL)
        assert session.sync_error
        response = admin_client.get(page(session))
        assert response.status_code == 200 and b"[[[[[[" in response.content

    def test_the_results_folder_alarm_is_shown(self, admin_client: Client, synced_results: Path, tmp_path: Path,
                                               write_session: SessionWriter) -> None:
        from sessions.models import ResultsFolderAlarm

        ResultsFolderAlarm.objects.create(pk=1, results_dir="/home/me/wrong", raised_at=timezone.now(),
                                          sessions_present=40, sessions_vanished=40)
        html = admin_client.get(LIST).content.decode()
        assert "Nothing was marked missing:" in html and "the results folder /home/me/wrong looks wrong" in html
        assert "syncsessions --accept-missing" in html


class TestWatcherStatus:
    def test_never_run(self, admin_client: Client, synced_results: Path) -> None:
        assert "The watcher has never run" in admin_client.get(LIST).content.decode()

    def test_running(self, admin_client: Client, synced_results: Path) -> None:
        now = timezone.now()
        WatcherHeartbeat.objects.create(pk=1, mode="native", mode_reason="native events on a local ext4 file system",
                                        pid=1, results_dir="/r", started_at=now - timedelta(hours=2), beat_at=now,
                                        last_event_at=now - timedelta(minutes=3), last_sync_at=now,
                                        sessions_watched=2)
        html = admin_client.get(LIST).content.decode()
        assert "running\n    in native mode" in html and "watching 2 sessions" in html
        assert "(native events on a local ext4 file system),\n    started 2\xa0hours ago" in html
        assert "3\xa0minutes ago" in html and "not keeping the library up to date" not in html

    def test_a_heartbeat_older_than_a_minute_is_a_warning(self, admin_client: Client, synced_results: Path) -> None:
        then = timezone.now() - timedelta(minutes=5)
        WatcherHeartbeat.objects.create(pk=1, mode="polling", pid=1, results_dir="/r", started_at=then, beat_at=then,
                                        sessions_watched=0)
        html = admin_client.get(LIST).content.decode()
        assert "sdgen-watcher-stale" in html and "not keeping the library up to date" in html


def post_action(client: Client, action: str, sessions: list[Session], reason: str | None = None):
    data = {"action": action, "_selected_action": [s.pk for s in sessions]}
    if reason is not None:
        data.update(apply="1", reason=reason)
    return client.post(LIST, data, follow=True)


class TestActions:
    def test_marking_asks_for_a_reason_first(self, admin_client: Client, synced_results: Path) -> None:
        session = Session.objects.get(name=FACIAL)
        response = post_action(admin_client, "mark_aborted", [session])
        assert response.status_code == 200 and b"Mark these sessions <strong>aborted</strong>" in response.content
        assert Session.objects.get(pk=session.pk).status == "completed"
        empty = post_action(admin_client, "mark_aborted", [session], reason="   ")
        assert b"This field is required" in empty.content
        assert Session.objects.get(pk=session.pk).status == "completed"

    def test_mark_aborted_goes_through_the_state_machine(self, admin_client: Client, synced_results: Path) -> None:
        session = Session.objects.get(name=FACIAL)
        response = post_action(admin_client, "mark_aborted", [session], reason="wrong checkpoint")
        assert f"Marked aborted: {FACIAL}." in response.content.decode()
        assert Session.objects.get(pk=session.pk).status == "aborted"
        event = Event.objects.filter(session=session).last()
        assert (event.kind, event.from_status, event.to_status, event.source, event.performer_id, event.reason) == (
            "status_changed", "completed", "aborted", "admin", "ada", "wrong checkpoint")

    def test_a_refused_transition_changes_nothing(self, admin_client: Client, synced_results: Path) -> None:
        session = Session.objects.get(name=FACIAL)
        response = post_action(admin_client, "mark_completed", [session], reason="done")
        html = response.content.decode()
        assert f"Not changed: {FACIAL} (the session is already completed)." in html
        assert "Marked completed" not in html
        assert Event.objects.filter(session=session).count() == 1

    def test_a_mixed_selection_reports_both(self, admin_client: Client, synced_results: Path) -> None:
        Session.objects.filter(name=RANDOM).update(status="ongoing")
        Session.objects.filter(name=SWEEP).update(status="aborted")
        chosen = list(Session.objects.filter(name__in=[FACIAL, RANDOM, SWEEP]))
        html = post_action(admin_client, "mark_aborted", chosen, reason="clean-up").content.decode()
        assert f"Marked aborted: {RANDOM}, {FACIAL}." in html
        assert f"Not changed: {SWEEP} (the session is already aborted)." in html
        assert set(Session.objects.filter(status="aborted").values_list("name", flat=True)) == {FACIAL, RANDOM, SWEEP}


def change_form(session: Session, **fields) -> dict:
    metadata = SessionMetadata.objects.filter(session=session).first()
    data = {
        "status": session.status, "status_reason": "",
        "metadata-TOTAL_FORMS": "1", "metadata-INITIAL_FORMS": "1" if metadata else "0",
        "metadata-MIN_NUM_FORMS": "0", "metadata-MAX_NUM_FORMS": "1", "metadata-0-session": str(session.pk),
        "metadata-0-user_rating": "", "metadata-0-tags": ", ".join(metadata.tag_list) if metadata else "",
        "metadata-0-user_note": metadata.user_note if metadata else "",
    }
    data.update(fields)
    return data


class TestSessionPage:
    def test_a_status_fix_with_a_reason(self, admin_client: Client, synced_results: Path) -> None:
        session = Session.objects.get(name=RANDOM)
        Session.objects.filter(pk=session.pk).update(status="ongoing")
        session.refresh_from_db()
        response = admin_client.post(page(session), change_form(session, status="aborted",
                                                                status_reason="crashed last night"))
        assert response.status_code == 302
        event = Event.objects.filter(session=session).last()
        assert (event.to_status, event.source, event.performer_id, event.reason) == (
            "aborted", "admin", "ada", "crashed last night")
        html = admin_client.get(page(session)).content.decode()
        assert "crashed last night" in html and "by admin" in html

    def test_a_status_change_without_a_reason_is_refused(self, admin_client: Client, synced_results: Path) -> None:
        session = Session.objects.get(name=RANDOM)
        response = admin_client.post(page(session), change_form(session, status="aborted"))
        assert response.status_code == 200 and b"Give a reason for the change." in response.content
        assert Session.objects.get(pk=session.pk).status == "completed"

    def test_a_refused_status_change_shows_why(self, admin_client: Client, synced_results: Path) -> None:
        session = Session.objects.get(name=RANDOM)
        response = admin_client.post(page(session), change_form(session, status="ongoing", status_reason="again"))
        assert b"only the generator starts or resumes a run" in response.content
        assert Session.objects.get(pk=session.pk).status == "completed"
        assert Event.objects.filter(session=session).count() == 1

    def test_saving_never_writes_the_cached_sync_data(self, admin_client: Client, synced_results: Path) -> None:
        session = Session.objects.get(name=RANDOM)
        form = change_form(session)
        Session.objects.filter(pk=session.pk).update(images_actual=99)  # the watcher, meanwhile
        assert admin_client.post(page(session), form).status_code == 302
        assert Session.objects.get(pk=session.pk).images_actual == 99

    def test_editing_the_notes_inline(self, admin_client: Client, synced_results: Path) -> None:
        session = Session.objects.get(name=SWEEP)
        data = change_form(session, **{"metadata-0-is_favorite": "on", "metadata-0-tags": " sweeps, good ,Sweeps",
                                       "metadata-0-user_rating": "like", "metadata-0-user_note": "keep 1001"})
        assert admin_client.post(page(session), data).status_code == 302
        metadata = SessionMetadata.objects.get(session=session)
        assert (metadata.is_favorite, metadata.user_rating, metadata.user_note, metadata.tag_list) == (
            True, "like", "keep 1001", ["sweeps", "good"])
        data = change_form(session, **{"metadata-0-tags": ", ".join(f"t{n}" for n in range(51))})
        response = admin_client.post(page(session), data)
        assert b"51 tags: at most 50 are allowed" in response.content


class TestPermissions:
    def staff(self, *codenames: str) -> Client:
        user = User.objects.create_user("viewer", password="pw", is_staff=True)
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        client = Client()
        client.force_login(user)
        return client

    def test_looking_without_fixing(self, synced_results: Path) -> None:
        client = self.staff("view_session", "view_event", "view_sessionmetadata")
        session = Session.objects.get(name=RANDOM)
        listing = client.get(LIST)
        assert listing.status_code == 200 and b"mark_aborted" not in listing.content
        view = client.get(page(session))
        assert view.status_code == 200 and b'name="status_reason"' not in view.content
        assert client.post(page(session), change_form(session, status="aborted", status_reason="x")).status_code == 403
        post_action(client, "mark_aborted", [session], reason="x")
        assert Session.objects.get(pk=session.pk).status == "completed"
        assert client.get(EVENTS).status_code == 200

    def test_notes_without_status_fixes(self, synced_results: Path) -> None:
        """gen_sessions.change_sessionmetadata alone: the notes can be saved, the status cannot."""
        client = self.staff("view_session", "change_sessionmetadata", "add_sessionmetadata")
        session = Session.objects.get(name=RANDOM)
        view = client.get(page(session))
        assert b'name="status_reason"' not in view.content and b'name="metadata-0-user_note"' in view.content
        response = client.post(page(session), change_form(session, status="aborted", status_reason="x",
                                                          **{"metadata-0-user_note": "mine"}))
        assert response.status_code == 302
        assert Session.objects.get(pk=session.pk).status == "completed"
        assert SessionMetadata.objects.get(session=session).user_note == "mine"

    def test_status_fixes_without_notes(self, synced_results: Path) -> None:
        client = self.staff("view_session", "change_session", "view_sessionmetadata")
        session = Session.objects.get(name=RANDOM)
        view = client.get(page(session))
        assert b'name="status_reason"' in view.content and b'name="metadata-0-user_note"' not in view.content

    def test_no_view_permission(self, synced_results: Path) -> None:
        client = self.staff()
        assert client.get(LIST).status_code == 403

    def test_events_are_read_only_even_for_superusers(self, admin_client: Client, synced_results: Path) -> None:
        event = Event.objects.first()
        assert admin_client.get(f"{EVENTS}add/").status_code == 403
        assert admin_client.get(f"{EVENTS}{event.pk}/delete/").status_code == 403
        view = admin_client.get(f"{EVENTS}{event.pk}/change/")
        assert view.status_code == 200 and b'name="_save"' not in view.content
        assert admin_client.post(f"{EVENTS}{event.pk}/change/", {"reason": "rewritten"}).status_code == 403
        assert b'value="delete_selected"' not in admin_client.get(EVENTS).content
        assert Event.objects.get(pk=event.pk).reason == ""

    def test_sessions_cannot_be_added_or_deleted(self, admin_client: Client, synced_results: Path) -> None:
        session = Session.objects.first()
        assert admin_client.get(f"{LIST}add/").status_code == 403
        assert admin_client.get(f"{LIST}{session.pk}/delete/").status_code == 403


def test_user_text_is_always_escaped(admin_client: Client, synced_results: Path, write_session: SessionWriter) -> None:
    manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
    manifest["snapshot"]["resolved_template"]["prompt"] = "<img src=x onerror=alert(1)>"
    manifest["images"][0]["applied_variations"] = {"Angle": '"><script>alert(3)</script>'}
    name = "2025-01-01_000000_<b onmouseover=alert(4)>bold"
    write_session(synced_results, name, manifest)
    sync_sessions(results_dir=synced_results)
    session = Session.objects.get(name=name)
    update_metadata(session=session, changes={"user_note": "<script>alert(2)</script>", "tags": ["<i>x</i>"]})
    Session.objects.filter(pk=session.pk).update(sync_error="<u>bad</u>")
    for url in (LIST, page(session), f"{EVENTS}?q=bold"):
        html = admin_client.get(url).content.decode()
        for raw in ("<b onmouseover", "<script>alert(2)", "<img src=x", "<i>x</i>", "<u>bad</u>", "<script>alert(3)"):
            assert raw not in html, (url, raw)
    html = admin_client.get(page(session)).content.decode()
    assert "&lt;b onmouseover=alert(4)&gt;bold" in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
