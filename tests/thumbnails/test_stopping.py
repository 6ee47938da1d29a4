"""``catchupthumbnails`` stopped by SIGTERM or Ctrl+C: it closes its pool, nothing is left."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ROOT, process_env, wait_until
from tests.processes import descendants, kill, wait_gone, with_environment

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def slow_png() -> bytes:
    """A few hundred kilobytes that take about a second to decode (49 megapixels of one colour)."""
    buffer = io.BytesIO()
    Image.new("L", (7000, 7000), 120).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_a_stopped_catch_up_closes_its_workers(library, empty_results_dir: Path, tmp_path: Path,
                                               live_database_url: str, sig: int) -> None:
    [name] = library(1)
    data = slow_png()
    for n in range(12):
        (empty_results_dir / name / f"big-{n:02}.png").write_bytes(data)
    env = process_env(tmp_path, live_database_url)
    catch_up = subprocess.Popen([sys.executable, "manage.py", "catchupthumbnails", "--results",
                                 str(empty_results_dir), "--workers", "2"], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: len(descendants(catch_up.pid)) >= 3, what="the workers")  # two and a helper
        started = descendants(catch_up.pid)
        catch_up.send_signal(sig)
        output, _ = catch_up.communicate(timeout=30)
    finally:
        catch_up.kill()
        catch_up.wait()
        left = with_environment("SDGEN_DATA_DIR", str(tmp_path / "data"))
    try:
        assert wait_gone(started + left, timeout=5) == [], output
    finally:
        kill(started + left)
    assert catch_up.returncode == 0, output
    assert "stopped before the end: run it again to finish" in output
    assert "Traceback" not in output
