from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.utils import timezone as dj_timezone

import sessions.services.sync as sync_module
from sessions.lifecycle import mark_stale_sessions
from sessions.models import Event, Session, SessionImage, SessionMetadata, SessionStats, SessionTag
from sessions.scanning import ResultsDirError
from sessions.services import sync_sessions
from sessions.services.known import KnownSessions, load_states
from sessions.stats import STATS_VERSION
from tests.conftest import REAL_SESSION_NAMES, SessionWriter, load_manifest, set_mtime

pytestmark = pytest.mark.django_db

FACIAL = "20261121_043601-facial_expressions"
SWEEP = "20261121_043621-seed_sweep_test"
RANDOM = "20261121_043627-random_test"
LONG_AGO = datetime(2025, 1, 1, tzinfo=timezone.utc)


def kinds(session: Session) -> list[tuple[str, str | None, str | None, str]]:
    return [(e.kind, e.from_status, e.to_status, e.source) for e in Event.objects.filter(session=session)]


def rewrite_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


class TestFirstSync:
    def test_real_results_become_sessions(self, results_dir: Path) -> None:
        report = sync_sessions(results_dir=results_dir)
        assert report.created == 4 and not report.errors
        assert sorted(Session.objects.values_list("name", flat=True)) == REAL_SESSION_NAMES
        facial = Session.objects.get(name=FACIAL)
        assert (facial.status, facial.has_manifest, facial.is_missing, facial.sync_error) == (
            "completed", True, False, None)
        assert (facial.images_actual, facial.images_expected, facial.completion_percentage) == (4, 4, 100.0)
        assert facial.created_at == datetime(2026, 11, 21, 4, 36, 1, tzinfo=timezone.utc)
        assert facial.uuid.version == 4
        assert kinds(facial) == [("discovered", None, "completed", "watchdog")]

    def test_stats_and_image_rows_are_stored(self, results_dir: Path) -> None:
        sync_sessions(results_dir=results_dir)
        stats = SessionStats.objects.get(session__name=SWEEP)
        assert stats.is_seed_sweep and stats.seed_mode == "progressive"
        assert stats.sd_model == "v1-5-pruned-emaonly.safetensors [6ce0161689]"
        assert stats.placeholders == {"FacialExpression": 1, "Angle": 2}
        assert stats.stats_version == STATS_VERSION
        images = list(SessionImage.objects.filter(session__name=FACIAL).order_by("index"))
        assert [(i.filename, i.index, i.seed, i.width, i.height) for i in images] == [
            (f"facial_expressions_000{n}_seed-{42 + n}.png", n, 42 + n, 64, 96) for n in range(4)
        ]
        first = images[0]
        assert first.prompt == "masterpiece, 1girl, smiling, cheerful expression, front view, detailed face"
        assert first.negative_prompt == "low quality, blurry"
        assert first.applied_variations == {"FacialExpression": "smiling, cheerful expression", "Angle": "front view"}
        assert first.file_size == (results_dir / FACIAL / first.filename).stat().st_size
        assert first.exists and first.created_at is not None

    def test_random_seed_images_keep_their_manifest_data(self, results_dir: Path) -> None:
        sync_sessions(results_dir=results_dir)
        assert list(SessionImage.objects.filter(session__name=RANDOM).values_list("filename", "seed")) == [
            ("random_test_0000.png", 987654321), ("random_test_0001.png", 987654321)]

    def test_dryrun_hidden_files_and_empty_folders_are_not_sessions(
        self, results_dir: Path, write_session: SessionWriter
    ) -> None:
        write_session(results_dir, ".hidden", load_manifest("manifest_legacy_cli_combinatorial.json"))
        (results_dir / "empty folder").mkdir()
        (results_dir / "stray.png").write_bytes(b"not a folder")
        report = sync_sessions(results_dir=results_dir)
        assert report.sessions_seen == 4
        assert not Session.objects.filter(name__in=["dryrun", ".hidden", "empty folder", "stray.png"]).exists()

    def test_folder_with_images_and_no_manifest(self, empty_results_dir: Path, write_session: SessionWriter) -> None:
        write_session(empty_results_dir, "loose images", None, images=["a.png", "b.jpg"])
        sync_sessions(results_dir=empty_results_dir)
        session = Session.objects.get(name="loose images")
        assert (session.status, session.has_manifest, session.images_actual, session.images_expected) == (
            "completed", False, 2, None)
        assert not SessionStats.objects.filter(session=session).exists()
        assert SessionImage.objects.filter(session=session).count() == 2

    def test_names_with_spaces_dots_and_non_ascii(self, empty_results_dir: Path, write_session: SessionWriter) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        for entry in manifest["images"]:
            entry["filename"] = "portrait café " + entry["filename"]
        name = "2025-10-14_173320_hassaku portrait.prompt ✨"
        write_session(empty_results_dir, name, manifest)
        sync_sessions(results_dir=empty_results_dir)
        session = Session.objects.get(name=name)
        assert session.images_actual == 4 and session.sync_error is None
        assert session.created_at == datetime(2025, 10, 14, 17, 33, 20, tzinfo=timezone.utc)
        assert SessionImage.objects.filter(session=session, filename__startswith="portrait café ", seed=42).exists()

    def test_undecodable_file_names_are_skipped(self, empty_results_dir: Path, write_session: SessionWriter) -> None:
        folder = write_session(empty_results_dir, "run", None, images=["good.png"])
        with open(os.path.join(os.fsencode(folder), b"bad-\xff.png"), "wb") as handle:
            handle.write(b"x")
        os.mkdir(os.path.join(os.fsencode(empty_results_dir), b"folder-\xfe"))
        sync_sessions(results_dir=empty_results_dir)
        assert list(Session.objects.values_list("name", "images_actual")) == [("run", 1)]

    def test_a_partial_run_counts_what_is_on_disk(self, empty_results_dir: Path, write_session: SessionWriter) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        manifest["snapshot"]["generation_params"]["num_images"] = 10
        manifest["status"] = "ongoing"
        write_session(empty_results_dir, "20251107_120000-partial", manifest,
                      images=[e["filename"] for e in manifest["images"][:3]])
        sync_sessions(results_dir=empty_results_dir)
        session = Session.objects.get()
        assert (session.images_actual, session.images_expected, session.completion_percentage) == (3, 10, 30.0)
        assert SessionImage.objects.filter(session=session, file_size__isnull=True).count() == 1
        assert session.stats.images_recorded == 4


