"""Log-ins (the admin's and the browsable API's) are throttled per user name and address."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

LOGIN_PAGES = ["/admin/login/", "/auth/login/"]


@pytest.fixture(autouse=True)
def axes_on(settings) -> None:
    settings.AXES_ENABLED = True


def log_in(page: str, username: str, password: str, address: str = "127.0.0.1") -> int:
    return Client(REMOTE_ADDR=address).post(page, {"username": username, "password": password}).status_code


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_wrong_passwords_lock_that_user_name_from_that_address(settings, page: str) -> None:
    User.objects.create_superuser("admin", password="right-password")
    User.objects.create_superuser("colleague", password="her-password")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(page, "admin", "guess") == 200  # the form again, with its error
    assert log_in(page, "admin", "guess") == 429
    locked = Client().post(page, {"username": "admin", "password": "right-password"})
    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content and b"15 minutes" in locked.content
    # Nobody else is held up: another user at the same address, the same user elsewhere.
    assert log_in(page, "colleague", "her-password") == 302
    assert log_in(page, "admin", "right-password", address="10.0.0.2") == 302


def test_a_success_clears_the_count(settings) -> None:
    User.objects.create_superuser("admin", password="right-password")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("/admin/login/", "admin", "guess")
    assert log_in("/admin/login/", "admin", "right-password") == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("/admin/login/", "admin", "guess")
    assert log_in("/admin/login/", "admin", "right-password") == 302
