"""The admin, as the gallery's neighbour: titled for this product, a link to the gallery, and
flags in the session list that do not read as errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from sessions.models import Session
from sessions.services import update_metadata
from tests.gallery.conftest import FACIAL, SWEEP, html_of

pytestmark = pytest.mark.django_db

LIST = "/admin/gen_sessions/session/"


def test_the_admin_is_titled_for_this_product_and_links_to_the_gallery(superuser: Client) -> None:
    html = html_of(superuser, "/admin/")
    assert '<a href="/admin/">sdgen site administration</a>' in html
    assert "<title>Library | sdgen site admin</title>" in html
    assert '<a href="/">View gallery</a>' in html and "View site" not in html
    # The rest of the user links are still there.
    assert 'action="/admin/logout/"' in html and "Change password" in html
    assert "sdgen site administration" in html_of(Client(), "/admin/login/")


def test_favourite_and_test_columns_are_quiet_marks(superuser: Client, synced_results: Path) -> None:
    update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": True})
    update_metadata(session=Session.objects.get(name=SWEEP), changes={"is_test": True})
    html = html_of(superuser, LIST)
    assert "icon-no.svg" not in html and "icon-yes.svg" not in html
    assert html.count('title="favourite" style="color:#d4a017">★</span>') == 1 and html.count('title="a test run">test</span>') == 1
    assert html.count('<span class="sdgen-muted" title="no">·</span>') == 4 * 2 - 2
