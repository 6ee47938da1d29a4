"""API tokens (stored hashed, shown once) and the count of wrong tokens per address."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from knox.models import AuthToken

from accounts.models import TokenFailureCount

# Wrong tokens allowed from one address per window; beyond that wrong tokens get 429.
TOKEN_FAILURES_ALLOWED = 10
TOKEN_FAILURE_WINDOW = timedelta(minutes=5)


def create_api_token(*, user: AbstractBaseUser, revoke_others: bool = False) -> str:
    """A new token for ``user``, returned in clear this once: only its hash is stored."""
    with transaction.atomic():
        if revoke_others:
            AuthToken.objects.filter(user=user).delete()
        _, token = AuthToken.objects.create(user=user, expiry=None)
    return token


def record_token_failure(*, address: str, now: datetime) -> int:
    """Count one wrong token from ``address``; returns the failures in the current window.

    The row is locked while it is incremented (SQLite's IMMEDIATE transactions serialise the
    writers; PostgreSQL takes the row lock), so concurrent requests never lose a count.
    """
    with transaction.atomic():
        row, _ = TokenFailureCount.objects.select_for_update().get_or_create(
            address=address[:64], defaults={"failures": 0, "window_started_at": now})
        if now - row.window_started_at > TOKEN_FAILURE_WINDOW:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        row.save(update_fields=["failures", "window_started_at"])
        # Old windows are of no use to anyone: keep the table as small as the attacks.
        TokenFailureCount.objects.filter(window_started_at__lt=now - TOKEN_FAILURE_WINDOW).delete()
    return row.failures


# --- the first admin ------------------------------------------------------------------------

CREDENTIALS_FILE = "initial-admin.txt"


@dataclass(frozen=True)
class InitialAdmin:
    """What ``ensure_initial_admin`` did, for the command to say."""

    path: Path
    created: bool  # a superuser was created and its credentials written to ``path``
    file_matches: bool  # ``path`` holds the credentials of this database's superuser
    moved_aside: Path | None = None  # an older file, for another database, kept under this name


def database_label(database: dict) -> str:
    """Which database this is, without its password: written into the credentials file."""
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:{database['NAME']}"
    vendor = database["ENGINE"].rsplit(".", 1)[-1]
    return f"{vendor}://{database.get('HOST') or 'localhost'}:{database.get('PORT') or ''}/{database['NAME']}"


def ensure_initial_admin(*, data_dir: Path, username: str, database: str, now: datetime) -> InitialAdmin:
    """Create the ``username`` superuser with a random password and an API token on a database
    that has no superuser yet, and write both to ``data_dir/initial-admin.txt`` (mode 0600).

    A credentials file left by another database is never overwritten: it is renamed with the
    time, and the new one says which database it belongs to.
    """
    path = data_dir / CREDENTIALS_FILE
    users = get_user_model()
    if users.objects.filter(is_superuser=True).exists():
        return InitialAdmin(path, created=False, file_matches=_database_of(path) == database)
    moved_aside = None
    if path.exists():
        moved_aside = path.with_name(f"initial-admin.{now:%Y%m%d-%H%M%S}.txt")
        path.rename(moved_aside)
    password = secrets.token_urlsafe(18)
    with transaction.atomic():
        user = users.objects.create_superuser(username=username, email="", password=password)
        token = create_api_token(user=user)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(
            f"username: {user.get_username()}\npassword: {password}\napi token: {token}\ndatabase: {database}\n"
            "Use the token as 'Authorization: Bearer <token>'. Change the password in the admin.\n"
        )
    return InitialAdmin(path, created=True, file_matches=True, moved_aside=moved_aside)


def _database_of(path: Path) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("database:")), None)
