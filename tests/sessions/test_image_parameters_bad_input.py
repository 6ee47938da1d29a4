"""Bad input never raises: what can be read is read, a file that is no image is reported."""

from __future__ import annotations

import json
import logging
import os
import threading
import zlib
from pathlib import Path

import pytest

import sessions.image_parameters as image_parameters
from sessions.image_parameters import MAX_TEXT_CHUNK, UnreadableImage, read_image_parameters
from sessions.image_parameters import containers as containers_module

from .image_files import chunk, png_bytes, save_png, text_chunk
from .test_image_parameters import DEFAULT_GRAPH, INFOTEXT, INFOTEXT_EXPECTED

INFOTEXT_CHUNK = text_chunk("parameters", INFOTEXT.encode("latin-1"))


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_text_after_the_image_data_is_read(tmp_path: Path) -> None:
    # Tools that edit metadata append text chunks after IDAT (sd-parsers' text_after_idat.png).
    path = write(tmp_path / "after.png", png_bytes(after_idat=[INFOTEXT_CHUNK], idat_chunks=4))

    assert read_image_parameters(path) == INFOTEXT_EXPECTED


def test_metadata_cut_short_reads_as_none(tmp_path: Path) -> None:
    whole = png_bytes(before_idat=[INFOTEXT_CHUNK])
    cut = whole[:whole.index(b"Negative prompt")]
    path = write(tmp_path / "cut.png", cut)

    assert read_image_parameters(path) is None


def test_image_cut_short_after_its_metadata_keeps_the_metadata(tmp_path: Path) -> None:
    # A PNG still being written: its text chunks come first and are whole.
    whole = png_bytes(before_idat=[INFOTEXT_CHUNK])
    path = write(tmp_path / "half.png", whole[:whole.index(b"IDAT") + 10])

    assert read_image_parameters(path) == INFOTEXT_EXPECTED


def test_itxt_that_is_not_utf8_is_not_read(tmp_path: Path) -> None:
    # iTXt: keyword, compression flag, method, language, translated keyword, then UTF-8 text.
    broken = chunk(b"iTXt", b"parameters\x00\x00\x00\x00\x00" + b"a cat \xff\xfe\nSteps: 1, Seed: 2, Size: 8x8")
    path = write(tmp_path / "itxt.png", png_bytes(before_idat=[broken]))

    assert read_image_parameters(path) is None


def test_text_chunk_in_latin1_is_read_as_latin1(tmp_path: Path) -> None:
    # tEXt is Latin-1 by the PNG standard.
    latin1 = text_chunk("parameters", "café crème\nSteps: 20, Sampler: Euler, Seed: 3, Size: 8x8".encode("latin-1"))
    path = write(tmp_path / "latin1.png", png_bytes(before_idat=[latin1]))

    assert read_image_parameters(path).prompt == "café crème"


def test_json_that_is_not_utf8_or_not_json_reads_as_none(tmp_path: Path) -> None:
    path = save_png(tmp_path / "bad.png", {"prompt": '{"3": {"class_type": "KSampler", "inputs": {"seed": 1'})

    assert read_image_parameters(path) is None


def test_50_mb_text_chunk_is_skipped_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A 50 MB "parameters" chunk (a sparse file) before a real one: the big one is not read (the
    # bytes read are counted through os.pread), the real one still is.
    huge = 50 * 1024 * 1024
    path = tmp_path / "huge.png"
    plain = png_bytes()
    after_ihdr = plain.index(b"IHDR") + 4 + 13 + 4
    with open(path, "wb") as handle:
        handle.write(plain[:after_ihdr])
        handle.write(huge.to_bytes(4, "big") + b"tEXtparameters\x00")
        handle.seek(huge - len(b"parameters\x00") + 4, os.SEEK_CUR)
        handle.write(INFOTEXT_CHUNK + plain[after_ihdr:])
    read_bytes = 0
    real_pread = os.pread

    def counting_pread(fd: int, length: int, offset: int) -> bytes:
        nonlocal read_bytes
        data = real_pread(fd, length, offset)
        read_bytes += len(data)
        return data

    monkeypatch.setattr(containers_module.os, "pread", counting_pread)

    assert read_image_parameters(path) == INFOTEXT_EXPECTED
    assert read_bytes < MAX_TEXT_CHUNK


def test_compressed_chunk_inflating_past_the_limit_is_skipped(tmp_path: Path) -> None:
    bomb = chunk(b"zTXt", b"parameters\x00\x00" + zlib.compress(b"a" * (MAX_TEXT_CHUNK + 1), 9))
    path = write(tmp_path / "bomb.png", png_bytes(before_idat=[bomb]))

    assert read_image_parameters(path) is None


@pytest.mark.parametrize("graph", [
    pytest.param({"1": {"class_type": "KSampler", "inputs": {"seed": 7, "positive": ["2", 0], "negative": ["2", 0],
                                                             "model": ["1", 0], "latent_image": ["1", 0]}},
                  "2": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["2", 0],
                                                                        "conditioning_2": ["1", 0]}}},
                 id="cycles"),
    pytest.param({"1": {"class_type": "KSampler", "inputs": {"seed": 7, "positive": ["404", 0], "negative": "x",
                                                             "model": ["405", 0], "latent_image": ["406", 0]}},
                  "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}},
                  "3": "not a node", "4": {"class_type": 5, "inputs": []}},
                 id="missing-and-malformed-nodes"),
])
def test_comfyui_graph_with_cycles_or_missing_nodes(tmp_path: Path, graph: dict) -> None:
    path = save_png(tmp_path / "g.png", {"prompt": json.dumps(graph)})

    result = read_image_parameters(path)

    assert result.generator == "ComfyUI"
    assert result.seed == 7
    assert result.prompt is None and result.params["sd_model"] is None


