"""The change feed's numbers: given by the sync as it writes each session, in order, once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions.changes import latest_change
from sessions.models import Session
from sessions.services import sync_sessions

pytestmark = pytest.mark.django_db


def test_a_first_sync_writes_each_session_once_with_its_change_number(results_dir: Path) -> None:
    with CaptureQueriesContext(connection) as queries:
        report = sync_sessions(results_dir=results_dir)
    assert report.created == Session.objects.count() > 1
    # Numbering afterwards would write every session's row (and its indexes) a second time.
    table = connection.ops.quote_name(Session._meta.db_table)
    assert not [query["sql"] for query in queries if f"UPDATE {table}" in query["sql"]]
    numbers = sorted(Session.objects.values_list("change_seq", flat=True))
    assert numbers == list(range(latest_change() - len(numbers) + 1, latest_change() + 1))


def test_a_changed_folder_gets_the_next_number_and_the_others_keep_theirs(results_dir: Path) -> None:
    sync_sessions(results_dir=results_dir)
    before = dict(Session.objects.values_list("name", "change_seq"))
    changed = sorted(before)[0]
    manifest = results_dir / changed / "manifest.json"
    stat = manifest.stat()
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    report = sync_sessions(results_dir=results_dir)
    assert report.updated == 1
    after = dict(Session.objects.values_list("name", "change_seq"))
    assert after[changed] == latest_change() > max(before.values())
    assert {name: number for name, number in after.items() if name != changed} == {
        name: number for name, number in before.items() if name != changed}
