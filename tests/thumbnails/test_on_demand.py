"""GET /api/sessions/{name}/images/{filename}?thumbnail=1 renders a missing thumbnail at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from PIL import Image
from rest_framework.test import APIClient

import thumbnails.services as services

pytestmark = pytest.mark.django_db

IMAGE = "facial_expressions_0000_seed-42.png"


@pytest.fixture
def client() -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.create_user("viewer"))
    return client


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = services.render

    def counting(job):
        outcome = real(job)
        calls.append(outcome.status.value)
        return outcome

    monkeypatch.setattr(services, "render", counting)
    return calls


def url(name: str, filename: str = IMAGE) -> str:
    return f"/api/sessions/{name}/images/{filename}?thumbnail=1"


def test_a_missing_thumbnail_is_rendered_at_once_then_served_from_disk(
    client: APIClient, library, thumbnails_dir: Path, renders: list[str]
) -> None:
    [name] = library(1)
    first = client.get(url(name))
    assert first.status_code == 200
    assert first["Content-Type"] == "image/webp"
    assert first["Cache-Control"] == "private, max-age=300"
    assert first["ETag"] and first["Last-Modified"]
    body = b"".join(first.streaming_content)
    assert body == (thumbnails_dir / name / "facial_expressions_0000_seed-42.webp").read_bytes()
    second = client.get(url(name))
    assert second.status_code == 200 and second["ETag"] == first["ETag"]
    assert renders == ["rendered", "up_to_date"]


def test_conditional_requests_get_304(client: APIClient, library, thumbnails_dir: Path) -> None:
    [name] = library(1)
    etag = client.get(url(name))["ETag"]
    assert client.get(url(name), HTTP_IF_NONE_MATCH=etag).status_code == 304
    image = client.get(f"/api/sessions/{name}/images/{IMAGE}")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    modified = client.get(f"/api/sessions/{name}/images/{IMAGE}", HTTP_IF_MODIFIED_SINCE=image["Last-Modified"])
    assert modified.status_code == 304


def test_a_png_still_being_written_answers_503(client: APIClient, library, empty_results_dir: Path,
                                               thumbnails_dir: Path) -> None:
    [name] = library(1)
    path = empty_results_dir / name / IMAGE
    path.write_bytes(path.read_bytes()[:40])
    response = client.get(url(name))
    assert response.status_code == 503 and response["Retry-After"] == "1"


def test_a_corrupt_png_has_no_thumbnail(client: APIClient, library, empty_results_dir: Path,
                                        thumbnails_dir: Path) -> None:
    [name] = library(1)
    (empty_results_dir / name / IMAGE).write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 50 + b"\x00\x00\x00\x00IEND\xaeB`\x82")
    response = client.get(url(name))
    assert response.status_code == 404
    assert response.json()["detail"].startswith("no thumbnail: cannot decode the image")


@pytest.mark.parametrize(
    "path",
    [
        "/api/sessions/{name}/images/..%2F..%2Fsecret.png?thumbnail=1",
        "/api/sessions/{name}/images/%2Fetc%2Fpasswd",
        "/api/sessions/{name}/images/nope.png?thumbnail=1",
        "/api/sessions/{name}/images/manifest.json",
        "/api/sessions/unknown/images/" + IMAGE,
        "/api/sessions/../images/" + IMAGE,
    ],
)
def test_paths_outside_the_roots_are_404(client: APIClient, library, thumbnails_dir: Path, tmp_path: Path,
                                         path: str) -> None:
    [name] = library(1)
    (tmp_path / "secret.png").write_bytes(b"secret")
    assert client.get(path.format(name=name)).status_code == 404


def test_symlinks_leading_outside_are_404(client: APIClient, library, empty_results_dir: Path,
                                          thumbnails_dir: Path, tmp_path: Path) -> None:
    [name] = library(1)
    outside = tmp_path / "outside.png"
    Image.new("RGB", (8, 8)).save(outside)
    os.symlink(outside, empty_results_dir / name / "link.png")
    assert client.get(f"/api/sessions/{name}/images/link.png").status_code == 404
    assert client.get(url(name, "link.png")).status_code == 404


def test_only_pngs_have_thumbnails(client: APIClient, library, empty_results_dir: Path, thumbnails_dir: Path) -> None:
    [name] = library(1)
    Image.new("RGB", (8, 8)).save(empty_results_dir / name / "photo.jpg")
    assert client.get(f"/api/sessions/{name}/images/photo.jpg").status_code == 200
    response = client.get(url(name, "photo.jpg"))
    assert response.status_code == 404 and response.json()["detail"] == "only PNG images have thumbnails"


def test_bad_parameters_are_400(client: APIClient, library, thumbnails_dir: Path) -> None:
    [name] = library(1)
    assert client.get(f"/api/sessions/{name}/images/{IMAGE}?thumbnail=maybe").status_code == 400
    response = client.get(f"/api/sessions/{name}/images/{IMAGE}?size=big")
    assert response.status_code == 400 and response.json() == {"size": ["Unknown query parameter."]}


def test_credentials_are_required(library, thumbnails_dir: Path) -> None:
    [name] = library(1)
    assert APIClient().get(url(name)).status_code == 401
