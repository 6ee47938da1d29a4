from __future__ import annotations

import json
import zoneinfo
from datetime import datetime, timezone
from typing import Any

import pytest

from sessions.manifest import Manifest, read_manifest
from sessions.stats import (
    FolderListing,
    ImageFile,
    completion_percentage,
    compute_counts,
    compute_stats,
    image_records,
    infer_seed_mode,
    is_image_name,
    session_created_at,
)
from tests.conftest import MANIFESTS, REAL_RESULTS, load_manifest, utc

UTC = timezone.utc
NS = 1_000_000_000


def manifest_of(data: dict[str, Any]) -> Manifest:
    return Manifest.model_validate_json(json.dumps(data))


def listing_for(manifest: Manifest, *, extra: list[str] = (), missing: int = 0, start_ns: int = 1_700_000_000 * NS,
                name: str = "20251107_120000-test") -> FolderListing:
    names = [entry.filename for entry in manifest.images][: len(manifest.images) - missing] + list(extra)
    files = [ImageFile(n, 100 + i, start_ns + i * NS) for i, n in enumerate(names)]
    return FolderListing(name, start_ns, files, 2000, start_ns + len(files) * NS)


def stats_of(fixture: str, **listing_options: Any):
    manifest = read_manifest(MANIFESTS / fixture)
    return compute_stats(manifest=manifest, listing=listing_for(manifest, **listing_options), tz=UTC)


def test_generation_settings_come_from_the_snapshot() -> None:
    stats = stats_of("manifest_legacy_cli_combinatorial.json")
    assert stats.sd_model == "v1-5-pruned-emaonly.safetensors [6ce0161689]"
    assert stats.sampler_name == "DPM++ 2M"
    assert stats.scheduler == "Karras"
    assert (stats.steps, stats.cfg_scale, stats.width, stats.height) == (30, 7.0, 512, 768)
    assert stats.template_version == "2.0"
    assert stats.generation_mode == "combinatorial"
    assert stats.resolved_prompt == "masterpiece, 1girl, {FacialExpression}, {Angle}, detailed face\n"
    assert stats.negative_prompt == "low quality, blurry\n"
    assert stats.manifest_generated_at == utc(2026, 11, 21, 4, 36, 1, 980150)


def test_sampler_falls_back_to_sampler_name_and_seed_base_to_seed_base() -> None:
    stats = stats_of("manifest_common_model_variant.json")
    assert stats.sampler_name == "DPM++ 2M"
    assert stats.seed_base == 42


def test_missing_settings_are_null() -> None:
    stats = compute_stats(manifest=manifest_of({}), listing=FolderListing("x", 0, []), tz=UTC)
    assert stats.sd_model is None and stats.sampler_name is None and stats.steps is None
    assert stats.seed_mode is None and stats.seed_base is None and stats.seed_min is None
    assert stats.manifest_generated_at is None and stats.first_image_created_at is None
    assert stats.placeholders == {} and stats.variations_summary == {} and stats.variations_theoretical == 1


@pytest.mark.parametrize("base", [-1, None])
def test_random_seed_base_is_null(base: int | None) -> None:
    manifest = manifest_of({"snapshot": {"generation_params": {"base_seed": base}}})
    assert compute_stats(manifest=manifest, listing=FolderListing("x", 0, []), tz=UTC).seed_base is None


def test_seed_range_and_recorded_images() -> None:
    stats = stats_of("manifest_seed_sweep.json")
    assert (stats.seed_min, stats.seed_max) == (1000, 1002)
    assert stats.images_recorded == 4


@pytest.mark.parametrize(
    ("seeds", "mode"),
    [([42, 42, 42], "fixed"), ([42, 43, 44], "progressive"), ([42, 44, 43], "random"), ([7], None), ([], None)],
)
def test_seed_mode_is_inferred_from_the_seeds(seeds: list[int], mode: str | None) -> None:
    assert infer_seed_mode(seeds) == mode


def test_seed_mode_from_the_manifest_wins_over_inference() -> None:
    # The random-seed fixture repeats one seed, which alone would read as "fixed".
    assert stats_of("manifest_random_seed.json").seed_mode == "random"


def test_seed_list_run_is_a_sweep() -> None:
    assert stats_of("manifest_seed_sweep.json").is_seed_sweep is True


def test_top_level_seed_sweep_mode_is_a_sweep() -> None:
    manifest = manifest_of({"generation_mode": "seed-sweep", "images": []})
    assert compute_stats(manifest=manifest, listing=FolderListing("x", 0, []), tz=UTC).is_seed_sweep is True


def test_rising_seeds_with_one_prompt_are_a_progressive_sweep() -> None:
    images = [{"filename": f"a_{i:04d}_seed-{seed}.png", "seed": seed, "prompt": "one prompt"}
              for i, seed in enumerate([42, 43, 44])]
    manifest = manifest_of({"images": images})
    stats = compute_stats(manifest=manifest, listing=listing_for(manifest), tz=UTC)
    assert stats.is_seed_sweep is True
    assert stats.seed_mode == "progressive"


def test_rising_seeds_with_different_prompts_are_not_a_sweep() -> None:
    # The real combinatorial run: seeds 42..45, one prompt per combination.
    assert stats_of("manifest_legacy_cli_combinatorial.json").is_seed_sweep is False
    single = manifest_of({"images": [{"filename": "a.png", "seed": 1, "prompt": "p"}]})
    assert compute_stats(manifest=single, listing=FolderListing("x", 0, []), tz=UTC).is_seed_sweep is False


