"""``createinitialadmin``: the first superuser, its password and token, written once."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def credentials(path: Path) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in path.read_text().splitlines() if ": " in line)


def test_first_run_writes_credentials_once(settings, tmp_path: Path) -> None:
    settings.SDGEN_DATA_DIR = tmp_path
    out = io.StringIO()
    call_command("createinitialadmin", stdout=out)
    path = tmp_path / "initial-admin.txt"
    assert str(path) in out.getvalue()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    lines = credentials(path)
    assert authenticate(username="admin", password=lines["password"]) is not None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {lines['api token']}")
    assert client.get("/api/stats").status_code == 200
    assert lines["database"].startswith(("sqlite:", "postgresql://"))
    before = path.read_text()
    call_command("createinitialadmin", stdout=(again := io.StringIO()))
    assert path.read_text() == before
    assert f"Admin credentials from the first run are in {path}" in again.getvalue()


def test_a_file_of_another_database_is_kept_not_overwritten(settings, tmp_path: Path) -> None:
    settings.SDGEN_DATA_DIR = tmp_path
    path = tmp_path / "initial-admin.txt"
    path.write_text("username: admin\npassword: from-the-other-database\ndatabase: sqlite:/elsewhere.sqlite3\n")
    out = io.StringIO()
    call_command("createinitialadmin", stdout=out)
    kept = [p for p in tmp_path.glob("initial-admin.*.txt")]
    assert len(kept) == 1 and "from-the-other-database" in kept[0].read_text()
    assert f"{path} held the credentials of another database; it is kept as {kept[0]}" in out.getvalue()
    assert authenticate(username="admin", password=credentials(path)["password"]) is not None


def test_a_database_with_its_own_superuser_does_not_point_at_a_foreign_file(settings, tmp_path: Path) -> None:
    settings.SDGEN_DATA_DIR = tmp_path
    User.objects.create_superuser("boss", password="pw")
    path = tmp_path / "initial-admin.txt"
    path.write_text("username: admin\npassword: x\ndatabase: sqlite:/elsewhere.sqlite3\n")
    out = io.StringIO()
    call_command("createinitialadmin", stdout=out)
    assert "already has a superuser; its password is not in" in out.getvalue()
    assert "changepassword" in out.getvalue()
    assert path.read_text().endswith("elsewhere.sqlite3\n")
