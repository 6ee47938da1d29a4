"""GET /api/sessions/{name}/images/ (filters, pages) and /api/sessions/{name}/manifest."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions.services import sync_sessions

pytestmark = pytest.mark.django_db

FACIAL = "20261121_043601-facial_expressions"
SWEEP = "20261121_043621-seed_sweep_test"
RANDOM = "20261121_043627-random_test"
SMILING = "FacialExpression:smiling, cheerful expression"
SAD = "FacialExpression:sad, melancholic expression"
IMAGE_KEYS = ["session_id", "filename", "index", "generator", "seed", "prompt", "negative_prompt", "params",
              "applied_variations", "width", "height", "file_size", "created_at", "exists", "url", "thumbnail_url"]


def filenames(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [image["filename"] for image in response.json()["images"]]


def images_url(name: str, *pairs: tuple[str, str]) -> str:
    query = "&".join(f"{key}={quote(value)}" for key, value in pairs)
    return f"/api/sessions/{name}/images/" + (f"?{query}" if query else "")


def test_envelope_and_image_shape(api, synced_results: Path) -> None:
    body = api.get(images_url(FACIAL)).json()
    assert list(body) == ["images", "total_count", "limit", "offset", "next", "previous"]
    assert body["total_count"] == 4
    image = body["images"][0]
    assert list(image) == IMAGE_KEYS
    assert image == {
        **image,
        "session_id": FACIAL, "filename": "facial_expressions_0000_seed-42.png", "index": 0, "seed": 42,
        "generator": "sdgen",
        "params": {"sd_model": "v1-5-pruned-emaonly.safetensors [6ce0161689]", "sampler_name": "DPM++ 2M",
                   "scheduler": "Karras", "steps": 30, "cfg_scale": 7.0, "width": 512, "height": 768},
        "prompt": "masterpiece, 1girl, smiling, cheerful expression, front view, detailed face",
        "negative_prompt": "low quality, blurry",
        "applied_variations": {"FacialExpression": "smiling, cheerful expression", "Angle": "front view"},
        "width": 64, "height": 96, "exists": True,
        "url": f"/api/sessions/{FACIAL}/images/facial_expressions_0000_seed-42.png",
        "thumbnail_url": f"/api/sessions/{FACIAL}/images/facial_expressions_0000_seed-42.png?thumbnail=1",
    }
    assert image["file_size"] == (synced_results / FACIAL / image["filename"]).stat().st_size
    assert image["created_at"].endswith("Z")
    assert filenames(api.get(images_url(FACIAL))) == [f"facial_expressions_000{n}_seed-{42 + n}.png" for n in range(4)]


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("variation", SMILING)], [0, 1]),
        ([("variation", SMILING), ("variation", SAD)], [0, 1, 2, 3]),  # OR within one placeholder
        ([("variation", SMILING), ("variation", "Angle:side view")], [1]),  # AND across
        ([("variation", SAD), ("variation", SMILING), ("variation", "Angle:front view")], [0, 2]),
        ([("variation", "Angle:side view"), ("variation", "Angle:front view"), ("variation", SAD)], [2, 3]),
        ([("variation", "Angle:upside down")], []),
        ([("variation", "Lighting:soft")], []),  # a placeholder the run does not have
        ([("seed", "44")], [2]),
        ([("since", "1")], [2, 3]),
        ([("since", "-1")], [0, 1, 2, 3]),
        ([("since", "1"), ("variation", "Angle:front view")], [2]),
    ],
)
def test_filters_on_the_real_combinatorial_run(api, synced_results: Path, pairs, expected: list[int]) -> None:
    response = api.get(images_url(FACIAL, *pairs))
    assert [image["index"] for image in response.json()["images"]] == expected
    assert response.json()["total_count"] == len(expected)


def test_the_seed_sweep_run(api, synced_results: Path) -> None:
    assert filenames(api.get(images_url(SWEEP, ("seed", "1000")))) == [
        "seed_sweep_test_0000_seed-1000.png", "seed_sweep_test_0003_seed-1000.png"]
    assert filenames(api.get(images_url(SWEEP, ("variation", "Angle:side view")))) == [
        "seed_sweep_test_0003_seed-1000.png"]


def test_random_seed_images_without_a_seed_in_the_name(api, synced_results: Path) -> None:
    body = api.get(images_url(RANDOM, ("seed", "987654321"))).json()
    assert body["total_count"] == 2 and body["images"][0]["filename"] == "random_test_0000.png"


def test_images_in_the_manifest_but_not_on_disk(api, synced_results: Path) -> None:
    (synced_results / FACIAL / "facial_expressions_0002_seed-44.png").unlink()
    sync_sessions(results_dir=synced_results)
    image = api.get(images_url(FACIAL, ("seed", "44"))).json()["images"][0]
    assert (image["exists"], image["file_size"], image["url"], image["thumbnail_url"]) == (False, None, None, None)


def test_pages(api, synced_results: Path) -> None:
    body = api.get(images_url(FACIAL, ("limit", "3"), ("offset", "2"))).json()
    assert [image["index"] for image in body["images"]] == [2, 3]
    assert body["previous"] is not None and body["next"] is None
    assert api.get(images_url(FACIAL, ("limit", "501"))).status_code == 400


@pytest.mark.parametrize(
    ("pairs", "field"),
    [
        ([("variation", "no separator")], "variation"),
        ([("variation", ":value without a name")], "variation"),
        ([("seed", "forty-two")], "seed"),
        ([("since", "1.5")], "since"),
        ([("ordering", "seed")], "ordering"),
        ([("liked", "true")], "liked"),
    ],
)
def test_bad_parameters_are_400(api, synced_results: Path, pairs, field: str) -> None:
    response = api.get(images_url(FACIAL, *pairs))
    assert response.status_code == 400 and field in response.json()


def test_an_unknown_session(api, synced_results: Path) -> None:
    assert api.get(images_url("nope")).status_code == 404


class TestManifest:
    def test_as_stored_on_disk(self, api, synced_results: Path) -> None:
        response = api.get(f"/api/sessions/{FACIAL}/manifest")
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        assert b"".join(response.streaming_content) == (synced_results / FACIAL / "manifest.json").read_bytes()
        assert api.get(f"/api/sessions/{FACIAL}/manifest", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304

    def test_even_when_it_is_broken(self, api, synced_results: Path) -> None:
        (synced_results / FACIAL / "manifest.json").write_bytes(b'{"trunc')
        response = api.get(f"/api/sessions/{FACIAL}/manifest")
        assert b"".join(response.streaming_content) == b'{"trunc'

    def test_404_without_one(self, api, synced_results: Path, write_session) -> None:
        write_session(synced_results, "loose", None, images=["a.png"])
        sync_sessions(results_dir=synced_results)
        assert api.get("/api/sessions/loose/manifest").status_code == 404
        assert api.get("/api/sessions/nope/manifest").status_code == 404

    def test_a_manifest_symlinked_from_outside(self, api, synced_results: Path, tmp_path: Path) -> None:
        (tmp_path / "secret.json").write_text('{"secret": true}')
        manifest = synced_results / FACIAL / "manifest.json"
        manifest.unlink()
        manifest.symlink_to(tmp_path / "secret.json")
        assert api.get(f"/api/sessions/{FACIAL}/manifest").status_code == 404


def image_queries(api, url: str) -> tuple[dict, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        body = api.get(url).json()
    return body, sum('"gen_sessions_sessionimage"' in query["sql"] for query in queries.captured_queries)


@pytest.mark.parametrize(("limit", "offset"), [(100, 0), (4, 0), (3, 0), (3, 2), (2, 3), (100, 3), (100, 4), (1, 9)])
def test_a_page_is_the_same_read_whole_or_counted_and_paged(api, synced_results: Path, monkeypatch,
                                                           limit: int, offset: int) -> None:
    from sessions import selectors

    url = images_url(FACIAL, ("limit", str(limit)), ("offset", str(offset)))
    answer, _ = image_queries(api, url)
    monkeypatch.setattr(selectors, "every_session_image", lambda session: None)  # as for a large session
    caches["answers"].clear()  # built again, not the answer kept from the first time
    assert image_queries(api, url)[0] == answer


def test_a_session_that_fits_on_the_page_is_read_in_one_query(api, synced_results: Path) -> None:
    body, queries = image_queries(api, images_url(FACIAL))
    assert (body["total_count"], queries) == (4, 1)
    # More than a page: counted, then the page's ids, then their rows.
    body, queries = image_queries(api, images_url(FACIAL, ("limit", "3")))
    assert (len(body["images"]), body["total_count"], queries) == (3, 4, 3)
    body, queries = image_queries(api, images_url(FACIAL, ("seed", "44")))  # filtered: counted, then read
    assert (body["total_count"], queries) == (1, 2)


class TestKeptAnswers:
    """A session's images are built once per state of the session: the same question asked
    again is answered from the JSON kept under its ETag, until the session changes."""

    @staticmethod
    def whole(response) -> tuple:
        headers = {key: value for key, value in response.items() if key != "Date"}
        return response.status_code, headers, response.content

    def test_asked_again_it_is_not_built_again_and_is_the_same(self, api, synced_results: Path) -> None:
        url = images_url(FACIAL, ("limit", "3"))
        first = api.get(url)
        with CaptureQueriesContext(connection) as queries:
            again = api.get(url)
        assert self.whole(again) == self.whole(first)
        assert not any('"gen_sessions_sessionimage"' in query["sql"] for query in queries.captured_queries)
        assert first["Content-Type"] == "application/json" and again.json()["next"].startswith("http://testserver/")

    def test_a_change_to_the_session_is_shown(self, api, synced_results: Path) -> None:
        url = images_url(FACIAL)
        assert api.get(url).json()["total_count"] == 4
        extra = synced_results / FACIAL / "facial_expressions_0004_seed-46.png"
        extra.write_bytes((synced_results / FACIAL / "facial_expressions_0000_seed-42.png").read_bytes())
        sync_sessions(results_dir=synced_results)
        assert api.get(url).json()["total_count"] == 5

    def test_what_shapes_the_bytes_is_asked_apart(self, api, synced_results: Path, settings) -> None:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "other.example"]
        url = images_url(FACIAL, ("limit", "3"))
        assert api.get(url).json()["next"].startswith("http://testserver/")
        assert api.get(url, HTTP_HOST="other.example").json()["next"].startswith("http://other.example/")
        assert b"\n    " in api.get(url, HTTP_ACCEPT="application/json; indent=4").content
        assert b"\n" not in api.get(url).content
        assert api.get(url, HTTP_ACCEPT="text/html")["Content-Type"].startswith("text/html")
        assert api.get(images_url(FACIAL, ("limit", "3"), ("fields", "filename"))).json()["images"][0] == {
            "filename": "facial_expressions_0000_seed-42.png"}
