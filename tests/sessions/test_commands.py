from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from sessions.models import Session
from sessions.simulator import GeneratorSimulator, plan_session
from tests.conftest import REAL_RESULTS, SessionWriter, load_manifest

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, tmp_path: Path, timeout: float = 60, **popen) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDGEN_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
           "DJANGO_SETTINGS_MODULE": "sdgen_site.settings"}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, **popen)


class TestSyncsessions:
    @pytest.mark.django_db
    def test_sync_prints_a_summary_and_closes_stale_runs(self, results_dir: Path) -> None:
        out = io.StringIO()
        call_command("syncsessions", "--results", str(results_dir), stdout=out)
        assert "4 sessions: 4 new" in out.getvalue()
        out = io.StringIO()
        call_command("syncsessions", "--results", str(results_dir), "--full", stdout=out)
        assert "4 updated" in out.getvalue()

    @pytest.mark.django_db
    def test_a_results_folder_that_looks_wrong_is_refused_until_accepted(
        self, empty_results_dir: Path, write_session: SessionWriter
    ) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        for n in range(10):
            write_session(empty_results_dir, f"202511{n + 1:02d}_120000-run", manifest)
        call_command("syncsessions", "--results", str(empty_results_dir), stdout=io.StringIO())
        elsewhere = empty_results_dir.parent / "elsewhere"
        elsewhere.mkdir()
        with pytest.raises(CommandError, match=f"10 sessions are not in {elsewhere}: more than half") as error:
            call_command("syncsessions", "--results", str(elsewhere), stdout=io.StringIO())
        assert error.value.returncode == 1 and "--accept-missing" in str(error.value)
        assert not Session.objects.filter(is_missing=True).exists()
        call_command("syncsessions", "--results", str(elsewhere), "--accept-missing", stdout=io.StringIO())
        assert Session.objects.filter(is_missing=True).count() == 10

    @pytest.mark.django_db
    def test_errors_are_listed(self, results_dir: Path) -> None:
        (results_dir / "20261121_043627-random_test" / "manifest.json").write_text("[]")
        out = io.StringIO()
        call_command("syncsessions", "--results", str(results_dir), stdout=out)
        assert "1 with errors" in out.getvalue()
        assert "20261121_043627-random_test: manifest.json must hold a JSON object" in out.getvalue()

    @pytest.mark.django_db
    def test_unknown_names_are_bad_arguments(self, results_dir: Path) -> None:
        with pytest.raises(CommandError, match="no session folder or known session named: nope") as caught:
            call_command("syncsessions", "--results", str(results_dir), "nope")
        assert caught.value.returncode == 2

    @pytest.mark.django_db
    def test_rebuild_and_names(self, results_dir: Path) -> None:
        call_command("syncsessions", "--results", str(results_dir), stdout=io.StringIO())
        out = io.StringIO()
        call_command("syncsessions", "--results", str(results_dir), "--rebuild", "20261121_043627-random_test",
                     stdout=out)
        assert "1 sessions: 0 new, 1 updated" in out.getvalue()
        assert "2 image rows written" in out.getvalue()

    def test_a_missing_results_folder_is_a_clear_error_with_exit_code_2(self, tmp_path: Path) -> None:
        result = run_manage("syncsessions", "--results", str(tmp_path / "nowhere"), tmp_path=tmp_path)
        assert result.returncode == 2
        assert f"results folder {tmp_path / 'nowhere'} does not exist" in result.stderr
        assert "Traceback" not in result.stderr
        (tmp_path / "file").write_text("")
        result = run_manage("syncsessions", "--results", str(tmp_path / "file"), tmp_path=tmp_path)
        assert result.returncode == 2 and "is not a folder" in result.stderr

    def test_bad_options_exit_with_code_2(self, tmp_path: Path) -> None:
        result = run_manage("simulatesessions", "--images", "zero", tmp_path=tmp_path)
        assert result.returncode == 2 and "not a whole number" in result.stderr


def strip_timestamp(manifest: dict) -> dict:
    manifest = json.loads(json.dumps(manifest))
    manifest["snapshot"].pop("timestamp")
    return manifest


