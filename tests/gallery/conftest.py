"""Logged-in browsers of the gallery's pages: a reader, an editor of notes, a superuser."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

FACIAL = "20261121_043601-facial_expressions"
FACIAL_2 = "20261121_043614-facial_expressions"
SWEEP = "20261121_043621-seed_sweep_test"
RANDOM = "20261121_043627-random_test"


def logged_in(username: str, *, staff: bool = False, superuser: bool = False,
              permissions: tuple[str, ...] = (), enforce_csrf_checks: bool = False) -> Client:
    user = User.objects.create_user(username, password="a long enough password", is_staff=staff or superuser,
                                    is_superuser=superuser)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="gen_sessions",
                                                         codename__in=permissions))
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    client.force_login(user)
    client.user = user  # type: ignore[attr-defined]
    return client


@pytest.fixture
def reader(db) -> Client:
    """May look, not change (no permission at all, not staff)."""
    return logged_in("reader")


@pytest.fixture
def editor(db) -> Client:
    """May change favourites, ratings, tags and notes; not staff."""
    return logged_in("editor", permissions=("change_sessionmetadata",))


@pytest.fixture
def superuser(db) -> Client:
    return logged_in("ada", superuser=True)


def html_of(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (response.status_code, response.content[:800])
    return response.content.decode()


def csrf_token_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)
