from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from sdgen_site.env import env_bool, env_choice, env_float, env_int, env_list, env_str
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"


class TestEnvironmentReaders:
    def test_defaults_when_unset_or_blank(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("X_BLANK", "  ")
        monkeypatch.delenv("X_UNSET", raising=False)
        assert env_str("X_UNSET", "d") == "d" and env_int("X_BLANK", 3) == 3 and env_bool("X_UNSET", True) is True

    @pytest.mark.parametrize(("raw", "value"), [("1", True), ("TRUE", True), ("yes", True), ("off", False), ("0", False)])
    def test_booleans(self, monkeypatch: pytest.MonkeyPatch, raw: str, value: bool) -> None:
        monkeypatch.setenv("X_BOOL", raw)
        assert env_bool("X_BOOL", not value) is value

    @pytest.mark.parametrize(
        ("reader", "raw", "message"),
        [
            (lambda: env_bool("X", False), "maybe", "X='maybe' is not a boolean"),
            (lambda: env_int("X", 1), "2.5", "X='2.5' is not a whole number"),
            (lambda: env_int("X", 1, minimum=1), "0", "X=0 is below the minimum of 1"),
            (lambda: env_float("X", 1.0), "fast", "X='fast' is not a number"),
            (lambda: env_float("X", 1.0), "nan", "not a finite number"),
            (lambda: env_float("X", 1.0, maximum=100), "101", "above the maximum of 100"),
            (lambda: env_choice("X", "auto", ("auto", "native")), "inotify", "must be one of: auto, native"),
        ],
    )
    def test_bad_values_fail_loudly(self, monkeypatch: pytest.MonkeyPatch, reader, raw: str, message: str) -> None:
        monkeypatch.setenv("X", raw)
        with pytest.raises(ImproperlyConfigured, match=message):
            reader()

    def test_lists(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("X_LIST", "a.example, b.example,,")
        assert env_list("X_LIST", []) == ["a.example", "b.example"]


def settings_in_subprocess(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SDGEN_", "DJANGO_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "-c", f"import sdgen_site.settings as s; {code}"],
        cwd=ROOT, env={**clean, "SDGEN_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True, text=True, timeout=60,
    )


class TestSettings:
    def test_defaults(self, tmp_path: Path) -> None:
        result = settings_in_subprocess(
            tmp_path,
            "print(s.DATABASES['default']['NAME'], s.SDGEN_THUMBNAILS_DIR, s.SDGEN_WATCH_MODE, s.SDGEN_POLL_INTERVAL,"
            " s.SDGEN_STALE_AFTER, s.SDGEN_COMPLETE_THRESHOLD, s.SDGEN_THUMBNAIL_HEIGHT, s.DEBUG, s.ALLOWED_HOSTS,"
            " s.DATABASES['default']['OPTIONS']['transaction_mode'])",
        )
        assert result.returncode == 0, result.stderr
        data = tmp_path / "data"
        assert result.stdout.split() == [
            str(data / "sdgen.sqlite3"), str(data / "thumbnails"), "auto", "2.0", "30.0", "95.0", "240", "False",
            "['localhost',", "'127.0.0.1']", "IMMEDIATE",
        ]

    def test_secret_key_is_generated_once_and_kept(self, tmp_path: Path) -> None:
        first = settings_in_subprocess(tmp_path, "print(s.SECRET_KEY)")
        second = settings_in_subprocess(tmp_path, "print(s.SECRET_KEY)")
        assert first.returncode == 0, first.stderr
        assert first.stdout == second.stdout and len(first.stdout.strip()) > 40
        key_file = tmp_path / "data" / "secret_key"
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        from_env = settings_in_subprocess(tmp_path, "print(s.SECRET_KEY)", DJANGO_SECRET_KEY="given")
        assert from_env.stdout.strip() == "given"

    def test_bad_settings_stop_start_up_with_a_clear_message(self, tmp_path: Path) -> None:
        result = settings_in_subprocess(tmp_path, "pass", SDGEN_WATCH_MODE="sometimes")
        assert result.returncode != 0
        assert "SDGEN_WATCH_MODE='sometimes' must be one of: auto, native, polling" in result.stderr
        result = settings_in_subprocess(tmp_path, "pass", SDGEN_TIME_ZONE="Mars/Olympus")
        assert "SDGEN_TIME_ZONE='Mars/Olympus' is not a known time zone" in result.stderr

    def test_thumbnails_are_in_the_thumbnail_folder_by_default(self, tmp_path: Path) -> None:
        result = settings_in_subprocess(tmp_path, "t = s.STORAGES['thumbnails']; print(t['BACKEND'], t['OPTIONS']['location'])")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["django.core.files.storage.FileSystemStorage", str(tmp_path / "data" / "thumbnails")]

    def test_thumbnails_in_an_s3_bucket(self, tmp_path: Path) -> None:
        result = settings_in_subprocess(
            tmp_path, "t = s.STORAGES['thumbnails']; o = t['OPTIONS']; print(t['BACKEND'], o['bucket_name'], "
            "o['endpoint_url'], o['access_key'], o['secret_key'], o['addressing_style'])",
            SDGEN_THUMBNAIL_STORAGE="s3", SDGEN_S3_BUCKET="thumbs", SDGEN_S3_ENDPOINT_URL="http://minio:9000",
            SDGEN_S3_ACCESS_KEY="key", SDGEN_S3_SECRET_KEY="secret")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["storages.backends.s3.S3Storage", "thumbs", "http://minio:9000", "key",
                                         "secret", "path"]

    @pytest.mark.parametrize(("env", "message"), [
        ({"SDGEN_THUMBNAIL_STORAGE": "S3"}, "SDGEN_THUMBNAIL_STORAGE='S3' must be one of: local, s3"),
        ({"SDGEN_THUMBNAIL_STORAGE": "s3"}, "SDGEN_S3_BUCKET must be set when SDGEN_THUMBNAIL_STORAGE=s3"),
        ({"SDGEN_THUMBNAIL_STORAGE": "s3", "SDGEN_S3_BUCKET": "b", "SDGEN_S3_ENDPOINT_URL": "minio:9000"},
         "SDGEN_S3_ENDPOINT_URL='minio:9000' must be a URL like http://host:port"),
        ({"SDGEN_THUMBNAIL_STORAGE": "s3", "SDGEN_S3_BUCKET": "b", "SDGEN_S3_ENDPOINT_URL": "http://minio:port"},
         "SDGEN_S3_ENDPOINT_URL='http://minio:port' is not a URL"),
        ({"SDGEN_THUMBNAIL_STORAGE": "s3", "SDGEN_S3_BUCKET": "b", "SDGEN_S3_ACCESS_KEY": "key"},
         "SDGEN_S3_ACCESS_KEY and SDGEN_S3_SECRET_KEY go together"),
    ])
    def test_bad_thumbnail_storage_settings_stop_start_up(self, tmp_path: Path, env: dict[str, str],
                                                          message: str) -> None:
        result = settings_in_subprocess(tmp_path, "pass", **env)
        assert result.returncode != 0 and message in result.stderr, result.stderr

    def test_the_data_dir_and_the_database_are_private(self, tmp_path: Path) -> None:
        """Whatever the umask, only the owner can read the database (password and token hashes),
        its -wal and -shm files included (listed while the connection is open)."""
        old_umask = os.umask(0o022)
        try:
            result = settings_in_subprocess(
                tmp_path,
                "import django, pathlib; django.setup(); from django.db import connection; "
                "connection.cursor().execute('create table t (x int)'); "
                "print(*sorted(f'{p.name}:{p.stat().st_mode & 0o777:o}' for p in "
                "pathlib.Path(s.SDGEN_DATA_DIR).glob('sdgen.sqlite3*')))",
                DJANGO_SETTINGS_MODULE="sdgen_site.settings")
        finally:
            os.umask(old_umask)
        assert result.returncode == 0, result.stderr
        assert sorted(result.stdout.split()) == ["sdgen.sqlite3-shm:600", "sdgen.sqlite3-wal:600", "sdgen.sqlite3:600"]
        assert oct((tmp_path / "data").stat().st_mode & 0o777) == "0o700"

    def test_an_earlier_versions_open_data_dir_is_closed(self, tmp_path: Path) -> None:
        data = tmp_path / "data"
        data.mkdir(mode=0o755)
        (data / "sdgen.sqlite3").write_bytes(b"")
        (data / "sdgen.sqlite3").chmod(0o644)
        result = settings_in_subprocess(tmp_path, "pass")
        assert result.returncode == 0, result.stderr
        assert oct(data.stat().st_mode & 0o777) == "0o700"
        assert oct((data / "sdgen.sqlite3").stat().st_mode & 0o777) == "0o600"

    def test_postgres_urls_are_parsed(self, tmp_path: Path) -> None:
        result = settings_in_subprocess(tmp_path, "print(s.DATABASES['default']['ENGINE'])",
                                        DATABASE_URL="postgres://u@db.example:5432/sdgen")
        assert result.stdout.strip() == "django.db.backends.postgresql"


@pytest.mark.skipif(not SHARED_FIXTURES.is_dir(), reason="the product's shared fixtures are not beside this checkout")
def test_bundled_fixtures_are_the_shared_ones() -> None:
    def tree(root: Path) -> dict[str, bytes]:
        # Our copy adds the __init__.py every folder under tests/ has.
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and p.name != "__init__.py" and "__pycache__" not in p.parts}

    assert tree(FIXTURES) == tree(SHARED_FIXTURES)
