"""Folders of other generators (no manifest): what their images carry becomes rows, stats, search."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import sessions.services.image_rows as image_rows
from sessions.models import Session, SessionImage
from sessions.search import search_images, search_sessions
from sessions.services import sync_sessions
from tests.conftest import REAL_RESULTS, SessionWriter, copy_tree
from tests.sessions.image_files import save_png, save_with_exif, user_comment_exif
from tests.sessions.test_image_parameters import DEFAULT_GRAPH, INFOTEXT

pytestmark = pytest.mark.django_db

FOLDER = "2025-03-01_101500_mixed"


def a1111_png(path: Path, *, prompt: str, seed: int, model: str = "juggernautXL_v9") -> Path:
    text = (f"{prompt}\nNegative prompt: lowres\nSteps: 25, Sampler: Euler a, CFG scale: 7, Seed: {seed}, "
            f"Size: 832x1216, Model: {model}")
    return save_png(path, {"parameters": text})


@pytest.fixture
def mixed(empty_results_dir: Path, settings) -> Path:
    """A folder of AUTOMATIC1111, ComfyUI and InvokeAI images beside the real CLI's sessions."""
    settings.SDGEN_RESULTS_DIR = empty_results_dir
    for child in REAL_RESULTS.iterdir():
        if child.is_dir():
            copy_tree(child, empty_results_dir / child.name)
    folder = empty_results_dir / FOLDER
    folder.mkdir()
    a1111_png(folder / "00001-100.png", prompt="a red fox in the snow", seed=100)
    a1111_png(folder / "00002-101.png", prompt="a red fox in the snow", seed=101)
    a1111_png(folder / "00003-102.png", prompt="a red fox in the snow", seed=102)
    save_png(folder / "ComfyUI_00001_.png", {"prompt": json.dumps(DEFAULT_GRAPH)})
    metadata = {"positive_prompt": "a robot reading a book", "negative_prompt": "blurry", "seed": 7, "steps": 30,
                "cfg_scale": 6.5, "scheduler": "dpmpp_2m_k", "width": 1024, "height": 1024,
                "model": {"name": "Juggernaut XL v9", "base": "sdxl", "type": "main"}}
    save_png(folder / "invoke.png", {"invokeai_metadata": json.dumps(metadata)})
    save_with_exif(folder / "photo.jpg", user_comment_exif(b"ASCII\x00\x00\x00" + INFOTEXT.encode("ascii")),
                   format="JPEG")
    return empty_results_dir


def rows(name: str = FOLDER) -> dict[str, SessionImage]:
    return {image.filename: image for image in SessionImage.objects.filter(session__name=name)}


def test_each_image_says_what_it_is(mixed: Path) -> None:
    sync_sessions(results_dir=mixed)
    images = rows()
    fox = images["00002-101.png"]
    assert (fox.generator, fox.prompt, fox.negative_prompt, fox.seed) == ("AUTOMATIC1111", "a red fox in the snow",
                                                                          "lowres", 101)
    assert fox.params == {"sd_model": "juggernautXL_v9", "sampler_name": "Euler a", "scheduler": None, "steps": 25,
                          "cfg_scale": 7.0, "width": 832, "height": 1216}
    comfy = images["ComfyUI_00001_.png"]
    assert (comfy.generator, comfy.seed, comfy.params["sd_model"]) == ("ComfyUI", 156680208700286,
                                                                       "v1-5-pruned-emaonly.safetensors")
    assert (images["invoke.png"].generator, images["invoke.png"].params["sd_model"]) == ("InvokeAI",
                                                                                         "Juggernaut XL v9")
    assert images["photo.jpg"].generator == "AUTOMATIC1111" and images["photo.jpg"].seed == 3141592653
    sdgen = rows("20261121_043601-facial_expressions")["facial_expressions_0000_seed-42.png"]
    assert (sdgen.generator, sdgen.params) == ("sdgen", None)


def test_a_folder_without_a_manifest_gets_stats_from_its_images(mixed: Path, api) -> None:
    sync_sessions(results_dir=mixed)
    session = Session.objects.get(name=FOLDER)
    stats = session.stats
    assert (stats.source, stats.sd_model, stats.sampler_name, stats.steps) == ("images", "juggernautXL_v9", "Euler a",
                                                                               25)
    assert (stats.resolved_prompt, stats.seed_min, stats.seed_max) == ("a red fox in the snow", 7, 156680208700286)
    assert (session.images_actual, session.images_expected, session.completion_percentage) == (6, 6, 100.0)
    body = api.get(f"/api/sessions/{FOLDER}/").json()
    assert body["stats"]["source"] == "images" and body["has_manifest"] is False
    assert api.get(f"/api/sessions/{FOLDER}/stats").status_code == 200
    assert api.get("/api/sessions/20261121_043601-facial_expressions/").json()["stats"]["source"] == "manifest"
    # Filtered by model like any other session.
    listed = [s["session_id"] for s in api.get("/api/sessions/?model=juggernaut").json()["sessions"]]
    assert listed == [FOLDER]


