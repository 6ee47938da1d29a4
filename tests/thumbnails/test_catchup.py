from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

import thumbnails.services as services
from tests.conftest import tiny_png
from thumbnails.models import ThumbnailCount
from thumbnails.pool import ThumbnailPool
from thumbnails.rendering import render
from thumbnails.services import catch_up_thumbnails, check_session, plan_catch_up, thumbnail_settings

pytestmark = pytest.mark.django_db


def render_session(results: Path, thumbnails: Path, name: str) -> None:
    """Give a session all its thumbnails (in this process)."""
    check = check_session(results_dir=results, thumbnails_dir=thumbnails, name=name,
                          render_settings=thumbnail_settings())
    for job in check.jobs:
        render(job)


def planned(results: Path, thumbnails: Path, **options) -> list[str]:
    return [check.name for _, check in plan_catch_up(results_dir=results, thumbnails_dir=thumbnails, **options)]


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sessions looked at on disk."""
    seen: list[str] = []
    real = services.check_session

    def recording(**kwargs):
        seen.append(kwargs["name"])
        return real(**kwargs)

    monkeypatch.setattr(services, "check_session", recording)
    return seen


def test_a_new_run_is_the_only_one_processed(library, empty_results_dir: Path, thumbnails_dir: Path,
                                             write_session, checks: list[str]) -> None:
    names = library(5)
    for name in names:
        render_session(empty_results_dir, thumbnails_dir, name)
    assert planned(empty_results_dir, thumbnails_dir) == []  # records every session's counts
    checks.clear()
    newest = library(6)[0]
    assert planned(empty_results_dir, thumbnails_dir) == [newest]
    assert checks == [newest]  # the others are known complete: not even looked at


def test_restart_after_a_crash_processes_the_incomplete_runs_and_stops_at_a_complete_one(
    library, empty_results_dir: Path, thumbnails_dir: Path, checks: list[str]
) -> None:
    names = library(6)  # newest first; the database knows nothing about thumbnails yet
    render_session(empty_results_dir, thumbnails_dir, names[3])  # complete
    # names[0..2] incomplete (the crash), names[4..5] too but older than a complete one.
    assert planned(empty_results_dir, thumbnails_dir) == names[:3]
    assert checks == names[:4]  # stopped at the first complete session after the incomplete ones


def test_everything_up_to_date_costs_no_disk_look(library, empty_results_dir: Path, thumbnails_dir: Path,
                                                  checks: list[str]) -> None:
    names = library(4)
    for name in names:
        render_session(empty_results_dir, thumbnails_dir, name)
    planned(empty_results_dir, thumbnails_dir)
    checks.clear()
    assert planned(empty_results_dir, thumbnails_dir) == []
    assert checks == []


def test_an_older_incomplete_run_is_still_found(library, empty_results_dir: Path, thumbnails_dir: Path,
                                               checks: list[str]) -> None:
    names = library(6)
    for name in names:
        render_session(empty_results_dir, thumbnails_dir, name)
    planned(empty_results_dir, thumbnails_dir)  # all known complete
    # Weeks later: an old run lost thumbnails (crash mid-render), newer runs are fine.
    old = names[4]
    for webp in list((thumbnails_dir / old).iterdir())[:2]:
        webp.unlink()
    ThumbnailCount.objects.filter(session__name=old).update(thumbnail_count=2)
    checks.clear()
    assert planned(empty_results_dir, thumbnails_dir) == [old]
    assert checks == [old]


def test_a_changed_folder_is_checked_again(library, empty_results_dir: Path, thumbnails_dir: Path) -> None:
    names = library(3)
    for name in names:
        render_session(empty_results_dir, thumbnails_dir, name)
    planned(empty_results_dir, thumbnails_dir)
    (empty_results_dir / names[2] / "facial_expressions_0000_seed-42.png").unlink()  # folder mtime moves
    (empty_results_dir / names[2] / "extra.png").write_bytes(
        (empty_results_dir / names[1] / "facial_expressions_0001_seed-43.png").read_bytes())
    [(_, check)] = list(plan_catch_up(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir))
    assert check.name == names[2]
    assert [Path(job.source).name for job in check.jobs] == ["extra.png"]
    assert check.stale == ["facial_expressions_0000_seed-42.webp"] and check.orphans == []


def test_full_checks_every_session(library, empty_results_dir: Path, thumbnails_dir: Path,
                                   checks: list[str]) -> None:
    names = library(5)
    render_session(empty_results_dir, thumbnails_dir, names[1])
    assert planned(empty_results_dir, thumbnails_dir, full=True) == [n for n in names if n != names[1]]
    assert sorted(checks) == sorted(names)


def test_catch_up_renders_removes_orphans_and_records_counts(library, empty_results_dir: Path,
                                                            thumbnails_dir: Path) -> None:
    names = library(3)
    (thumbnails_dir / names[0]).mkdir(parents=True)
    (thumbnails_dir / names[0] / "gone.webp").write_bytes(b"x")
    progress: list[tuple[int, int]] = []
    report = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=2,
                                 progress=lambda done, total: progress.append((done, total)))
    assert (report.rendered, report.failed, report.removed, report.sessions) == (12, 0, 1, 3)
    assert progress[-1] == (12, 12)
    assert not (thumbnails_dir / names[0] / "gone.webp").exists()
    for name in names:
        assert len(os.listdir(thumbnails_dir / name)) == 4
    assert sorted(ThumbnailCount.objects.values_list("png_count", "thumbnail_count")) == [(4, 4)] * 3
    again = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=2)
    assert (again.rendered, again.sessions) == (0, 0)


def test_failures_are_counted_and_do_not_stop_the_catch_up(library, empty_results_dir: Path,
                                                          thumbnails_dir: Path) -> None:
    names = library(2)
    corrupt = empty_results_dir / names[0] / "facial_expressions_0000_seed-42.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10 + b"\x00\x00\x00\x00IEND\xaeB`\x82")
    (empty_results_dir / names[0] / "facial_expressions_0001_seed-43.png").write_bytes(b"")
    report = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1)
    assert (report.rendered, report.failed, report.incomplete) == (6, 1, 1)
    assert report.errors[str(corrupt)].startswith("cannot decode the image")
    counted = ThumbnailCount.objects.get(session__name=names[0])
    assert (counted.png_count, counted.thumbnail_count, counted.failed_count) == (4, 2, 1)  # one still being written


class TestCommand:
    def test_summary(self, library, empty_results_dir: Path, thumbnails_dir: Path) -> None:
        library(2)
        out = io.StringIO()
        call_command("catchupthumbnails", "--results", str(empty_results_dir), "--workers", "1", stdout=out)
        assert out.getvalue().startswith("8 rendered, 0 skipped (up to date), 0 failed")
        assert "2 sessions touched" in out.getvalue()

    def test_names_and_full(self, library, empty_results_dir: Path, thumbnails_dir: Path) -> None:
        names = library(2)
        out = io.StringIO()
        call_command("catchupthumbnails", "--results", str(empty_results_dir), "--workers", "1", names[1], stdout=out)
        assert "4 rendered" in out.getvalue() and not (thumbnails_dir / names[0]).exists()
        out = io.StringIO()
        call_command("catchupthumbnails", "--results", str(empty_results_dir), "--workers", "1", "--full", stdout=out)
        assert "4 rendered" in out.getvalue()

    def test_unknown_names_and_results(self, library, empty_results_dir: Path, thumbnails_dir: Path) -> None:
        library(1)
        with pytest.raises(CommandError, match="no known session named: nope") as caught:
            call_command("catchupthumbnails", "--results", str(empty_results_dir), "nope")
        assert caught.value.returncode == 2
        with pytest.raises(CommandError, match="does not exist"):
            call_command("catchupthumbnails", "--results", str(empty_results_dir / "x"))


def test_full_removes_the_thumbnails_of_folders_that_are_gone(library, empty_results_dir: Path,
                                                             thumbnails_dir: Path) -> None:
    names = library(2)
    catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1)
    shutil.rmtree(empty_results_dir / names[0])
    (thumbnails_dir / "never a session").mkdir()
    report = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1, full=True)
    assert report.removed == 2
    assert sorted(os.listdir(thumbnails_dir)) == [names[1]]


def test_a_session_with_more_pngs_than_the_queue_holds_is_caught_up_whole(
    library, empty_results_dir: Path, thumbnails_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [name] = library(1)
    for n in range(40):
        (empty_results_dir / name / f"extra-{n:02}.png").write_bytes(tiny_png())
    monkeypatch.setattr(ThumbnailPool, "MAX_QUEUED", 5)  # as 12,000 PNGs against 10,000
    deadline = time.monotonic() + 60
    report = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=2,
                                 should_stop=lambda: time.monotonic() > deadline)
    assert time.monotonic() < deadline
    assert (report.rendered, report.failed) == (44, 0)
    assert len(list((thumbnails_dir / name).glob("*.webp"))) == 44


def test_a_deleted_thumbnail_folder_is_made_again_without_full(library, empty_results_dir: Path,
                                                               thumbnails_dir: Path) -> None:
    names = library(3)
    catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1)
    shutil.rmtree(thumbnails_dir / names[1])
    (thumbnails_dir / names[2] / "facial_expressions_0001_seed-43.webp").unlink()
    report = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1)
    assert (report.rendered, report.sessions) == (5, 2)
    assert all(len(os.listdir(thumbnails_dir / name)) == 4 for name in names)
    again = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1)
    assert (again.rendered, again.sessions) == (0, 0)


def test_a_failure_is_not_tried_again_until_its_file_changes(library, empty_results_dir: Path,
                                                             thumbnails_dir: Path) -> None:
    [name] = library(1)
    corrupt = empty_results_dir / name / "facial_expressions_0000_seed-42.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10 + b"\x00\x00\x00\x00IEND\xaeB`\x82")
    first = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1)
    assert (first.rendered, first.failed) == (3, 1)
    assert ThumbnailCount.objects.values_list("thumbnail_count", "failed_count").get() == (3, 1)
    again = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1)
    assert (again.sessions, again.failed) == (0, 0)  # known: not even looked at
    full = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1, full=True)
    assert (full.sessions, full.failed) == (0, 0)  # looked at, and still known
    replacement = corrupt.with_suffix(".tmp")  # a good copy moved over it: the folder changes
    replacement.write_bytes(tiny_png())
    later = os.stat(thumbnails_dir / name / "facial_expressions_0000_seed-42.webp.failed").st_mtime_ns + 10**9
    os.utime(replacement, ns=(later, later))
    replacement.replace(corrupt)
    fixed = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1)
    assert (fixed.rendered, fixed.failed) == (1, 0)
    assert sorted(os.listdir(thumbnails_dir / name)) == [f"facial_expressions_000{n}_seed-4{n + 2}.webp"
                                                         for n in range(4)]


def test_temporary_files_left_by_a_killed_writer_are_removed(library, empty_results_dir: Path,
                                                              thumbnails_dir: Path) -> None:
    [name] = library(1)
    folder = thumbnails_dir / name
    folder.mkdir(parents=True)
    gone_writer = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                                 text=True, check=True).stdout.strip()
    stale = folder / f".{gone_writer}-k3j2h1.webp.tmp"  # its writer was killed mid-write
    old_style = folder / ".x8a7zq0l.webp.tmp"
    being_written = folder / f".{os.getpid()}-abcdef.webp.tmp"
    for path in (stale, old_style, being_written):
        path.write_bytes(b"RIFF")
    hour_ago = time.time_ns() - 3600 * 10**9
    os.utime(old_style, ns=(hour_ago, hour_ago))
    report = catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1)
    assert report.rendered == 4
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == [being_written.name]
