"""Fixtures shared by every test module.

``tests/fixtures`` is a copy of the product's reference fixtures (real generator output and
every manifest variant); tests copy what they need into ``tmp_path`` and write only there.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sessions.simulator import png_bytes

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REAL_RESULTS = FIXTURES / "results-real"
MANIFESTS = FIXTURES / "manifests"
REAL_SESSION_NAMES = sorted(p.name for p in REAL_RESULTS.iterdir() if p.is_dir() and p.name not in ("dryrun",
                                                                                                   "__pycache__"))


def copy_tree(source: Path, target: Path) -> Path:
    """Copy a fixture tree so that everything in the copy is writable."""
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for folder, dirs, _files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
    return target


@pytest.fixture(scope="session", autouse=True)
def _no_process_left_behind():
    """Every test stops what it starts: at the end of the run, no process started by a test
    (nor any child of one, handed to us when its parent died) may still be running."""
    from tests import processes

    if not processes.become_subreaper():
        yield
        return
    yield
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker._resource_tracker, "_pid", None)  # our own pools' helper
    left = [pid for pid in processes.children_of(os.getpid()) if pid != tracker and processes.alive(pid)]
    described = [_describe(pid) for pid in left]
    processes.kill(left)
    processes.wait_gone(left, timeout=5)
    processes.reap()
    if left:
        pytest.fail("processes left running by the tests (now killed): " + "; ".join(described), pytrace=False)


def _describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return f"{pid} " + handle.read().replace(b"\0", b" ").decode(errors="replace").strip()[:200]
    except OSError:
        return str(pid)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Django's caches (kept counts and answers) start empty for every test."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()


@pytest.fixture(autouse=True)
def _no_change_feed_left() -> Iterator[None]:
    """A test that opened a stream leaves no broadcaster reading the feed into the next test."""
    yield
    from sessions.stream import close_streams, stop_broadcaster

    stop_broadcaster()
    # The test client leaves a streaming response nobody read open (a server always closes it):
    # such a stream must not count against the next test's limit.
    close_streams()


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """A writable copy of the real CLI's results folder."""
    return copy_tree(REAL_RESULTS, tmp_path / "results")


@pytest.fixture
def empty_results_dir(tmp_path: Path) -> Path:
    path = tmp_path / "results"
    path.mkdir()
    return path


def load_manifest(name: str) -> dict[str, Any]:
    return json.loads((MANIFESTS / name).read_text(encoding="utf-8"))


def set_mtime(path: Path, when: datetime) -> None:
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


SessionWriter = Callable[..., Path]


@pytest.fixture
def write_session() -> SessionWriter:
    """Write a session folder: a manifest (dict, raw bytes, or None) and image files.

    ``images`` defaults to the manifest's filenames; ``mtime`` backdates every file.
    """

    def write(
        root: Path,
        name: str,
        manifest: dict[str, Any] | bytes | None = None,
        *,
        images: list[str] | None = None,
        mtime: datetime | None = None,
    ) -> Path:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        if isinstance(manifest, dict):
            (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            if images is None:
                images = [entry["filename"] for entry in manifest.get("images", [])]
        elif isinstance(manifest, bytes):
            (folder / "manifest.json").write_bytes(manifest)
        for filename in images or []:
            (folder / filename).write_bytes(tiny_png())
        if mtime is not None:
            for path in folder.iterdir():
                set_mtime(path, mtime)
            set_mtime(folder, mtime)
        return folder

    return write


_TINY_PNG: bytes | None = None


def tiny_png() -> bytes:
    global _TINY_PNG
    if _TINY_PNG is None:
        _TINY_PNG = png_bytes(width=4, height=6, seed=1, parameters=None)  # carries no parameters
    return _TINY_PNG


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def create_session(name: str = "20251107_120000-test", *, status: str = "ongoing", **fields: Any):
    """A session row as discovery would create it, with its ``discovered`` event."""
    from django.utils import timezone

    from sessions.lifecycle import EventSpec, record_events
    from sessions.models import EventKind, EventSource, Session

    now = timezone.now()
    defaults: dict[str, Any] = {
        "status_source": EventSource.WATCHDOG,
        "status_changed_at": now,
        "created_at": now,
        "last_activity_at": now,
        "first_seen_at": now,
        "updated_at": now,
        "has_manifest": True,
        "manifest_mtime_ns": 1_000,
    }
    session = Session.objects.create(name=name, status=status, **{**defaults, **fields})
    record_events([EventSpec(session_id=session.pk, kind=EventKind.DISCOVERED, source=EventSource.WATCHDOG,
                             to_status=status)])
    return session


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def live_database_url(transactional_db: None) -> str:
    """A DATABASE_URL for another process that points at this test's database."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def process_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment for a ``manage.py`` child process of a test."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sdgen_site.settings",
        "SDGEN_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        **extra,
    }


def wait_until(predicate: Callable[[], Any], *, timeout: float = 20.0, every: float = 0.05,
               what: str = "the condition") -> Any:
    """Poll ``predicate`` (which reads what another process writes) until it is truthy."""
    import time

    from django.db import close_old_connections

    deadline = time.monotonic() + timeout
    while True:
        close_old_connections()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


@pytest.fixture
def serve_in_process() -> Iterator[Callable[[Any], Any]]:
    """Wraps a WSGI application as a web server runs it (each answer read whole, then closed: a
    stream gives back its place among the process's streams only when closed), keeping the
    test's database connection open across requests, as Django's test client does."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    def wrap(app: Any) -> Any:
        def served(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            answer = app(environ, start_response)
            try:
                return [b"".join(answer)]
            finally:
                answer.close()

        return served

    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    try:
        yield wrap
    finally:
        for signal in signals:
            signal.connect(close_old_connections)


@pytest.fixture
def synced_results(results_dir: Path, settings) -> Path:
    """The real CLI's results, synced, and set as SDGEN_RESULTS_DIR."""
    from sessions.services import sync_sessions

    settings.SDGEN_RESULTS_DIR = results_dir
    sync_sessions(results_dir=results_dir)
    return results_dir


def token_client(*, username: str, staff: bool = False, permissions: tuple[str, ...] = ()):
    """An API client with a Bearer token of a new user holding ``permissions`` (gen_sessions codenames)."""
    from django.contrib.auth.models import Permission, User
    from rest_framework.test import APIClient

    from accounts.services import create_api_token

    user = User.objects.create_user(username, password="pw", is_staff=staff)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="gen_sessions",
                                                         codename__in=permissions))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_api_token(user=user)}")
    client.user = user
    return client


@pytest.fixture
def api(db):
    """An API client of an ordinary (non-staff) user, with a Bearer token."""
    return token_client(username="reader")


@pytest.fixture
def editor_api(db):
    """An ordinary (non-staff) user who may edit metadata and re-read sessions."""
    return token_client(username="editor", permissions=("change_session", "change_sessionmetadata"))


@pytest.fixture
def staff_api(db):
    """A staff user who may fix statuses and edit metadata."""
    return token_client(username="fixer", staff=True, permissions=("change_session", "change_sessionmetadata"))
