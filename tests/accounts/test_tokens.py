"""API tokens: stored hashed, sent as Bearer, wrong ones counted atomically, right ones always let in."""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import TokenFailureCount
from accounts.services import TOKEN_FAILURES_ALLOWED, create_api_token

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_tokens_are_stored_hashed_and_shown_once() -> None:
    user = User.objects.create_user("u")
    token = create_api_token(user=user)
    row = AuthToken.objects.get(user=user)
    assert token not in (row.digest, row.token_key) and len(token) == 64
    assert row.digest == hashlib.sha512(token.encode()).hexdigest()
    assert bearer(token).get("/api/stats").status_code == 200


@pytest.mark.django_db(transaction=True)  # SQLite changes its schema outside a transaction only
def test_tokens_of_earlier_versions_keep_working_and_leave_no_clear_copy() -> None:
    """Earlier versions kept DRF authtoken keys in clear: the migration hashes and drops them."""
    user = User.objects.create_user("old")
    old_key = "a" * 39 + "f"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer, "
                       "created timestamp with time zone)" if connection.vendor == "postgresql" else
                       "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer, created datetime)")
        cursor.execute("INSERT INTO authtoken_token (key, user_id, created) VALUES (%s, %s, %s)",
                       [old_key, user.pk, "2026-01-01 00:00:00"])
    migration = __import__("accounts.migrations.0001_initial", fromlist=["move_clear_tokens"])
    with connection.schema_editor() as editor:
        migration.move_clear_tokens(apps, editor)
    assert "authtoken_token" not in connection.introspection.table_names()
    assert bearer(old_key).get("/api/stats").status_code == 200


def test_the_token_command_prints_a_working_token(db) -> None:
    User.objects.create_user("someone")
    out = io.StringIO()
    call_command("drf_create_token", "someone", stdout=out)
    first = out.getvalue().split()[2]
    assert bearer(first).get("/api/stats").status_code == 200
    call_command("drf_create_token", "someone", "--reset", stdout=(out := io.StringIO()))
    second = out.getvalue().split()[2]
    assert bearer(first).get("/api/stats").status_code == 401  # revoked
    assert bearer(second).get("/api/stats").status_code == 200
    with pytest.raises(CommandError, match="no user named 'nobody'") as error:
        call_command("drf_create_token", "nobody")
    assert error.value.returncode == 2


def test_wrong_tokens_are_throttled_but_a_right_token_is_never_refused() -> None:
    user = User.objects.create_user("owner")
    token = create_api_token(user=user)
    for attempt in range(TOKEN_FAILURES_ALLOWED):
        assert bearer(f"guess{attempt}").get("/api/sessions/").status_code == 401
    blocked = bearer("one-more-guess").get("/api/sessions/")
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    # The same address (a proxy, an office): the owner of a right token is not held up.
    assert bearer(token).get("/api/sessions/").status_code == 200
    assert bearer("and-another").get("/api/sessions/").status_code == 429
    other_address = APIClient(REMOTE_ADDR="10.0.0.9")
    other_address.credentials(HTTP_AUTHORIZATION="Bearer guess")
    assert other_address.get("/api/sessions/").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_tokens_are_all_counted() -> None:
    """Eight clients guessing at once get exactly TOKEN_FAILURES_ALLOWED 401s between them."""
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(worker: int) -> None:
        client = Client()
        try:
            for attempt in range(4):
                response = client.get("/api/sessions/", HTTP_AUTHORIZATION=f"Bearer w{worker}a{attempt}")
                with lock:
                    statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == 32
    assert statuses.count(401) == TOKEN_FAILURES_ALLOWED
    assert statuses.count(429) == 32 - TOKEN_FAILURES_ALLOWED
    assert TokenFailureCount.objects.get(address="127.0.0.1").failures == 32


def test_the_token_scheme_is_named_when_a_client_sends_token() -> None:
    token = create_api_token(user=User.objects.create_user("u"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/sessions/")
    assert response.status_code == 401
    assert response.json()["detail"] == ("Send the token as 'Authorization: Bearer <token>' (the scheme is Bearer, "
                                         "not Token).")
    assert not TokenFailureCount.objects.exists()  # not a guess: nothing was checked


def test_credentials_file_sits_in_a_private_folder(settings, tmp_path: Path) -> None:
    settings.SDGEN_DATA_DIR = tmp_path
    call_command("createinitialadmin", stdout=io.StringIO())
    assert oct((tmp_path / "initial-admin.txt").stat().st_mode & 0o777) == "0o600"


def test_a_token_costs_one_query_and_an_expired_one_is_refused(django_assert_num_queries) -> None:
    from datetime import timedelta

    from django.utils import timezone

    user = User.objects.create_user("tim", password="pw")
    token = create_api_token(user=user)
    create_api_token(user=user)  # another of the user's tokens is not read
    with django_assert_num_queries(1):  # the token with its user
        assert bearer(token).get("/api/stream?x=1").status_code == 400  # authenticated, then refused
    AuthToken.objects.filter(token_key=token[:15]).update(expiry=timezone.now() - timedelta(seconds=1))
    assert bearer(token).get("/api/stats").status_code == 401
    assert not AuthToken.objects.filter(token_key=token[:15]).exists()  # an expired token is deleted


def test_a_token_of_an_inactive_user_or_with_a_wrong_secret_is_refused() -> None:
    user = User.objects.create_user("ina", password="pw")
    token = create_api_token(user=user)
    assert bearer(token).get("/api/stats").status_code == 200
    assert bearer(token[:15] + "0" * (len(token) - 15)).get("/api/stats").status_code == 401  # same key
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert bearer(token).get("/api/stats").status_code == 401
