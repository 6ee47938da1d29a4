"""GET /api/sessions/{name}/images/{filename}?thumbnail=1 renders a missing thumbnail at once."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from PIL import Image
from rest_framework.test import APIClient

import thumbnails.services as services
from tests.conftest import ROOT
from thumbnails import ondemand
from thumbnails.rendering import Status

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
    assert renders == ["rendered"]  # the second found it up to date with two stat calls


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


def test_jpeg_and_webp_images_have_thumbnails_beside_a_png_of_the_same_stem(
        client: APIClient, library, empty_results_dir: Path, thumbnails_dir: Path) -> None:
    [name] = library(1)
    folder = empty_results_dir / name
    Image.new("RGB", (40, 20), "red").save(folder / "photo.png")
    Image.new("RGB", (20, 40), "blue").save(folder / "photo.jpg", quality=90)
    Image.new("RGB", (30, 30), "green").save(folder / "photo.webp")
    sizes = {}
    for filename in ("photo.png", "photo.jpg", "photo.webp"):
        response = client.get(url(name, filename))
        assert response.status_code == 200 and response["Content-Type"] == "image/webp"
        sizes[filename] = Image.open(io.BytesIO(b"".join(response.streaming_content))).size
    assert sizes == {"photo.png": (480, 240), "photo.jpg": (120, 240), "photo.webp": (240, 240)}
    assert sorted(p.name for p in (thumbnails_dir / name).iterdir()) == ["photo.jpg.webp", "photo.webp", "photo.webp.webp"]


def test_bad_parameters_are_400(client: APIClient, library, thumbnails_dir: Path) -> None:
    [name] = library(1)
    assert client.get(f"/api/sessions/{name}/images/{IMAGE}?thumbnail=maybe").status_code == 400
    response = client.get(f"/api/sessions/{name}/images/{IMAGE}?size=big")
    assert response.status_code == 400 and response.json() == {"size": ["Unknown query parameter."]}


def test_credentials_are_required(library, thumbnails_dir: Path) -> None:
    [name] = library(1)
    assert APIClient().get(url(name)).status_code == 401


class ConcurrentRequests:
    """``count`` threads asking for thumbnails at once; the renderer can be held until all of
    them have arrived, so that they overlap whatever the scheduling."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, count: int = 4) -> None:
        self.count = count
        self.arrived = threading.Semaphore(0)
        self.lock = threading.Lock()
        self.statuses: list[str] = []
        self.running = self.most_running = 0
        self.first_taken = False
        real = services.render

        def held_render(job):
            with self.lock:
                self.running += 1
                self.most_running = max(self.most_running, self.running)
                first, self.first_taken = not self.first_taken, True
            try:
                if first:  # the first render waits until every request is in
                    for _ in range(self.count):
                        assert self.arrived.acquire(timeout=10)
                outcome = real(job)
                self.statuses.append(outcome.status.value)
                return outcome
            finally:
                with self.lock:
                    self.running -= 1

        monkeypatch.setattr(services, "render", held_render)

    def run(self, requests) -> list:
        results = [None] * len(requests)

        def one(index: int) -> None:
            self.arrived.release()
            results[index] = requests[index]()

        threads = [threading.Thread(target=one, args=(n,)) for n in range(len(requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads)
        return results


def ensure(results: Path, thumbnails: Path, name: str, filename: str = IMAGE):
    return lambda: services.ensure_thumbnail(results_dir=results, thumbnails_dir=thumbnails, session_name=name,
                                             filename=filename)


def big_png(path: Path) -> None:
    Image.effect_noise((1200, 1800), 60).convert("RGB").save(path, compress_level=0)


def test_concurrent_requests_for_one_missing_thumbnail_render_it_once(
    library, empty_results_dir: Path, thumbnails_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [name] = library(1)
    big_png(empty_results_dir / name / IMAGE)
    requests = ConcurrentRequests(monkeypatch)
    outcomes = requests.run([ensure(empty_results_dir, thumbnails_dir, name)] * 4)
    assert [outcome.status for outcome in outcomes].count(Status.RENDERED) == 1
    assert {outcome.status for outcome in outcomes} == {Status.RENDERED, Status.UP_TO_DATE}
    assert requests.statuses.count("rendered") == 1  # decoded once


def test_renders_of_different_files_take_turns_in_a_process(
    library, empty_results_dir: Path, thumbnails_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [name] = library(1)
    files = [f"facial_expressions_000{n}_seed-4{n + 2}.png" for n in range(4)]
    for filename in files:
        big_png(empty_results_dir / name / filename)
    requests = ConcurrentRequests(monkeypatch)
    outcomes = requests.run([ensure(empty_results_dir, thumbnails_dir, name, filename) for filename in files])
    assert [outcome.status for outcome in outcomes] == [Status.RENDERED] * 4
    assert requests.most_running == ondemand.RENDERS_AT_ONCE == 1  # memory: one large image at a time


def test_a_request_that_waits_too_long_for_another_render_gets_503(
    client: APIClient, library, thumbnails_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [name] = library(1)
    monkeypatch.setattr(ondemand, "WAIT_AT_MOST", 0.2)
    target = str(thumbnails_dir / name / "facial_expressions_0000_seed-42.webp")
    with ondemand.exclusive(thumbnails_dir / ".locks", target, deadline=time.monotonic() + 5) as locked:
        assert locked  # as if another request were rendering it
        response = client.get(url(name))
    assert response.status_code == 503 and response["Retry-After"] == "1"
    assert response.json()["detail"] == "the thumbnail is being made; try again shortly"
    assert client.get(url(name)).status_code == 200


def test_another_process_rendering_the_same_file_is_waited_for(library, empty_results_dir: Path,
                                                               thumbnails_dir: Path) -> None:
    [name] = library(1)
    target = thumbnails_dir / name / "facial_expressions_0000_seed-42.webp"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(thumbnails_dir / ".locks"), str(target)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        outcome = ondemand.render_once(
            services.job_for(empty_results_dir, thumbnails_dir, name, IMAGE, services.thumbnail_settings()),
            lock_dir=thumbnails_dir / ".locks", wait_at_most=0.2)
        assert outcome.status is Status.BUSY
        holder.stdin.close()  # the other process is done
        assert holder.wait(10) == 0
        outcome = services.ensure_thumbnail(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir,
                                            session_name=name, filename=IMAGE)
        assert outcome.status is Status.RENDERED
    finally:
        holder.kill()
        holder.wait()


HOLD_LOCK = """
import sys, time
from pathlib import Path
from thumbnails.ondemand import exclusive
with exclusive(Path(sys.argv[1]), sys.argv[2], deadline=time.monotonic() + 10) as locked:
    print("locked" if locked else "not locked", flush=True)
    sys.stdin.read()
"""


def test_the_lock_folder_is_never_taken_for_a_session_that_is_gone(client: APIClient, library, empty_results_dir: Path,
                                                                   thumbnails_dir: Path) -> None:
    [name] = library(1)
    assert client.get(url(name)).status_code == 200
    assert (thumbnails_dir / ".locks").is_dir()
    services.catch_up_thumbnails(results_dir=empty_results_dir, thumbnails_dir=thumbnails_dir, workers=1, full=True)
    assert (thumbnails_dir / ".locks").is_dir()
