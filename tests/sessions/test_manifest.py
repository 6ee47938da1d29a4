from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sessions.manifest import MAX_MANIFEST_BYTES, ManifestError, parse_manifest, read_manifest
from tests.conftest import MANIFESTS, REAL_RESULTS

ALL_MANIFESTS = sorted(MANIFESTS.glob("*.json")) + sorted(REAL_RESULTS.glob("*/manifest.json"))


@pytest.mark.parametrize("path", ALL_MANIFESTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_manifest_reads(path: Path) -> None:
    manifest = read_manifest(path)
    raw = json.loads(path.read_text())
    assert len(manifest.images) == len(raw["images"])
    assert manifest.snapshot.runtime_info.sd_model_checkpoint == raw["snapshot"]["runtime_info"]["sd_model_checkpoint"]
    assert manifest.status in {"ongoing", "completed", "aborted"}


@pytest.mark.parametrize(
    ("fixture", "status"),
    [
        ("manifest_legacy_no_status.json", "ongoing"),
        ("manifest_legacy_in_progress.json", "ongoing"),
        ("manifest_legacy_cli_combinatorial.json", "completed"),
    ],
)
def test_legacy_statuses_read_as_ongoing(fixture: str, status: str) -> None:
    assert read_manifest(MANIFESTS / fixture).status == status


def test_unknown_keys_are_kept_and_missing_keys_default() -> None:
    manifest = parse_manifest(b'{"future_key": {"x": 1}, "images": [{"filename": "a.png", "extra": true}]}')
    assert manifest.model_extra == {"future_key": {"x": 1}}
    assert manifest.images[0].model_extra == {"extra": True}
    assert manifest.images[0].seed is None
    assert manifest.snapshot.generation_params.num_images is None
    assert manifest.status == "ongoing"


def test_null_sections_read_as_empty() -> None:
    manifest = parse_manifest(b'{"snapshot": {"api_params": null, "variations": null}, "images": []}')
    assert manifest.snapshot.api_params.steps is None
    assert manifest.snapshot.variations == {}
    assert parse_manifest(b'{"snapshot": null}').snapshot.version is None


def test_cosmetic_values_of_the_wrong_type_read_as_null() -> None:
    manifest = parse_manifest(b'{"snapshot": {"version": 2.0, "api_params": {"steps": "many", "width": [1]}}}')
    assert manifest.snapshot.version == "2.0"
    assert manifest.snapshot.api_params.steps is None
    assert manifest.snapshot.api_params.width is None


def test_variation_values_are_text() -> None:
    manifest = parse_manifest(b'{"images": [{"filename": "a.png", "applied_variations": {"Steps": 30}}]}')
    assert manifest.images[0].applied_variations == {"Steps": "30"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"   \n", "is empty"),
        (b'{"snapshot": {"version": "2.0", "images": [', "not valid JSON"),
        (b"{'single': 'quotes'}", "not valid JSON"),
        (b"[1, 2, 3]", "JSON object at the top level"),
        (b'"text"', "JSON object at the top level"),
        (b'{"snapshot": {"generation_params": {"num_images": "ten"}}}', "generation_params.num_images"),
        (b'{"snapshot": {"generation_params": {"num_images": "4"}}}', "generation_params.num_images"),
        (b'{"snapshot": {"generation_params": {"num_images": -1}}}', "generation_params.num_images"),
        (b'{"images": {"0": {"filename": "a.png"}}}', "images"),
        (b'{"images": "a.png"}', "images"),
        (b'{"images": [{"seed": 4}]}', "images.0.filename"),
        (b'{"images": [{"filename": "a.png", "seed": "4"}]}', "images.0.seed"),
        (b'{"status": "exploded"}', "status"),
        (b'{"status": 1}', "status"),
        (b'{"images_requested": true}', "images_requested"),
        (b'{"snapshot": {"variations": {"A": {"count": "3"}}}}', "variations.A.count"),
        ('{"note": "caf\u00e9"}'.encode("latin-1"), "not UTF-8"),
        (b"\xff\xfe{\x00}\x00", "not UTF-8"),
    ],
)
def test_unusable_manifests_raise_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message.replace(".", r"\.")):
        parse_manifest(data)


def test_truncated_real_manifest_is_reported_as_truncated() -> None:
    data = (REAL_RESULTS / "20261121_043601-facial_expressions" / "manifest.json").read_bytes()
    with pytest.raises(ManifestError, match="truncated"):
        parse_manifest(data[: len(data) // 2])


def test_a_byte_order_mark_is_accepted() -> None:
    assert parse_manifest(b'\xef\xbb\xbf{"status": "completed"}').status == "completed"


def test_an_oversized_manifest_is_refused_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    with open(path, "wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: 100 MB of size, no data written
    started = time.perf_counter()
    with pytest.raises(ManifestError, match=r"100\.0 MiB, over the 64 MiB limit"):
        read_manifest(path)
    assert time.perf_counter() - started < 0.5
    with pytest.raises(ManifestError, match="over the 64 MiB limit"):
        parse_manifest(b" " * (MAX_MANIFEST_BYTES + 1))


def test_missing_and_unreadable_files_raise_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="disappeared"):
        read_manifest(tmp_path / "manifest.json")
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(ManifestError, match="cannot be read"):
        read_manifest(tmp_path / "folder.json")


def test_numbers_too_large_for_a_float_read_as_unknown() -> None:
    """1e400 is valid JSON but reads as infinity, which no JSON answer can carry."""
    manifest = parse_manifest(b'{"snapshot": {"api_params": {"cfg_scale": 1e400, "steps": 30}, "variations": '
                              b'{"X": {"used": ["a", 1e400, -1e400, 2.5, [1, [2]], {"k": 1}, true, 3]}}}}')
    assert manifest.snapshot.api_params.cfg_scale is None
    assert manifest.snapshot.api_params.steps == 30
    assert manifest.snapshot.variations["X"].used == ["a", None, None, 2.5, None, None, True, 3]


def test_nul_characters_are_dropped_from_text(caplog: pytest.LogCaptureFixture) -> None:
    manifest = parse_manifest(rb'{"images": [{"filename": "a.png", "prompt": "a\u0000b \\u0000 c\\\u0000d"}]}',
                              source="run/manifest.json")
    # An escaped backslash followed by "u0000" is text, not a NUL: it stays.
    assert manifest.images[0].prompt == "ab \\u0000 c\\d"
    assert "run/manifest.json: 2 NUL characters dropped" in caplog.text


def test_deeply_nested_manifests_are_refused_clearly() -> None:
    with pytest.raises(ManifestError, match="unusable values|not valid JSON"):
        parse_manifest(b'{"snapshot": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}")


def test_a_manifest_of_too_many_images_is_refused_before_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    import sessions.manifest as manifest_module

    monkeypatch.setattr(manifest_module, "MAX_MANIFEST_IMAGES", 3)
    four = json.dumps({"images": [{"filename": f"{n}.png"} for n in range(4)]}).encode()
    with pytest.raises(ManifestError, match="lists about 4 images, over the 3 limit; it was not read"):
        parse_manifest(four)
    three = json.dumps({"images": [{"filename": f"{n}.png"} for n in range(3)]}).encode()
    assert len(parse_manifest(three).images) == 3


def test_the_image_limit_is_also_part_of_the_model() -> None:
    from sessions.manifest import MAX_MANIFEST_IMAGES, Manifest

    entries = [{"filename": "a.png"}] * (MAX_MANIFEST_IMAGES + 1)
    with pytest.raises(Exception, match="at most 100000 items"):
        Manifest.model_validate({"images": entries})