class TestChangeDetection:
    def test_a_second_sync_with_nothing_changed_reads_no_manifest(
        self, results_dir: Path, manifest_reads: list[Path]
    ) -> None:
        sync_sessions(results_dir=results_dir)
        assert len(manifest_reads) == 4
        manifest_reads.clear()
        report = sync_sessions(results_dir=results_dir)
        assert manifest_reads == []
        assert (report.unchanged, report.updated, report.created) == (4, 0, 0)

    def test_only_the_changed_manifest_is_read(self, results_dir: Path, manifest_reads: list[Path]) -> None:
        sync_sessions(results_dir=results_dir)
        manifest_reads.clear()
        rewrite_manifest(results_dir / FACIAL, lambda data: data.update(note="rewritten"))
        report = sync_sessions(results_dir=results_dir)
        assert [p.parent.name for p in manifest_reads] == [FACIAL]
        assert report.updated == 1

    def test_an_added_image_is_picked_up(self, results_dir: Path, write_session: SessionWriter) -> None:
        sync_sessions(results_dir=results_dir)
        write_session(results_dir, FACIAL, images=["facial_expressions_0004_seed-46.png"])
        sync_sessions(results_dir=results_dir)
        session = Session.objects.get(name=FACIAL)
        assert session.images_actual == 5
        assert SessionImage.objects.get(session=session, filename="facial_expressions_0004_seed-46.png").index == 4

    def test_deleted_and_replaced_images(self, results_dir: Path) -> None:
        sync_sessions(results_dir=results_dir)
        folder = results_dir / FACIAL
        (folder / "facial_expressions_0000_seed-42.png").unlink()
        replaced = folder / "facial_expressions_0001_seed-43.png"
        from sessions.simulator import png_bytes

        replaced.write_bytes(png_bytes(width=10, height=20, seed=3, parameters="p"))
        report = sync_sessions(results_dir=results_dir)
        rows = {i.filename: i for i in SessionImage.objects.filter(session__name=FACIAL)}
        assert not rows["facial_expressions_0000_seed-42.png"].exists  # still in the manifest
        assert (rows["facial_expressions_0001_seed-43.png"].width, rows["facial_expressions_0001_seed-43.png"].height) \
            == (10, 20)
        assert Session.objects.get(name=FACIAL).images_actual == 3
        assert report.images_written == 2

    def test_an_image_in_neither_manifest_nor_folder_is_removed(self, results_dir: Path) -> None:
        folder = results_dir / RANDOM
        shutil.copyfile(folder / "random_test_0000.png", folder / "extra.png")
        sync_sessions(results_dir=results_dir)
        assert SessionImage.objects.filter(filename="extra.png").exists()
        (folder / "extra.png").unlink()
        report = sync_sessions(results_dir=results_dir)
        assert report.images_deleted == 1
        assert not SessionImage.objects.filter(filename="extra.png").exists()

    def test_full_rereads_everything(self, results_dir: Path, manifest_reads: list[Path]) -> None:
        sync_sessions(results_dir=results_dir)
        manifest_reads.clear()
        report = sync_sessions(results_dir=results_dir, full=True)
        assert len(manifest_reads) == 4 and report.updated == 4
        assert report.images_written == 0  # nothing differed

    def test_named_sync_reads_only_those(self, results_dir: Path, manifest_reads: list[Path]) -> None:
        report = sync_sessions(results_dir=results_dir, names=[SWEEP])
        assert [p.parent.name for p in manifest_reads] == [SWEEP]
        assert report.created == 1 and report.missing == 0
        assert Session.objects.count() == 1

    def test_outdated_stats_version_is_recomputed(self, results_dir: Path, manifest_reads: list[Path]) -> None:
        sync_sessions(results_dir=results_dir)
        SessionStats.objects.filter(session__name=SWEEP).update(stats_version=0)
        manifest_reads.clear()
        sync_sessions(results_dir=results_dir)
        assert [p.parent.name for p in manifest_reads] == [SWEEP]
        assert SessionStats.objects.get(session__name=SWEEP).stats_version == STATS_VERSION