def test_placeholders_and_variations() -> None:
    stats = stats_of("manifest_legacy_cli_combinatorial.json")
    assert stats.placeholders == {"FacialExpression": 2, "Angle": 2}
    assert stats.variations_summary == {
        "FacialExpression": ["smiling, cheerful expression", "sad, melancholic expression"],
        "Angle": ["front view", "side view"],
    }
    assert stats.variations_theoretical == 6


def test_variations_summary_keeps_the_first_ten() -> None:
    values = [f"v{i}" for i in range(15)]
    manifest = manifest_of({"snapshot": {"variations": {"X": {"used": values, "count": 15}}}})
    stats = compute_stats(manifest=manifest, listing=FolderListing("x", 0, []), tz=UTC)
    assert stats.variations_summary == {"X": values[:10]}
    assert stats.placeholders == {"X": 15}


def test_image_times_are_the_file_mtimes() -> None:
    stats = stats_of("manifest_legacy_cli_combinatorial.json", start_ns=1_700_000_000 * NS)
    assert stats.first_image_created_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert stats.last_image_created_at == datetime.fromtimestamp(1_700_000_003, UTC)


@pytest.mark.parametrize(
    ("generation_params", "top_level", "expected"),
    [
        ({"num_images": 10, "max_images": 7}, {"images_requested": 5}, 10),
        ({"max_images": 7}, {"images_requested": 5}, 7),
        ({}, {"images_requested": 5}, 5),
        ({}, {}, 4),
    ],
)
def test_images_expected_fallbacks(generation_params: dict, top_level: dict, expected: int) -> None:
    data = load_manifest("manifest_legacy_cli_combinatorial.json")
    data["snapshot"]["generation_params"] = generation_params
    data.update(top_level)
    manifest = manifest_of(data)
    assert compute_counts(manifest=manifest, listing=listing_for(manifest)).images_expected == expected


def test_ten_expected_and_eight_on_disk_is_eighty_percent() -> None:
    images = [{"filename": f"run_{i:04d}_seed-{i}.png", "seed": i} for i in range(10)]
    manifest = manifest_of({"snapshot": {"generation_params": {"num_images": 10}}, "images": images})
    counts = compute_counts(manifest=manifest, listing=listing_for(manifest, missing=2))
    assert (counts.images_actual, counts.images_expected, counts.completion_percentage) == (8, 10, 80.0)


@pytest.mark.parametrize(
    ("actual", "expected", "percentage"),
    [(1, 3, 33.33), (2, 3, 66.67), (12, 10, 100.0), (0, 0, 0.0), (5, 0, 0.0), (0, 4, 0.0), (3, None, None)],
)
def test_completion_percentage(actual: int, expected: int | None, percentage: float | None) -> None:
    assert completion_percentage(actual, expected) == percentage


def test_images_actual_counts_image_files_only() -> None:
    assert all(is_image_name(n) for n in ["a.png", "b.JPG", "c.jpeg", "d.webp"])
    assert not any(is_image_name(n) for n in ["manifest.json", "a.json", "notes.txt", ".png", "png"])


def test_random_seed_filenames_map_to_their_manifest_entries() -> None:
    manifest = read_manifest(REAL_RESULTS / "20261121_043627-random_test" / "manifest.json")
    records = image_records(manifest=manifest, listing=listing_for(manifest))
    assert [(r.filename, r.index, r.seed) for r in records] == [
        ("random_test_0000.png", 0, 987654321),
        ("random_test_0001.png", 1, 987654321),
    ]
    assert records[0].applied_variations == {"FacialExpression": "angry, furious expression", "Angle": "side view"}
    assert records[0].prompt.startswith("masterpiece, 1girl, angry")


def test_files_outside_the_manifest_and_entries_without_files() -> None:
    manifest = read_manifest(MANIFESTS / "manifest_legacy_cli_combinatorial.json")
    listing = listing_for(manifest, missing=1, extra=["facial_expressions_0009_seed-51.png", "loose image.png"])
    records = {r.filename: r for r in image_records(manifest=manifest, listing=listing)}
    assert records["facial_expressions_0009_seed-51.png"].index == 9
    assert records["facial_expressions_0009_seed-51.png"].seed == 51
    assert records["facial_expressions_0009_seed-51.png"].prompt is None
    assert records["loose image.png"].index is None and records["loose image.png"].exists
    gone = records["facial_expressions_0003_seed-45.png"]
    assert not gone.exists and gone.index == 3 and gone.file_size is None


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("20251107_120000-facial_expressions", utc(2025, 11, 7, 12, 0, 0)),
        ("2025-10-14_173320_hassaku_actualportrait.prompt", utc(2025, 10, 14, 17, 33, 20)),
        ("20251107_120000", utc(2025, 11, 7, 12, 0, 0)),
    ],
)
def test_created_at_from_the_folder_name(folder: str, expected: datetime) -> None:
    assert session_created_at(folder_name=folder, manifest=None, folder_mtime_ns=0, tz=UTC) == expected


def test_created_at_reads_naive_names_in_the_configured_zone() -> None:
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    created = session_created_at(folder_name="20250701_120000-x", manifest=None, folder_mtime_ns=0, tz=paris)
    assert created == utc(2025, 7, 1, 10, 0, 0)


def test_created_at_falls_back_to_the_snapshot_then_the_folder_mtime() -> None:
    manifest = manifest_of({"snapshot": {"timestamp": "2025-01-02T03:04:05Z"}})
    assert session_created_at(folder_name="my run", manifest=manifest, folder_mtime_ns=0, tz=UTC) == utc(
        2025, 1, 2, 3, 4, 5
    )
    assert session_created_at(folder_name="20251399_999999-bad", manifest=None, folder_mtime_ns=5 * NS,
                              tz=UTC) == datetime.fromtimestamp(5, UTC)
