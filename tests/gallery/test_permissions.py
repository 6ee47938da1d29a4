"""Who sees what: edit controls only for those the permission rule lets edit, admin links only
for staff, and the page's edits go through the API with the page's CSRF token."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from sessions.models import Session, SessionMetadata
from sessions.permissions import SessionAction
from tests.gallery.conftest import FACIAL, csrf_token_of, html_of, logged_in

pytestmark = pytest.mark.django_db

SESSION_PAGE = f"/sessions/{FACIAL}/"
METADATA_API = f"/api/sessions/{FACIAL}/metadata"
EDIT_CONTROLS = ("data-favourite", "data-rating=", "data-tag-input", "data-save-note")


def controls_in(html: str) -> set[str]:
    return {control for control in EDIT_CONTROLS if control in html}


class TestWhatEachUserSees:
    def test_a_reader_sees_notes_read_only(self, reader: Client, synced_results: Path) -> None:
        assert controls_in(html_of(reader, "/")) == set()
        html = html_of(reader, SESSION_PAGE)
        assert controls_in(html) == set()
        assert "Changing these needs the gen_sessions.change_sessionmetadata permission." in html
        assert "/admin/" not in html  # no admin link, no Admin in the header

    def test_an_editor_gets_the_controls_but_no_admin_links(self, editor: Client, synced_results: Path) -> None:
        assert 'data-favourite data-metadata-url="/api/sessions/' in html_of(editor, "/")
        html = html_of(editor, SESSION_PAGE)
        assert controls_in(html) == set(EDIT_CONTROLS)
        assert f'data-metadata-url="{METADATA_API}"' in html
        assert "/admin/" not in html

    def test_staff_who_may_only_look_get_admin_links_without_controls(self, db, synced_results: Path) -> None:
        client = logged_in("looker", staff=True, permissions=("view_session", "view_sessionmetadata"))
        pk = Session.objects.get(name=FACIAL).pk
        grid = html_of(client, "/")
        assert f'href="/admin/gen_sessions/session/{pk}/change/"' in grid and controls_in(grid) == set()
        html = html_of(client, SESSION_PAGE)
        assert f'href="/admin/gen_sessions/session/{pk}/change/"' in html and controls_in(html) == set()

    def test_a_superuser_gets_both(self, superuser: Client, synced_results: Path) -> None:
        html = html_of(superuser, SESSION_PAGE)
        assert controls_in(html) == set(EDIT_CONTROLS)
        assert "in the admin</a>" in html and 'href="/admin/"' in html


class TestEditingThroughTheApi:
    """What the page's script does: PATCH the metadata endpoint with the session cookie and the
    page's CSRF token."""

    def test_the_pages_token_lets_an_editor_save(self, db, synced_results: Path) -> None:
        client = logged_in("writer", permissions=("change_sessionmetadata",), enforce_csrf_checks=True)
        token = csrf_token_of(html_of(client, SESSION_PAGE))
        response = client.patch(METADATA_API, {"is_favorite": True, "tags": [" keeper ", "Keeper", "best"]},
                                content_type="application/json", HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 200, response.content
        assert response.json()["tags"] == ["keeper", "best"]
        assert SessionMetadata.objects.get(session__name=FACIAL).is_favorite
        # …and the page shows it: the star pressed, the tags listed.
        html = html_of(client, SESSION_PAGE)
        assert 'aria-pressed="true" title="Favourite">★</button>' in html
        assert '<li class="tag" data-tag="keeper">keeper<button' in html
        assert '/?liked=true' in html

    def test_without_the_token_nothing_is_saved(self, db, synced_results: Path) -> None:
        client = logged_in("writer", permissions=("change_sessionmetadata",), enforce_csrf_checks=True)
        html_of(client, SESSION_PAGE)
        response = client.patch(METADATA_API, {"is_favorite": True}, content_type="application/json")
        assert response.status_code == 403 and "CSRF" in response.json()["detail"]
        assert not SessionMetadata.objects.exists()

    def test_a_reader_is_refused_with_the_permission_rules_reason(self, db, synced_results: Path) -> None:
        client = logged_in("looker", enforce_csrf_checks=True)
        token = csrf_token_of(html_of(client, SESSION_PAGE))
        response = client.patch(METADATA_API, {"is_favorite": True}, content_type="application/json",
                                HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 403
        assert response.json() == {"detail": SessionAction.EDIT_METADATA.refusal}

    def test_a_bad_value_gets_the_apis_own_message(self, db, synced_results: Path) -> None:
        client = logged_in("writer", permissions=("change_sessionmetadata",), enforce_csrf_checks=True)
        token = csrf_token_of(html_of(client, SESSION_PAGE))
        response = client.patch(METADATA_API, {"tags": ["x" * 65]}, content_type="application/json",
                                HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 400
        assert response.json() == {"tags": {"0": ["Ensure this field has no more than 64 characters."]}}