class TestComparingFolderStates:
    """A sync of the whole library compares the folders' states with the stored ones as two
    sets, then loads only the sessions whose names differ."""

    @pytest.fixture
    def loads(self, monkeypatch: pytest.MonkeyPatch) -> list[object]:
        """Every load of sessions' stored rows: "all", or the names asked for."""
        calls: list[object] = []
        load_known, load_named = sync_module.load_known, sync_module.load_named
        monkeypatch.setattr(sync_module, "load_known", lambda: calls.append("all") or load_known())
        monkeypatch.setattr(sync_module, "load_named", lambda names: calls.append(list(names)) or load_named(names))
        return calls

    def test_a_sync_with_nothing_changed_loads_no_session(self, results_dir: Path, loads: list[object]) -> None:
        sync_sessions(results_dir=results_dir)
        loads.clear()
        report = sync_sessions(results_dir=results_dir)
        assert loads == []
        assert (report.sessions_seen, report.unchanged, report.updated, report.missing) == (4, 4, 0, 0)

    def test_only_the_names_that_differ_are_loaded(self, results_dir: Path, loads: list[object],
                                                   tmp_path: Path) -> None:
        sync_sessions(results_dir=results_dir)
        loads.clear()
        rewrite_manifest(results_dir / FACIAL, lambda data: data.update(note="rewritten in place"))
        shutil.move(results_dir / RANDOM, tmp_path / "away")
        report = sync_sessions(results_dir=results_dir)
        assert loads == [sorted([FACIAL, RANDOM])]
        assert (report.sessions_seen, report.unchanged, report.updated, report.missing) == (3, 2, 1, 1)

    def test_a_missing_session_has_no_stored_state_and_outdated_stats_one_no_folder_shows(
            self, results_dir: Path, tmp_path: Path) -> None:
        sync_sessions(results_dir=results_dir)
        shutil.move(results_dir / FACIAL, tmp_path / "away")
        sync_sessions(results_dir=results_dir)
        SessionStats.objects.filter(session__name=SWEEP).update(stats_version=0)
        states = load_states()
        assert sorted(state[0] for state in states) == sorted(set(REAL_SESSION_NAMES) - {FACIAL})
        assert (SWEEP, None, None, None, None, None) in states
        kept = KnownSessions()
        kept.current(now=dj_timezone.now())
        assert kept.states() == states

    @pytest.mark.parametrize("kept", [False, True])
    def test_outdated_stats_and_a_vanished_folder_is_missing(self, results_dir: Path, tmp_path: Path,
                                                            kept: bool) -> None:
        known = KnownSessions() if kept else None
        sync_sessions(results_dir=results_dir, known=known)
        SessionStats.objects.filter(session__name=SWEEP).update(stats_version=0)
        Session.objects.filter(name=SWEEP).update(updated_at=dj_timezone.now())  # as any writer does
        shutil.move(results_dir / SWEEP, tmp_path / "away")
        report = sync_sessions(results_dir=results_dir, known=known)
        assert report.missing == 1 and Session.objects.get(name=SWEEP).is_missing

    @pytest.mark.parametrize("kept", [False, True])
    def test_outdated_stats_and_a_renamed_folder_is_renamed(self, results_dir: Path, kept: bool) -> None:
        known = KnownSessions() if kept else None
        sync_sessions(results_dir=results_dir, known=known)
        session = Session.objects.get(name=SWEEP)
        SessionStats.objects.filter(session=session).update(stats_version=0)
        Session.objects.filter(pk=session.pk).update(updated_at=dj_timezone.now())
        os.rename(results_dir / SWEEP, results_dir / "renamed")
        report = sync_sessions(results_dir=results_dir, known=known)
        assert report.renamed == 1 and report.created == 0
        renamed = Session.objects.get(pk=session.pk)
        assert renamed.name == "renamed" and not renamed.is_missing
        assert renamed.stats.stats_version == STATS_VERSION

    def test_the_states_a_caller_keeps_follow_its_own_writes(self, results_dir: Path,
                                                            manifest_reads: list[Path]) -> None:
        known = KnownSessions()
        sync_sessions(results_dir=results_dir, known=known)
        rewrite_manifest(results_dir / FACIAL, lambda data: data.update(note="rewritten in place"))
        manifest_reads.clear()
        assert sync_sessions(results_dir=results_dir, known=known).updated == 1
        assert [path.parent.name for path in manifest_reads] == [FACIAL]
        manifest_reads.clear()
        assert sync_sessions(results_dir=results_dir, known=known).unchanged == 4
        assert manifest_reads == []
        assert known.states() == load_states()


