"""Shared set-up for the benchmark scripts: a fresh database and libraries made by mklib.py."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def setup_django(*, database_url: str | None = None, data_dir: Path | None = None) -> Path:
    """Point Django at a fresh database in a temporary data dir, migrate it, return the dir.

    With ``database_url`` (PostgreSQL), its database is dropped and created again first.
    """
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="sdgen-bench-"))
    (data_dir / "static").mkdir(parents=True, exist_ok=True)  # no collectstatic here: API only
    os.environ["SDGEN_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("SDGEN_LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "sdgen_site.settings"
    if database_url:
        _recreate_postgres_database(database_url)
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return data_dir


def _recreate_postgres_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def fill_thumbnails(results: Path, thumbnails: Path) -> None:
    """Give every PNG of a library a thumbnail (a copy of one small WebP: the content does not
    matter to what is measured), newer than its source."""
    import shutil

    from PIL import Image

    thumbnails.mkdir(parents=True, exist_ok=True)
    template = thumbnails / ".template.webp"
    Image.new("RGB", (160, 240)).save(template, format="WEBP")
    for folder in results.iterdir():
        if folder.is_dir():
            (thumbnails / folder.name).mkdir(exist_ok=True)
            for png in folder.glob("*.png"):
                shutil.copyfile(template, thumbnails / folder.name / (png.stem + ".webp"))
    template.unlink()


def library(sessions: int, images: int) -> Path:
    """A library made by mklib.py, kept under bench/out between runs."""
    path = OUT / f"lib-{sessions}x{images}"
    if not (path / ".complete").exists():
        if path.exists():
            subprocess.run(["rm", "-rf", str(path)], check=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "mklib.py"), "--sessions", str(sessions),
                        "--images", str(images), "--out", str(path)], check=True)
        (path / ".complete").write_text("")
    return path


class PeakMemory:
    """Samples this process's resident memory every few milliseconds while in use."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.baseline = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self.baseline = self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / 1e6


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started
