"""What the API answers to odd requests and while the database is down: never a bare 500."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError
from django.test import Client

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

NAME = "20261121_043601-facial_expressions"


@pytest.mark.parametrize("path", ["/api/sessions/a%00b/", "/api/sessions/a%00b/metadata",
                                  f"/api/sessions/{NAME}/images/x%00.png", "/admin/gen_sessions/session/1%00/"])
def test_a_nul_in_a_path_is_not_found(staff_api, synced_results: Path, path: str) -> None:
    assert staff_api.get(path).status_code == 404


@pytest.mark.parametrize("query", ["q=a%00", "model=%00", "tag=x%00", "status=%00", "ordering=%00"])
def test_a_nul_in_a_filter_is_a_400_naming_it(api, synced_results: Path, query: str) -> None:
    response = api.get(f"/api/sessions/?{query}")
    assert response.status_code == 400
    assert response.json() == {query.split("=")[0]: ["NUL characters are not allowed."]}


def test_a_nul_in_an_image_filter_is_a_400(api, synced_results: Path) -> None:
    response = api.get(f"/api/sessions/{NAME}/images/?variation=Angle:%00")
    assert response.status_code == 400 and "variation" in response.json()


@pytest.mark.parametrize(("query", "message"), [
    ("status=done", "'done' is not one of: ongoing, completed, aborted."),
    ("ordering=size", "'size' is not one of: created_at, -created_at, images_actual, -images_actual, "
                      "completion_percentage, -completion_percentage, updated_at, -updated_at."),
])
def test_a_wrong_choice_names_the_right_ones(api, synced_results: Path, query: str, message: str) -> None:
    response = api.get(f"/api/sessions/?{query}")
    assert response.status_code == 400
    assert response.json() == {query.split("=")[0]: [message]}


def test_a_wrong_rating_names_the_right_ones(editor_api, synced_results: Path) -> None:
    response = editor_api.patch(f"/api/sessions/{NAME}/metadata", {"user_rating": "meh"}, format="json")
    assert response.json() == {"user_rating": ["'meh' is not one of: like, dislike, or null."]}


def test_a_database_outage_is_a_503_with_a_short_reason(api, synced_results: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    import sessions.selectors

    def unreachable(*args, **kwargs):
        raise OperationalError('connection to server at "db.internal" (10.1.2.3), port 5432 failed')

    monkeypatch.setattr(sessions.selectors, "sessions_with_details", unreachable)
    monkeypatch.setattr(sessions.selectors, "library_health", unreachable)
    response = api.get("/api/sessions/")
    assert response.status_code == 503 and response["Retry-After"]
    assert response.json() == {"detail": "The database is not available right now; try again shortly."}
    health = Client().get("/api/health")
    assert health.status_code == 503
    assert health.json() == {"status": "error", "detail": "the database is not available"}
    assert b"db.internal" not in health.content and b"10.1.2.3" not in health.content
    assert "db.internal" in caplog.text  # the detail is for the log


def test_the_admin_answers_503_during_an_outage(admin_client, synced_results: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import sessions.selectors

    def unreachable(*args, **kwargs):
        raise OperationalError("the database is gone")

    monkeypatch.setattr(sessions.selectors, "watcher_heartbeat", unreachable)
    response = admin_client.get("/admin/gen_sessions/session/")
    assert response.status_code == 503
    assert b"The database is not available right now" in response.content


def test_every_500_is_logged_with_its_traceback(tmp_path: Path) -> None:
    """Run the real settings (their logging included) in a process of its own."""
    code = (
        "import django; django.setup()\n"
        "import sessions.selectors as selectors\n"
        "def broken(**kwargs): raise RuntimeError('something odd')\n"
        "selectors.library_health = broken\n"
        "from django.test import Client\n"
        "print(Client(raise_request_exception=False).get('/api/health').status_code)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "sdgen_site.settings",
           "SDGEN_DATA_DIR": str(tmp_path / "data"), "DJANGO_ALLOWED_HOSTS": "testserver"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "500", result.stderr
    assert "ERROR   django.request: Internal Server Error: /api/health" in result.stderr
    assert "Traceback" in result.stderr and "RuntimeError: something odd" in result.stderr
