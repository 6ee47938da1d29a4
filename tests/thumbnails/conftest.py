from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessions.services import sync_sessions
from tests.conftest import SessionWriter, load_manifest


@pytest.fixture
def thumbnails_dir(tmp_path: Path, settings) -> Path:
    path = tmp_path / "thumbnails"
    settings.SDGEN_THUMBNAILS_DIR = path
    return path


@pytest.fixture
def library(empty_results_dir: Path, write_session: SessionWriter, settings):
    """``library(n)``: n finished runs of four PNGs, synced; names returned newest first."""
    settings.SDGEN_RESULTS_DIR = empty_results_dir

    def make(count: int) -> list[str]:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        names = [f"202511{n + 1:02d}_120000-run" for n in range(count)]
        for name in names:
            write_session(empty_results_dir, name, manifest)
        sync_sessions(results_dir=empty_results_dir)
        return names[::-1]

    return make


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-compatible server (moto's), on a free port for the whole run; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: str, settings, thumbnails_dir: Path):
    """A new bucket holding the thumbnails (STORAGES["thumbnails"] as SDGEN_THUMBNAIL_STORAGE=s3
    sets it); the boto3 bucket, to look inside."""
    import boto3

    name = f"thumbnails-{uuid.uuid4().hex[:12]}"
    credentials = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}
    resource = boto3.resource("s3", endpoint_url=s3_server, region_name="us-east-1", **credentials)
    bucket = resource.create_bucket(Bucket=name)
    settings.STORAGES = {**settings.STORAGES, "thumbnails": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": name, "endpoint_url": s3_server, "access_key": credentials["aws_access_key_id"],
                    "secret_key": credentials["aws_secret_access_key"], "region_name": "us-east-1",
                    "file_overwrite": True, "default_acl": None, "signature_version": "s3v4",
                    "addressing_style": "path"},
    }}
    yield bucket
    bucket.objects.all().delete()
    bucket.delete()


def bucket_keys(bucket) -> list[str]:
    return sorted(obj.key for obj in bucket.objects.all())
