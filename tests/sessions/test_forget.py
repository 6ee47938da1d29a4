"""Forgetting missing sessions (SPEC section 11): the service, the command, the admin action."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from sessions.lifecycle import forget_sessions
from sessions.models import Event, Session
from sessions.services import sync_sessions, update_metadata

pytestmark = pytest.mark.django_db

FACIAL = "20261121_043601-facial_expressions"
RANDOM = "20261121_043627-random_test"
LIST = "/admin/gen_sessions/session/"


@pytest.fixture
def gone(synced_results: Path, tmp_path: Path) -> Path:
    """FACIAL, a favourite, moved out of the results folder and synced as missing."""
    update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": True, "tags": ["keep"]})
    shutil.move(synced_results / FACIAL, tmp_path / FACIAL)
    sync_sessions(results_dir=synced_results)
    assert Session.objects.get(name=FACIAL).is_missing
    return tmp_path / FACIAL


def forget(*names: str, results: Path):
    return forget_sessions(names=list(names), results_dir=results, source="system", performer="system",
                           now=timezone.now())


def test_a_forgotten_session_leaves_every_list_and_count(api, gone: Path, synced_results: Path) -> None:
    report = forget(FACIAL, results=synced_results)
    assert report.forgotten == [FACIAL] and not report.refused
    assert FACIAL not in [s["session_id"] for s in api.get("/api/sessions/").json()["sessions"]]
    assert api.get("/api/sessions/recent/liked").json()["total_count"] == 0
    assert api.get(f"/api/sessions/{FACIAL}/").json() == {"detail": f"no session named '{FACIAL}'"}
    assert api.get("/api/stats").json()["total_sessions"] == 3
    event = Event.objects.filter(session__name=FACIAL).last()
    assert (event.kind, event.source, event.performer_id) == ("forgotten", "system", "system")
    assert Event.objects.filter(session__name=FACIAL).count() == 3  # discovered, missing, forgotten: all kept


def test_its_folder_coming_back_brings_it_back_with_its_metadata(api, gone: Path, synced_results: Path) -> None:
    forget(FACIAL, results=synced_results)
    shutil.move(gone, synced_results / FACIAL)
    report = sync_sessions(results_dir=synced_results)
    assert report.restored == 1
    body = api.get(f"/api/sessions/{FACIAL}/").json()
    assert body["is_missing"] is False and body["metadata"]["tags"] == ["keep"]
    assert [e.kind for e in Event.objects.filter(session__name=FACIAL)][-2:] == ["forgotten", "restored"]


def test_a_present_folder_is_refused(synced_results: Path) -> None:
    report = forget(RANDOM, "no-such-session", results=synced_results)
    assert report.forgotten == []
    assert report.refused == {
        RANDOM: "its folder is in the results folder: only missing sessions can be forgotten",
        "no-such-session": "no such session in the library",
    }
    assert not Session.objects.filter(forgotten_at__isnull=False).exists()


def test_a_folder_back_on_disk_but_not_synced_yet_is_refused(gone: Path, synced_results: Path) -> None:
    shutil.move(gone, synced_results / FACIAL)  # the watcher has not seen it yet
    assert FACIAL in forget(FACIAL, results=synced_results).refused


class TestCommand:
    def test_forget_every_missing_session(self, gone: Path, synced_results: Path) -> None:
        out = io.StringIO()
        call_command("forgetsessions", "--missing", "--results", str(synced_results), stdout=out)
        assert f"forgotten: {FACIAL}" in out.getvalue() and "1 sessions forgotten." in out.getvalue()
        assert Session.objects.get(name=FACIAL).forgotten_at is not None

    def test_a_present_folder_exits_2(self, synced_results: Path) -> None:
        with pytest.raises(CommandError, match="only missing sessions can be forgotten") as error:
            call_command("forgetsessions", RANDOM, "--results", str(synced_results))
        assert error.value.returncode == 2

    def test_nothing_asked_for_exits_2(self, synced_results: Path) -> None:
        with pytest.raises(CommandError, match="--missing") as error:
            call_command("forgetsessions", "--results", str(synced_results))
        assert error.value.returncode == 2


class TestAdminAction:
    def staff(self, *codenames: str) -> Client:
        user = User.objects.create_user("keeper", is_staff=True)
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="gen_sessions",
                                                            codename__in=codenames))
        client = Client()
        client.force_login(user)
        return client

    def test_staff_with_the_delete_permission_may_forget(self, gone: Path, synced_results: Path, settings) -> None:
        settings.SDGEN_RESULTS_DIR = synced_results
        client = self.staff("view_session", "delete_session")
        assert b'value="forget"' in client.get(LIST).content
        chosen = list(Session.objects.filter(name__in=[FACIAL, RANDOM]))
        html = client.post(LIST, {"action": "forget", "_selected_action": [s.pk for s in chosen]},
                           follow=True).content.decode()
        assert f"Forgotten: {FACIAL}." in html
        assert f"Not forgotten: {RANDOM} (its folder is in the results folder" in html
        assert FACIAL not in client.get(LIST).content.decode()
        assert Event.objects.filter(session__name=FACIAL).last().performer_id == "keeper"

    def test_without_it_the_action_is_not_offered(self, gone: Path, synced_results: Path) -> None:
        client = self.staff("view_session", "change_session")
        assert b'value="forget"' not in client.get(LIST).content
        session = Session.objects.get(name=FACIAL)
        client.post(LIST, {"action": "forget", "_selected_action": [session.pk]})
        assert Session.objects.get(name=FACIAL).forgotten_at is None