def test_a_seed_sweep_is_recognised_from_the_images(empty_results_dir: Path) -> None:
    folder = empty_results_dir / "sweep"
    folder.mkdir()
    for n, seed in enumerate([500, 501, 502]):
        a1111_png(folder / f"{n:05d}.png", prompt="same prompt", seed=seed)
    sync_sessions(results_dir=empty_results_dir)
    stats = Session.objects.get(name="sweep").stats
    assert (stats.is_seed_sweep, stats.seed_mode) == (True, "progressive")


def test_a_folder_whose_images_carry_nothing_has_no_stats(empty_results_dir: Path, write_session: SessionWriter,
                                                          api, settings) -> None:
    settings.SDGEN_RESULTS_DIR = empty_results_dir
    write_session(empty_results_dir, "plain", None, images=["a.png", "b.png"])
    sync_sessions(results_dir=empty_results_dir)
    assert api.get("/api/sessions/plain/").json()["stats"] is None
    assert api.get("/api/sessions/plain/stats").status_code == 404
    assert [image.params for image in SessionImage.objects.all()] == [{}, {}]  # read, found nothing


def test_a_stray_image_in_an_sdgen_session(results_dir: Path) -> None:
    name = "20261121_043601-facial_expressions"
    save_png(results_dir / name / "edited.png", {"prompt": json.dumps(DEFAULT_GRAPH)})
    sync_sessions(results_dir=results_dir)
    images = rows(name)
    assert images["edited.png"].generator == "ComfyUI"
    assert images["facial_expressions_0000_seed-42.png"].generator == "sdgen"
    assert Session.objects.get(name=name).stats.source == "manifest"


def test_search_and_the_image_list_find_them(mixed: Path, api) -> None:
    sync_sessions(results_dir=mixed)
    assert set(search_sessions(Session.objects.all(), "fox snow").values_list("name", flat=True)) == {FOLDER}
    assert {i.filename for i in search_images(SessionImage.objects.all(), "robot")} == {"invoke.png"}
    assert {i.filename for i in search_images(SessionImage.objects.all(), "juggernaut")} >= {"invoke.png"}
    body = api.get("/api/images/?q=lighthouse").json()
    assert [(image["filename"], image["generator"], image["seed"]) for image in body["images"]] == [
        ("photo.jpg", "AUTOMATIC1111", 3141592653)]
    assert [i["filename"] for i in api.get("/api/images/?seed=101").json()["images"]] == ["00002-101.png"]
    comfy = api.get("/api/images/?generator=comfyui").json()["images"]
    assert [i["filename"] for i in comfy] == ["ComfyUI_00001_.png"]
    assert comfy[0]["params"]["steps"] == 20
    assert {i["filename"] for i in api.get("/api/images/?model=juggernaut").json()["images"]} == {
        "00001-100.png", "00002-101.png", "00003-102.png", "invoke.png"}


def test_only_new_or_changed_files_are_read(mixed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []
    real = image_rows.read_image_parameters

    def counting(path):
        read.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(image_rows, "read_image_parameters", counting)
    sync_sessions(results_dir=mixed)
    assert len(read) == 6
    read.clear()
    a1111_png(mixed / FOLDER / "00004-103.png", prompt="a red fox in the snow", seed=103)
    sync_sessions(results_dir=mixed)
    assert read == ["00004-103.png"]


def test_odd_files_are_listed_and_counted_and_stop_nothing(empty_results_dir: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    folder = empty_results_dir / "odd"
    folder.mkdir()
    a1111_png(folder / "good.png", prompt="a good one", seed=1)
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_bytes(b"this is not an image at all")
    save_png(folder / "cut.png", {"parameters": "a cut one\nSteps: 10, Sampler: Euler, Seed: 5"})
    with open(folder / "cut.png", "r+b") as handle:
        handle.truncate(os.path.getsize(folder / "cut.png") - 20)
    report = sync_sessions(results_dir=empty_results_dir)
    assert not report.errors and report.unreadable_images == 2
    images = rows("odd")
    assert set(images) == {"good.png", "empty.png", "text.png", "cut.png"}
    assert images["empty.png"].prompt is None and images["empty.png"].params == {}
    assert images["cut.png"].prompt == "a cut one"  # what was there before the cut
    assert "odd/text.png is not a readable image" in caplog.text