def test_comfyui_long_chain_is_followed_without_recursion(tmp_path: Path) -> None:
    graph = json.loads(json.dumps(DEFAULT_GRAPH))
    previous = "4"
    for number in range(100, 1600):
        graph[str(number)] = {"class_type": "LoraLoader", "inputs": {"lora_name": "l.safetensors",
                                                                    "model": [previous, 0], "clip": [previous, 1]}}
        previous = str(number)
    graph["3"]["inputs"]["model"] = [previous, 0]
    path = save_png(tmp_path / "chain.png", {"prompt": json.dumps(graph)})

    assert read_image_parameters(path).params["sd_model"] == "v1-5-pruned-emaonly.safetensors"


def test_json_nested_too_deep_reads_as_none(tmp_path: Path) -> None:
    path = save_png(tmp_path / "deep.png", {"prompt": "{\"a\": " + "[" * 100_000 + "]" * 100_000 + "}"})

    assert read_image_parameters(path) is None


@pytest.mark.parametrize(("data", "reason"), [
    pytest.param(b"", "the file is empty", id="empty"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + os.urandom(200).replace(b"IHDR", b"XXXX"), "a PNG without its IHDR header",
                 id="corrupt-png"),
    pytest.param(b"Steps: 20, Seed: 1\n" * 10, "not a PNG, JPEG or WebP image", id="not-an-image"),
])
def test_files_that_are_not_images_are_reported(tmp_path: Path, data: bytes, reason: str) -> None:
    result = read_image_parameters(write(tmp_path / "x.png", data))

    assert result == UnreadableImage(reason)
    assert not result


@pytest.mark.parametrize("data", [
    pytest.param(b"\xff\xd8\xff\xe1\x40\x00Exif\x00\x00MM", id="jpeg-cut-in-exif"),
    pytest.param(b"RIFF\x00\x10\x00\x00WEBPEXIF\x00\x01\x00\x00II*\x00", id="webp-cut-in-exif"),
    pytest.param(b"\xff\xd8\xff\xe1\x00\x20Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x00" * 12,
                 id="jpeg-with-broken-exif"),
])
def test_jpeg_and_webp_cut_short_read_as_none(tmp_path: Path, data: bytes) -> None:
    assert read_image_parameters(write(tmp_path / "x.jpg", data)) is None


def test_walks_over_a_file_of_tiny_segments_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # JPEG allows 0xFF fill bytes between segments: a megabyte of them must not mean a read each.
    path = write(tmp_path / "fill.jpg", b"\xff\xd8" + b"\xff" * (1024 * 1024))
    reads = []
    real_pread = os.pread
    monkeypatch.setattr(containers_module.os, "pread", lambda *args: reads.append(args) or real_pread(*args))

    assert read_image_parameters(path) is None
    assert len(reads) < 2000


def test_fifo_is_reported_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    results = []
    reader = threading.Thread(target=lambda: results.append(read_image_parameters(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=10)

    assert results == [UnreadableImage("not a regular file")]


def test_directory_and_missing_file_are_reported(tmp_path: Path) -> None:
    assert read_image_parameters(tmp_path) == UnreadableImage("not a regular file")
    assert read_image_parameters(tmp_path / "gone.png") == UnreadableImage("cannot be read: No such file or directory")


def test_pixels_are_never_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_png(tmp_path / "a.png", {"parameters": INFOTEXT})
    monkeypatch.setattr("PIL.Image.open", lambda *args, **kwargs: pytest.fail("Pillow opened the image"))

    assert read_image_parameters(path) == INFOTEXT_EXPECTED


def test_a_failing_reader_is_logged_and_reads_as_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    path = save_png(tmp_path / "a.png", {"parameters": INFOTEXT})

    def broken(*args, **kwargs):
        raise ValueError("bug")

    monkeypatch.setattr(image_parameters, "parse_infotext", broken)
    with caplog.at_level(logging.ERROR, logger="sessions.image_parameters"):
        assert read_image_parameters(path) is None

    assert "a.png" in caplog.text


def test_values_of_the_wrong_type_read_as_none(tmp_path: Path) -> None:
    metadata = {"positive_prompt": ["not", "text"], "negative_prompt": 5, "seed": "12e3", "steps": True,
                "cfg_scale": "NaN", "width": 512.0, "height": "768", "model": {"name": 3}, "scheduler": None}
    path = save_png(tmp_path / "types.png", {"invokeai_metadata": json.dumps(metadata)})

    result = read_image_parameters(path)

    assert (result.prompt, result.negative_prompt, result.seed) == (None, None, 12000)
    assert result.params == {"sd_model": None, "sampler_name": None, "scheduler": None, "steps": None,
                             "cfg_scale": None, "width": 512, "height": 768}


def test_image_without_parameters_reads_as_none(tmp_path: Path) -> None:
    path = save_png(tmp_path / "plain.png", {"Software": "GIMP 2.10", "Comment": "holiday photo"})

    assert read_image_parameters(path) is None
