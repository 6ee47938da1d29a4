"""The digest of what the last whole sync left stored: a sync that finds the database as that
sync left it, and the folders giving the same digest, reads no stored state; any change on disk
or in the database makes it compare the states one by one, as before."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import sessions.services.sync as sync_module
from sessions.changes import stamp_changes
from sessions.models import Session, SessionStats, SyncedFolders
from sessions.scanning import iter_folder_states
from sessions.services import sync_sessions
from sessions.services.known import load_states
from sessions.services.synced_folders import states_digest
from tests.conftest import ROOT, SessionWriter

pytestmark = pytest.mark.django_db

FACIAL = "20261121_043601-facial_expressions"
SWEEP = "20261121_043621-seed_sweep_test"
RANDOM = "20261121_043627-random_test"


@pytest.fixture
def state_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every load of the whole library's stored states by a sync (how many it found)."""
    loads: list[int] = []
    original = sync_module.load_states

    def counting():
        states = original()
        loads.append(len(states))
        return states

    monkeypatch.setattr(sync_module, "load_states", counting)
    return loads


@pytest.fixture
def synced(results_dir: Path, state_loads: list[int]) -> Path:
    """The real results synced, then synced again (which records the digest), loads forgotten."""
    sync_sessions(results_dir=results_dir)
    sync_sessions(results_dir=results_dir)
    state_loads.clear()
    return results_dir


def test_a_sync_with_nothing_changed_reads_no_stored_state(synced: Path, state_loads: list[int]) -> None:
    with CaptureQueriesContext(connection) as queries:
        report = sync_sessions(results_dir=synced)
    assert state_loads == []
    assert (report.sessions_seen, report.unchanged, report.updated, report.missing) == (4, 4, 0, 0)
    # Nothing reads the sessions' folder states, one by one or all at once.
    assert not [query["sql"] for query in queries.captured_queries if "folder_mtime_ns" in query["sql"]]


def test_the_first_sync_records_what_it_wrote(results_dir: Path, state_loads: list[int]) -> None:
    sync_sessions(results_dir=results_dir)
    state_loads.clear()
    sync_sessions(results_dir=results_dir)
    assert state_loads == []


def test_stored_and_folder_states_give_one_digest(synced: Path, write_session: SessionWriter) -> None:
    write_session(synced, "20261122_090000-only_images", None, images=["00001.png"])  # no manifest
    sync_sessions(results_dir=synced)
    stored, on_disk = load_states(), list(iter_folder_states(synced))
    assert any(state[4] is None for state in on_disk)
    assert states_digest(stored) == states_digest(on_disk) == states_digest(reversed(on_disk))
    assert states_digest(on_disk[1:]) != states_digest(on_disk)
    synced_row = SyncedFolders.objects.get()
    assert (synced_row.states, synced_row.digest) == states_digest(stored)


def test_a_digest_is_the_same_in_another_process(synced: Path) -> None:
    """Recorded by one process, compared by the next: a text's hash changes from one process to
    the next, and before Python 3.12 so did None's."""
    states = [*iter_folder_states(synced), ("without manifest", 1, 2, 3, None, None), ("x", None, None, None, None, None)]
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); import django; django.setup(); "
              "from sessions.services.synced_folders import states_digest; "
              "print(json.dumps(states_digest([tuple(s) for s in json.loads(sys.stdin.read())])))")
    digests = set()
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", script, str(ROOT)], input=json.dumps(states), text=True,
                             capture_output=True, check=True, timeout=60,
                             env={**os.environ, "PYTHONHASHSEED": seed, "DJANGO_SETTINGS_MODULE": "sdgen_site.settings"})
        digests.add(tuple(json.loads(out.stdout)))
    assert digests == {states_digest(states)}