class TestRebuild:
    def test_rebuild_recomputes_cache_and_keeps_metadata_events_and_identity(self, results_dir: Path) -> None:
        sync_sessions(results_dir=results_dir)
        session = Session.objects.get(name=FACIAL)
        metadata = SessionMetadata.objects.create(session=session, is_favorite=True, user_note="keep me")
        SessionTag.objects.create(metadata=metadata, name="portraits", position=0)
        SessionStats.objects.filter(session=session).update(sd_model="corrupted")
        SessionImage.objects.filter(session=session).update(prompt="corrupted")
        events_before = list(Event.objects.values_list("record_id", flat=True))

        report = sync_sessions(results_dir=results_dir, rebuild=True)

        assert report.images_written == 12
        rebuilt = Session.objects.get(name=FACIAL)
        assert rebuilt.uuid == session.uuid and rebuilt.pk == session.pk
        assert rebuilt.stats.sd_model.startswith("v1-5-pruned")
        assert not SessionImage.objects.filter(prompt="corrupted").exists()
        assert SessionMetadata.objects.get(session=rebuilt).user_note == "keep me"
        assert list(SessionTag.objects.values_list("name", flat=True)) == ["portraits"]
        assert list(Event.objects.values_list("record_id", flat=True)) == events_before


class TestMissingAndRestored:
    def test_a_vanished_folder_is_marked_missing_and_comes_back(self, results_dir: Path, tmp_path: Path) -> None:
        sync_sessions(results_dir=results_dir)
        session = Session.objects.get(name=FACIAL)
        SessionMetadata.objects.create(session=session, is_favorite=True)
        shutil.move(results_dir / FACIAL, tmp_path / "elsewhere")

        report = sync_sessions(results_dir=results_dir)
        assert report.missing == 1
        gone = Session.objects.get(name=FACIAL)
        assert gone.is_missing and gone.images_actual == 4
        assert SessionImage.objects.filter(session=gone).count() == 4
        assert sync_sessions(results_dir=results_dir).missing == 0  # only once

        shutil.move(tmp_path / "elsewhere", results_dir / FACIAL)
        report = sync_sessions(results_dir=results_dir)
        assert report.restored == 1
        back = Session.objects.get(name=FACIAL)
        assert not back.is_missing and back.uuid == session.uuid
        assert SessionMetadata.objects.get(session=back).is_favorite
        assert kinds(back) == [
            ("discovered", None, "completed", "watchdog"),
            ("missing", "completed", "completed", "watchdog"),
            ("restored", "completed", "completed", "watchdog"),
        ]

    def test_a_named_sync_of_a_vanished_folder_marks_it_missing(self, results_dir: Path) -> None:
        sync_sessions(results_dir=results_dir)
        shutil.rmtree(results_dir / SWEEP)
        assert sync_sessions(results_dir=results_dir, names=[SWEEP]).missing == 1
        assert Session.objects.get(name=SWEEP).is_missing

    def test_a_folder_emptied_of_everything_is_missing(self, results_dir: Path) -> None:
        sync_sessions(results_dir=results_dir)
        for path in (results_dir / RANDOM).iterdir():
            path.unlink()
        assert sync_sessions(results_dir=results_dir).missing == 1


