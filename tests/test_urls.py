"""Site-wide routes outside the apps."""

from __future__ import annotations

from django.test import Client


def test_favicon_ico_leads_to_the_gallery_icon(db) -> None:
    # The admin's and the API's pages name no icon: browsers ask for /favicon.ico on each.
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("/gallery/favicon.svg")