def test_folders_swapping_names_change_the_digest() -> None:
    """Two folders that swap names keep their states but each under the other's name. Summing
    Python's hash of each state's tuple gave the same digest for this pair (seen in a test run)
    and for about one random pair in twenty."""
    facial_state = (1796207471199954020, 65024, 2148215, 1796208737738307490, 2794)
    random_state = (1796207471200272134, 65024, 2148228, 1796208737740776204, 2046)
    assert states_digest([(FACIAL, *facial_state), (RANDOM, *random_state)]) != states_digest(
        [(FACIAL, *random_state), (RANDOM, *facial_state)])
    numbers = random.Random(7)
    for _ in range(2000):
        first, second = (tuple(numbers.randrange(1 << 40, 1 << 61) for _ in range(5)) for _ in range(2))
        assert states_digest([("a", *first), ("b", *second)]) != states_digest([("a", *second), ("b", *first)])


@pytest.mark.parametrize("change", ["manifest rewritten in place", "image deleted", "folder renamed",
                                    "folder vanished", "new folder", "folder touched", "folders swapped"])
def test_every_change_on_disk_is_still_found(synced: Path, state_loads: list[int], tmp_path: Path,
                                             write_session: SessionWriter, change: str) -> None:
    folder = synced / FACIAL
    if change == "manifest rewritten in place":
        data = json.loads((folder / "manifest.json").read_text())
        data["note"] = "rewritten"
        (folder / "manifest.json").write_text(json.dumps(data))
    elif change == "image deleted":
        sorted(folder.glob("*.png"))[-1].unlink()
    elif change == "folder renamed":
        folder.rename(synced / "20261121_043601-renamed")
    elif change == "folder vanished":
        shutil.move(folder, tmp_path / "away")
    elif change == "new folder":
        write_session(synced, "20261122_090000-new", None, images=["00001.png"])
    elif change == "folders swapped":
        folder.rename(synced / "swap")
        (synced / RANDOM).rename(folder)
        (synced / "swap").rename(synced / RANDOM)
    else:
        stamp = folder.stat().st_mtime_ns + 1_000_000
        os.utime(folder, ns=(stamp, stamp))
    report = sync_sessions(results_dir=synced)
    assert state_loads == [4]
    expected = {"folder renamed": (0, 0, 1, 0), "folder vanished": (0, 0, 0, 1), "new folder": (1, 0, 0, 0),
                "folders swapped": (0, 0, 2, 0)}
    assert (report.created, report.updated, report.renamed, report.missing) == expected.get(change, (0, 1, 0, 0))
    state_loads.clear()
    assert sync_sessions(results_dir=synced).unchanged == report.sessions_seen  # recorded again
    assert state_loads == []
    if change == "image deleted":
        assert Session.objects.get(name=FACIAL).images_actual == 3


def test_a_write_to_the_database_compares_every_state(synced: Path, state_loads: list[int]) -> None:
    """A session written by anything else (every writer moves ``updated_at``): what the
    database holds is no longer what the digest was taken of."""
    Session.objects.filter(name=SWEEP).update(folder_mtime_ns=1, updated_at=timezone.now())
    report = sync_sessions(results_dir=synced)
    assert state_loads == [4] and report.updated == 1
    assert Session.objects.get(name=SWEEP).folder_mtime_ns == (synced / SWEEP).stat().st_mtime_ns


def test_a_new_change_number_compares_every_state(synced: Path, state_loads: list[int]) -> None:
    stamp_changes([Session.objects.get(name=SWEEP).pk])
    assert sync_sessions(results_dir=synced).unchanged == 4
    assert state_loads == [4]


def test_stats_of_another_version_compare_every_state(synced: Path, state_loads: list[int],
                                                      manifest_reads: list[Path]) -> None:
    SessionStats.objects.filter(session__name=SWEEP).update(stats_version=0)
    sync_sessions(results_dir=synced)
    assert state_loads == [4] and [path.parent.name for path in manifest_reads] == [SWEEP]


def test_a_digest_of_another_stats_version_is_not_trusted(synced: Path, state_loads: list[int]) -> None:
    """After an upgrade that changes what the stats hold, every session is read again, though
    neither the folders nor the rows moved (the rows are of the old version, as the code was)."""
    SyncedFolders.objects.update(stats_version=0)
    sync_sessions(results_dir=synced)
    assert state_loads == [4]