class TestStatusFromTheManifest:
    def ongoing_run(self, root: Path, write_session: SessionWriter, *, mtime: datetime | None = None) -> Path:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        manifest["status"] = "ongoing"
        return write_session(root, "20251107_120000-run", manifest, mtime=mtime)

    def test_manifest_status_changes_go_through_the_state_machine(
        self, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        folder = self.ongoing_run(empty_results_dir, write_session)
        sync_sessions(results_dir=empty_results_dir)
        rewrite_manifest(folder, lambda data: data.update(status="completed"))
        report = sync_sessions(results_dir=empty_results_dir)
        session = Session.objects.get()
        assert report.status_changes == 1 and session.status == "completed"
        assert kinds(session)[-1] == ("status_changed", "ongoing", "completed", "watchdog")

    def test_completed_never_goes_back_to_ongoing_from_the_manifest(
        self, empty_results_dir: Path, write_session: SessionWriter, caplog: pytest.LogCaptureFixture
    ) -> None:
        folder = self.ongoing_run(empty_results_dir, write_session)
        rewrite_manifest(folder, lambda data: data.update(status="completed"))
        sync_sessions(results_dir=empty_results_dir)
        rewrite_manifest(folder, lambda data: data.update(status="ongoing"))
        with caplog.at_level("INFO", logger="sessions.services.writing"):
            sync_sessions(results_dir=empty_results_dir)
        assert Session.objects.get().status == "completed"
        assert "manifest says ongoing, status stays completed" in caplog.text

    def test_stale_runs_are_aborted_by_the_system(self, empty_results_dir: Path, write_session: SessionWriter) -> None:
        self.ongoing_run(empty_results_dir, write_session, mtime=LONG_AGO)
        sync_sessions(results_dir=empty_results_dir)
        assert Session.objects.get().status == "ongoing"
        assert mark_stale_sessions() == 1
        session = Session.objects.get()
        assert session.status == "aborted" and session.status_source == "system"
        event = Event.objects.filter(session=session).last()
        assert (event.kind, event.source, event.performer_id, event.reason) == (
            "status_changed", "system", "system", "stale")
        assert mark_stale_sessions() == 0

    def test_legacy_manifests_without_status_are_closed_by_the_stale_rule(
        self, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        write_session(empty_results_dir, "old", load_manifest("manifest_legacy_no_status.json"), mtime=LONG_AGO)
        sync_sessions(results_dir=empty_results_dir)
        mark_stale_sessions()
        assert Session.objects.get().status == "aborted"

    def test_active_runs_are_not_stale(self, empty_results_dir: Path, write_session: SessionWriter) -> None:
        self.ongoing_run(empty_results_dir, write_session)
        sync_sessions(results_dir=empty_results_dir)
        assert mark_stale_sessions() == 0
        later = dj_timezone.now() + timedelta(minutes=31)
        assert mark_stale_sessions(now=later) == 1

    def test_a_stale_verdict_stands_until_the_manifest_changes(
        self, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        folder = self.ongoing_run(empty_results_dir, write_session, mtime=LONG_AGO)
        sync_sessions(results_dir=empty_results_dir)
        mark_stale_sessions()
        sync_sessions(results_dir=empty_results_dir, full=True)  # manifest unchanged: still aborted
        assert Session.objects.get().status == "aborted"
        rewrite_manifest(folder, lambda data: data.update(status="ongoing"))  # the run resumes
        sync_sessions(results_dir=empty_results_dir)
        session = Session.objects.get()
        assert session.status == "ongoing"
        assert kinds(session)[-1] == ("status_changed", "aborted", "ongoing", "watchdog")

    def test_a_manual_fix_stands_until_the_manifest_changes(
        self, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        from sessions.lifecycle import transition_status

        folder = self.ongoing_run(empty_results_dir, write_session)
        rewrite_manifest(folder, lambda data: data.update(status="aborted"))
        sync_sessions(results_dir=empty_results_dir)
        session = Session.objects.get()
        transition_status(session=session, to_status="completed", source="admin", performer="ann", reason="done")
        sync_sessions(results_dir=empty_results_dir, full=True)
        assert Session.objects.get().status == "completed"


class TestBadInput:
    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b'{"snapshot": {"version": "2.0", "images": [{"filen', "not valid JSON"),
            (b"{not json}", "not valid JSON"),
            (b"[]", "JSON object"),
            (b'{"snapshot": {"generation_params": {"num_images": "four"}}}', "num_images"),
            (b'{"images": 7}', "images"),
            (b'{"status": "caf\xe9"}', "not UTF-8"),
        ],
    )
    def test_a_bad_manifest_keeps_the_last_good_data(
        self, results_dir: Path, content: bytes, message: str
    ) -> None:
        sync_sessions(results_dir=results_dir)
        good = Session.objects.get(name=FACIAL)
        (results_dir / FACIAL / "manifest.json").write_bytes(content)
        report = sync_sessions(results_dir=results_dir)
        assert message in report.errors[FACIAL]
        assert report.updated == 1 and len(report.errors) == 1
        bad = Session.objects.get(name=FACIAL)
        assert message in bad.sync_error
        assert (bad.status, bad.images_actual, bad.images_expected) == (good.status, 4, 4)
        assert bad.stats.sd_model.startswith("v1-5")
        assert SessionImage.objects.filter(session=bad).count() == 4

    def test_a_bad_manifest_does_not_stop_the_run_and_is_read_again_on_change(
        self, results_dir: Path, manifest_reads: list[Path]
    ) -> None:
        manifest_path = results_dir / FACIAL / "manifest.json"
        good = manifest_path.read_bytes()
        manifest_path.write_bytes(good[:100])
        report = sync_sessions(results_dir=results_dir)
        assert report.created == 4 and list(report.errors) == [FACIAL]
        session = Session.objects.get(name=FACIAL)
        assert session.status == "ongoing" and "truncated" in session.sync_error
        manifest_reads.clear()
        sync_sessions(results_dir=results_dir)
        assert manifest_reads == []  # not read again until it changes
        manifest_path.write_bytes(good)
        sync_sessions(results_dir=results_dir)
        fixed = Session.objects.get(name=FACIAL)
        assert fixed.sync_error is None and fixed.status == "completed" and fixed.stats.images_recorded == 4

    def test_an_oversized_manifest(self, results_dir: Path) -> None:
        with open(results_dir / SWEEP / "manifest.json", "r+b") as handle:
            handle.truncate(100 * 1024 * 1024)
        report = sync_sessions(results_dir=results_dir)
        assert "over the 64 MiB limit" in report.errors[SWEEP]
        assert Session.objects.count() == 4

    def test_an_unreadable_folder(self, results_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        sync_sessions(results_dir=results_dir)
        # Tests may run as root, for whom chmod cannot deny reading: refuse the listing instead.
        real_scandir = os.scandir
        locked = os.path.join(results_dir, SWEEP)

        def scandir(path="."):
            if not isinstance(path, int) and os.fspath(path) == locked:
                raise PermissionError(13, "Permission denied", locked)
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
        set_mtime(results_dir / SWEEP, LONG_AGO)
        report = sync_sessions(results_dir=results_dir)
        assert report.errors == {SWEEP: "the folder cannot be read: permission denied"}
        session = Session.objects.get(name=SWEEP)
        assert session.sync_error == "the folder cannot be read: permission denied"
        assert session.images_actual == 4 and not session.is_missing

    @pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their permissions")
    def test_an_unreadable_folder_for_real(self, results_dir: Path) -> None:
        os.chmod(results_dir / SWEEP, 0)
        try:
            report = sync_sessions(results_dir=results_dir)
        finally:
            os.chmod(results_dir / SWEEP, 0o755)
        assert "permission denied" in report.errors[SWEEP]

    def test_results_root_that_does_not_exist_or_is_a_file(self, tmp_path: Path) -> None:
        with pytest.raises(ResultsDirError, match="does not exist"):
            sync_sessions(results_dir=tmp_path / "nowhere")
        (tmp_path / "file").write_text("x")
        with pytest.raises(ResultsDirError, match="is not a folder"):
            sync_sessions(results_dir=tmp_path / "file")


class TestBatching:
    def test_many_sessions_are_written_in_several_batches(
        self, empty_results_dir: Path, write_session: SessionWriter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sync_module, "BATCH_MAX_SESSIONS", 3)
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        for n in range(10):
            write_session(empty_results_dir, f"20250101_0000{n:02d}-run", manifest)
        progress: list[tuple[int, int]] = []
        report = sync_sessions(results_dir=empty_results_dir, progress=lambda done, total: progress.append((done, total)))
        assert report.created == 10 and report.images_written == 40
        assert progress == [(3, 10), (6, 10), (9, 10), (10, 10)]
        assert Event.objects.filter(kind="discovered").count() == 10


class TestValuesThatDoNotFitTheDatabase:
    def test_out_of_range_and_overlong_values_are_stored_as_far_as_they_fit(
        self, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        manifest["snapshot"]["version"] = "v" * 150
        manifest["snapshot"]["runtime_info"]["sd_model_checkpoint"] = "m" * 1000
        manifest["snapshot"]["api_params"]["steps"] = 2**40
        manifest["snapshot"]["generation_params"]["num_images"] = 10**12
        manifest["images"][0]["seed"] = 2**64 - 1  # a 64-bit unsigned seed, as other tools write
        manifest["images"].append({"filename": "x" * 300 + ".png", "seed": 1})
        write_session(empty_results_dir, "20251107_120000-odd", manifest,
                      images=[e["filename"] for e in manifest["images"][:4]] + ["capture_1699999999999.png"])
        report = sync_sessions(results_dir=empty_results_dir)
        assert report.errors == {} and report.created == 1
        session = Session.objects.get()
        assert session.images_actual == 5 and session.images_expected is None
        stats = session.stats
        assert stats.template_version == "v" * 99 + "…" and len(stats.sd_model) == 500
        assert stats.steps is None and stats.seed_max is None
        images = {image.filename: image for image in SessionImage.objects.filter(session=session)}
        assert images["facial_expressions_0000_seed-42.png"].seed is None
        assert images["capture_1699999999999.png"].index is None
        assert len(images) == 5  # the 304-character manifest entry cannot be a file

    def test_a_session_that_cannot_be_stored_does_not_stop_the_others(
        self, results_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from django.db import DataError

        from sessions.services import writing

        real = writing.insert_objects

        def refuse_one(objs, **kwargs):
            if objs and isinstance(objs[0], SessionStats) and any(stats.session_id == sweep_id() for stats in objs):
                raise DataError("value too long for type character varying(100)")
            return real(objs, **kwargs)

        def sweep_id() -> int | None:
            return Session.objects.filter(name=SWEEP).values_list("pk", flat=True).first()

        monkeypatch.setattr(writing, "insert_objects", refuse_one)
        report = sync_sessions(results_dir=results_dir)
        assert report.created == 4
        assert "cannot store what was read: value too long" in report.errors[SWEEP]
        assert Session.objects.get(name=SWEEP).sync_error.startswith("cannot store what was read")
        assert SessionStats.objects.filter(session__name=FACIAL).exists()
        assert not SessionStats.objects.filter(session__name=SWEEP).exists()

    def test_a_batch_that_collides_with_another_writer_is_written_again(
        self, results_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from sessions.services import writing

        real = writing.insert_objects
        collided: list[str] = []

        def another_writer_first(objs, **kwargs):
            if objs and isinstance(objs[0], Session) and not collided:
                collided.append(objs[0].name)
                Session.objects.bulk_create([Session(**{f.attname: getattr(objs[0], f.attname)
                                                        for f in Session._meta.concrete_fields
                                                        if f.attname not in ("id", "uuid")})])  # the watcher, a moment ago
            return real(objs, **kwargs)

        monkeypatch.setattr(writing, "insert_objects", another_writer_first)
        report = sync_sessions(results_dir=results_dir)
        assert collided and report.created == 4 and not report.errors
        assert Session.objects.count() == 4
        assert Event.objects.filter(kind="discovered").count() == 4


class TestOddManifests:
    def test_text_with_nul_characters_is_stored_without_them(self, empty_results_dir: Path,
                                                             write_session: SessionWriter) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        manifest["images"][0]["prompt"] = "smiling\x00 face"
        manifest["snapshot"]["resolved_template"]["prompt"] = "\x00template"
        write_session(empty_results_dir, "20251107_120000-nul", manifest)
        report = sync_sessions(results_dir=empty_results_dir)
        assert not report.errors
        session = Session.objects.get(name="20251107_120000-nul")
        assert session.sync_error is None and session.stats.resolved_prompt == "template"
        assert SessionImage.objects.get(session=session, index=0).prompt == "smiling face"

    def test_infinite_numbers_are_stored_as_unknown(self, empty_results_dir: Path,
                                                    write_session: SessionWriter) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        folder = write_session(empty_results_dir, "20251107_120000-inf", manifest)
        text = (folder / "manifest.json").read_text()
        text = text.replace('"cfg_scale": 7', '"cfg_scale": 1e400', 1)
        text = text.replace('"used": [', '"used": [1e400, ', 1)
        (folder / "manifest.json").write_text(text)
        sync_sessions(results_dir=empty_results_dir)
        stats = Session.objects.get(name="20251107_120000-inf").stats
        assert stats.cfg_scale is None
        assert None in stats.variations_summary["FacialExpression"]

    def test_recorded_images_that_are_not_on_disk_need_a_plausible_name(
        self, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        kept = manifest["images"][0]["filename"]
        manifest["images"] += [{"filename": "../../etc/passwd"}, {"filename": "notes.txt"}, {"filename": "x.webp"}]
        write_session(empty_results_dir, "20251107_120000-odd", manifest, images=[kept])
        sync_sessions(results_dir=empty_results_dir)
        rows = dict(SessionImage.objects.filter(session__name="20251107_120000-odd")
                    .values_list("filename", "file_size"))
        assert "passwd" not in rows and "notes.txt" not in rows
        assert rows["x.webp"] is None and rows[kept] is not None  # a recorded image, deleted since

    def test_a_manifest_of_too_many_images_is_an_error_not_millions_of_rows(
        self, empty_results_dir: Path, write_session: SessionWriter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import sessions.manifest as manifest_module

        monkeypatch.setattr(manifest_module, "MAX_MANIFEST_IMAGES", 50)
        manifest = {"status": "completed", "images": [{"filename": f"r_{n:04d}.png", "seed": n} for n in range(51)]}
        write_session(empty_results_dir, "20251107_120000-huge", manifest, images=["r_0000.png"])
        sync_sessions(results_dir=empty_results_dir)
        session = Session.objects.get(name="20251107_120000-huge")
        assert "lists about 51 images, over the 50 limit" in session.sync_error
        assert SessionImage.objects.filter(session=session).count() == 0


class TestWrongResultsFolder:
    """SPEC section 11: a sync that would mark most of the library missing marks none."""

    @pytest.fixture
    def library(self, tmp_path: Path, write_session: SessionWriter) -> Path:
        results = tmp_path / "sd" / "results"
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        for n in range(22):
            write_session(results, f"202511{n + 1:02d}_120000-run", manifest)
        sync_sessions(results_dir=results)
        return results

    def test_pointing_at_the_parent_folder_changes_nothing(self, library: Path, write_session: SessionWriter,
                                                           caplog: pytest.LogCaptureFixture) -> None:
        from sessions.models import ResultsFolderAlarm

        parent = library.parent
        write_session(parent, "screenshots", None, images=["shot.png"])
        report = sync_sessions(results_dir=parent)
        assert report.held_missing == 22 and report.missing == 0 and report.created == 0
        assert not Session.objects.filter(is_missing=True).exists()
        assert not Session.objects.filter(name__in=["screenshots", "results"]).exists()
        alarm = ResultsFolderAlarm.objects.get()
        assert str(parent) in alarm.message() and "22 of the 22 sessions" in alarm.message()
        assert f"the results folder {parent} looks wrong" in caplog.text
        # The right folder again: the alarm goes away by itself.
        sync_sessions(results_dir=library)
        assert not ResultsFolderAlarm.objects.exists()

    def test_accept_missing_applies_it(self, library: Path) -> None:
        for folder in list(library.iterdir())[:12]:
            shutil.rmtree(folder)
        assert sync_sessions(results_dir=library).held_missing == 12
        report = sync_sessions(results_dir=library, accept_missing=True)
        assert report.missing == 12 and Session.objects.filter(is_missing=True).count() == 12

    def test_up_to_half_the_library_may_go(self, library: Path) -> None:
        for folder in list(library.iterdir())[:11]:
            shutil.rmtree(folder)
        assert sync_sessions(results_dir=library).missing == 11

    def test_a_small_library_may_go_entirely(self, empty_results_dir: Path, write_session: SessionWriter) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        for n in range(9):
            write_session(empty_results_dir, f"202511{n + 1:02d}_120000-run", manifest)
        sync_sessions(results_dir=empty_results_dir)
        for folder in list(empty_results_dir.iterdir()):
            shutil.rmtree(folder)
        assert sync_sessions(results_dir=empty_results_dir).missing == 9