class TestSimulatorWritesLikeTheRealCli:
    @pytest.mark.parametrize(
        ("kind", "fixture"),
        [("combinatorial", "20261121_043601-facial_expressions"), ("seed_sweep", "20261121_043621-seed_sweep_test")],
    )
    def test_manifest_and_file_names_match_the_real_output(self, kind: str, fixture: str) -> None:
        real = json.loads((REAL_RESULTS / fixture / "manifest.json").read_text())
        plan = plan_session(kind=kind, images=4, started=datetime(2026, 11, 21, 4, 36, 1))
        written = plan.manifest(done=4, status="completed")
        assert strip_timestamp(written) == strip_timestamp(real)
        assert list(written) == list(real) and list(written["snapshot"]) == list(real["snapshot"])
        png_names = sorted(p.name for p in (REAL_RESULTS / fixture).glob("*.png"))
        assert sorted(image.filename for image in plan.images) == png_names

    def test_random_runs_have_the_real_shape(self) -> None:
        real = json.loads((REAL_RESULTS / "20261121_043627-random_test" / "manifest.json").read_text())
        plan = plan_session(kind="random", images=2, started=datetime(2026, 11, 21, 4, 36, 27))
        written = plan.manifest(done=2, status="completed")
        assert written["snapshot"]["generation_params"] == {**real["snapshot"]["generation_params"]}
        assert [image.filename for image in plan.images] == ["random_test_0000.png", "random_test_0001.png"]
        assert list(written["images"][0]) == list(real["images"][0])

    def test_pngs_carry_the_same_a1111_parameters(self, tmp_path: Path) -> None:
        # The real run's request was 512x768 (its stand-in API returned 64x96 pictures).
        sim = GeneratorSimulator(results_dir=tmp_path, sessions=1, images=2, width=512, height=768,
                                 clock=lambda: datetime(2026, 11, 21, 4, 36, 1))
        result = sim.run()
        folder = tmp_path / result.folders[0]
        assert result.folders == ["20261121_043601-facial_expressions"]
        ours = Image.open(folder / "facial_expressions_0000_seed-42.png")
        real = Image.open(REAL_RESULTS / result.folders[0] / "facial_expressions_0000_seed-42.png")
        assert ours.info["parameters"] == real.info["parameters"]
        assert (ours.format, ours.mode, ours.size) == (real.format, real.mode, (512, 768))

    def test_the_manifest_is_rewritten_after_every_image(self, tmp_path: Path) -> None:
        seen: list[tuple[int, str]] = []

        def sleep(_seconds: float) -> None:
            for manifest in tmp_path.glob("*/manifest.json"):
                data = json.loads(manifest.read_text())
                seen.append((len(data["images"]), data["status"]))

        GeneratorSimulator(results_dir=tmp_path, sessions=1, images=3, rate=1000, width=8, height=8,
                           sleep=sleep).run()
        assert seen == [(0, "ongoing"), (1, "ongoing"), (2, "ongoing")]
        final = json.loads(next(tmp_path.glob("*/manifest.json")).read_text())
        assert (len(final["images"]), final["status"]) == (3, "completed")

    def test_abort_after_k_images(self, tmp_path: Path) -> None:
        result = GeneratorSimulator(results_dir=tmp_path, sessions=3, images=4, abort_after=6, width=8, height=8).run()
        assert result.aborted and result.images_written == 6 and len(result.folders) == 2
        statuses = [json.loads((tmp_path / f / "manifest.json").read_text())["status"] for f in result.folders]
        assert statuses == ["completed", "aborted"]
        assert len(list((tmp_path / result.folders[1]).glob("*.png"))) == 2

    def test_sessions_started_in_the_same_second_get_distinct_folders(self, tmp_path: Path) -> None:
        clock = lambda: datetime(2026, 1, 1, 12, 0, 0)  # noqa: E731
        result = GeneratorSimulator(results_dir=tmp_path, sessions=4, images=1, width=8, height=8, clock=clock).run()
        assert len(set(result.folders)) == 4
        assert "20260101_120000-facial_expressions_2" in result.folders

    @pytest.mark.django_db
    def test_simulated_sessions_sync(self, tmp_path: Path) -> None:
        out = io.StringIO()
        call_command("simulatesessions", "--results", str(tmp_path), "--sessions", "3", "--images", "3",
                     "--rate", "0", "--image-size", "16x24", stdout=out)
        assert "completed: 9 images in 3 sessions" in out.getvalue()
        call_command("syncsessions", "--results", str(tmp_path), stdout=io.StringIO())
        assert sorted(Session.objects.values_list("status", "images_actual", "stats__is_seed_sweep")) == [
            ("completed", 3, False), ("completed", 3, False), ("completed", 3, True)]

    @pytest.mark.e2e
    def test_sigterm_aborts_the_run_in_progress(self, tmp_path: Path) -> None:
        results = tmp_path / "results"
        env = {**os.environ, "SDGEN_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "sdgen_site.settings"}
        process = subprocess.Popen(
            [sys.executable, "manage.py", "simulatesessions", "--results", str(results), "--images", "500",
             "--rate", "20", "--image-size", "8x8"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.monotonic() + 30
            manifest = None
            while time.monotonic() < deadline:
                found = list(results.glob("*/manifest.json"))
                if found and '"filename"' in found[0].read_text():
                    manifest = found[0]
                    break
                time.sleep(0.05)
            assert manifest is not None, "the simulator wrote no image"
            process.send_signal(signal.SIGTERM)
            stdout, _ = process.communicate(timeout=10)
        finally:
            process.kill()
        assert process.returncode == 0
        data = json.loads(manifest.read_text())
        assert data["status"] == "aborted"
        assert 0 < len(data["images"]) < 500
        assert len(list(manifest.parent.glob("*.png"))) == len(data["images"])
        assert stdout.startswith("aborted:")
