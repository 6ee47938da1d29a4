"""Thumbnails in an S3 bucket (SDGEN_THUMBNAIL_STORAGE=s3), against a real S3 server (moto's)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from PIL import Image
from rest_framework.test import APIClient

import thumbnails.services as services
from sessions.services import sync_sessions
from tests.thumbnails.conftest import bucket_keys
from thumbnails.rendering import Status
from thumbnails.services import catch_up_thumbnails, ensure_thumbnail
from thumbnails.storage import RemoteStore, thumbnail_store

pytestmark = pytest.mark.django_db

IMAGES = ["facial_expressions_0000_seed-42", "facial_expressions_0001_seed-43", "facial_expressions_0002_seed-44",
          "facial_expressions_0003_seed-45"]


def keys_of(name: str) -> list[str]:
    return [f"{name}/{stem}.webp" for stem in IMAGES]


def webp_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "WEBP"
        return image.size


def catch_up(results: Path, thumbnails: Path, **options):
    return catch_up_thumbnails(results_dir=results, thumbnails_dir=thumbnails, workers=1, **options)


def test_the_store_is_the_bucket(s3_bucket, thumbnails_dir: Path) -> None:
    store = thumbnail_store(thumbnails_dir)
    assert isinstance(store, RemoteStore) and not store.local
    assert store.storage.bucket_name == s3_bucket.name


def test_catch_up_renders_into_the_bucket_and_skips_what_is_there(s3_bucket, library, empty_results_dir: Path,
                                                                  thumbnails_dir: Path) -> None:
    names = library(2)
    report = catch_up(empty_results_dir, thumbnails_dir)
    assert (report.rendered, report.failed) == (8, 0), report.errors
    assert bucket_keys(s3_bucket) == sorted(keys_of(names[0]) + keys_of(names[1]))
    body = s3_bucket.Object(keys_of(names[0])[0]).get()["Body"].read()
    assert webp_size(body)[1] == 240
    # Nothing of the thumbnails themselves is kept on this machine.
    assert not list(thumbnails_dir.rglob("*.webp"))
    # The database knows both are complete: nothing is looked at again, nothing rendered.
    assert catch_up(empty_results_dir, thumbnails_dir).sessions == 0
    # Looked at in full, the bucket's listing says every thumbnail is newer than its image.
    again = catch_up(empty_results_dir, thumbnails_dir, full=True)
    assert (again.rendered, again.sessions) == (0, 0)


def test_a_changed_image_is_rendered_again_into_the_bucket(s3_bucket, library, empty_results_dir: Path,
                                                           thumbnails_dir: Path) -> None:
    [name] = library(1)
    catch_up(empty_results_dir, thumbnails_dir)
    source = empty_results_dir / name / f"{IMAGES[1]}.png"
    Image.new("RGB", (100, 50), "red").save(source)
    later = os.stat(source).st_mtime_ns + 5 * 10**9  # clearly after the stored thumbnail
    os.utime(source, ns=(later, later))
    report = catch_up(empty_results_dir, thumbnails_dir, names=[name])
    assert report.rendered == 1
    assert webp_size(s3_bucket.Object(f"{name}/{IMAGES[1]}.webp").get()["Body"].read()) == (480, 240)


def test_the_thumbnail_view_serves_from_the_bucket(s3_bucket, library, empty_results_dir: Path,
                                                   thumbnails_dir: Path) -> None:
    [name] = library(1)
    client = APIClient()
    client.force_authenticate(User.objects.create_user("viewer"))
    url = f"/api/sessions/{name}/images/{IMAGES[0]}.png?thumbnail=1"
    assert bucket_keys(s3_bucket) == []
    response = client.get(url)  # rendered on demand, into the bucket, and served from there
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    served = b"".join(response.streaming_content)
    assert bucket_keys(s3_bucket) == [f"{name}/{IMAGES[0]}.webp"]
    assert served == s3_bucket.Object(f"{name}/{IMAGES[0]}.webp").get()["Body"].read()
    assert webp_size(served)[1] == 240
    assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    # Served again from the bucket, not rendered again.
    original_render = services.render
    services.render = lambda job: pytest.fail("rendered again")  # type: ignore[assignment]
    try:
        assert b"".join(client.get(url).streaming_content) == served
    finally:
        services.render = original_render


def test_on_demand_renders_only_once(s3_bucket, library, empty_results_dir: Path, thumbnails_dir: Path) -> None:
    [name] = library(1)
    first = ensure_thumbnail(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, session_name=name,
                             filename=f"{IMAGES[2]}.png")
    second = ensure_thumbnail(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, session_name=name,
                              filename=f"{IMAGES[2]}.png")
    assert (first.status, second.status) == (Status.RENDERED, Status.UP_TO_DATE)
    assert first.data is None  # stored, not kept around


def test_orphans_are_removed_from_the_bucket(s3_bucket, library, empty_results_dir: Path,
                                             thumbnails_dir: Path) -> None:
    names = library(2)
    catch_up(empty_results_dir, thumbnails_dir)
    (empty_results_dir / names[0] / f"{IMAGES[3]}.png").unlink()  # an image deleted
    report = catch_up(empty_results_dir, thumbnails_dir, names=[names[0]])
    assert report.removed == 1
    assert bucket_keys(s3_bucket) == sorted(keys_of(names[0])[:3] + keys_of(names[1]))
    shutil.rmtree(empty_results_dir / names[1])  # a whole session folder gone
    assert catch_up(empty_results_dir, thumbnails_dir, full=True).removed == 1  # one folder
    assert bucket_keys(s3_bucket) == keys_of(names[0])[:3]


def test_a_renamed_session_takes_its_thumbnails_along_in_the_bucket(
        s3_bucket, library, empty_results_dir: Path, thumbnails_dir: Path,
        django_capture_on_commit_callbacks) -> None:
    [name] = library(1)
    catch_up(empty_results_dir, thumbnails_dir)
    before = {key: s3_bucket.Object(key).get()["Body"].read() for key in keys_of(name)}
    os.rename(empty_results_dir / name, empty_results_dir / "portraits, best")
    with django_capture_on_commit_callbacks(execute=True):
        sync_sessions(results_dir=empty_results_dir)
    assert bucket_keys(s3_bucket) == keys_of("portraits, best")
    assert [s3_bucket.Object(key).get()["Body"].read() for key in keys_of("portraits, best")] == list(before.values())
    # Moved, not made again: under the new name every thumbnail is up to date, nothing to render.
    check = services.check_session(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir,
                                   name="portraits, best", render_settings=services.thumbnail_settings())
    assert check is not None and (check.up_to_date, check.jobs, check.stale) == (4, [], [])
