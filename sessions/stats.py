"""The stats rules of a session: pure functions from (manifest, folder listing) to values.

Nothing here touches the disk or the database; ``sessions.scanning`` produces the listing
and ``sessions.services.sync`` stores the results. Bump ``STATS_VERSION`` whenever a rule changes
so stored stats computed by older rules are recomputed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any, NamedTuple

from sessions.image_files import is_image_name
from sessions.manifest import ImageEntry, Manifest

# 2: numbers too large for a float (1e400) and nested placeholder values read as null.
# 3: folders without a manifest: stats from the parameters inside their images.
STATS_VERSION = 3

_FOLDER_DATE_PATTERNS = (
    re.compile(r"^(?P<date>\d{8})_(?P<time>\d{6})(?:[-_]|$)"),
    re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})_(?P<time>\d{6})(?:[-_.]|$)"),
)
# "<prefix>_0007_seed-1234.png" or "<prefix>_0007.png" (random seeds carry no suffix).
_FILENAME_PATTERN = re.compile(r"_(?P<index>\d+)(?:_seed-(?P<seed>-?\d+))?\.[A-Za-z0-9]+$")
_MAX_BIGINT = 2**63 - 1


class ImageFile(NamedTuple):
    """An image file in a session folder, as listed (no content read)."""

    name: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class FolderListing:
    """What a session folder holds, read in one pass over its directory."""

    name: str
    mtime_ns: int
    images: Sequence[ImageFile]
    manifest_size: int | None = None
    manifest_mtime_ns: int | None = None
    # The folder as a file system object: a renamed or moved folder keeps them.
    device: int | None = None
    inode: int | None = None

    @property
    def has_manifest(self) -> bool:
        return self.manifest_size is not None

    @property
    def last_activity_ns(self) -> int:
        """The newest change the folder shows: itself, its manifest or any image."""
        return max([self.mtime_ns, self.manifest_mtime_ns or 0, *(image.mtime_ns for image in self.images)])


@dataclass(frozen=True)
class Counts:
    images_actual: int
    images_expected: int | None
    completion_percentage: float | None


@dataclass(frozen=True)
class StatsData:
    """The manifest-derived stats of SPEC section 3 (counts are in ``Counts``)."""

    sd_model: str | None
    sampler_name: str | None
    scheduler: str | None
    steps: int | None
    cfg_scale: float | None
    width: int | None
    height: int | None
    template_version: str | None
    generation_mode: str | None
    seed_mode: str | None
    seed_base: int | None
    seed_min: int | None
    seed_max: int | None
    resolved_prompt: str | None
    negative_prompt: str | None
    images_recorded: int
    is_seed_sweep: bool
    placeholders: dict[str, int]
    variations_summary: dict[str, list[Any]]
    variations_theoretical: int | None
    manifest_generated_at: datetime | None
    first_image_created_at: datetime | None
    last_image_created_at: datetime | None
    stats_version: int = STATS_VERSION
    source: str = "manifest"  # or "images": a folder without a manifest, read from its images


class ImageRecord(NamedTuple):
    """One image of a session: a file on disk, a manifest entry, or both.

    A tuple rather than a dataclass: a first sync builds hundreds of thousands of them.
    """

    filename: str
    index: int | None  # type: ignore[assignment]  # shadows tuple.index, which nothing here calls
    seed: int | None
    prompt: str | None
    negative_prompt: str | None
    applied_variations: dict[str, Any]
    file_size: int | None = None
    mtime_ns: int | None = None
    described: bool = False  # the manifest lists it (else its own metadata may say what it is)

    @property
    def exists(self) -> bool:
        return self.file_size is not None


def completion_percentage(actual: int, expected: int | None) -> float | None:
    if expected is None:
        return None
    if expected <= 0:
        return 0.0
    return min(100.0, round(100.0 * actual / expected, 2))


def images_expected(manifest: Manifest) -> int:
    params = manifest.snapshot.generation_params
    for candidate in (params.num_images, params.max_images, manifest.images_requested):
        if candidate is not None:
            return candidate
    return len(manifest.images)


def compute_counts(*, manifest: Manifest | None, listing: FolderListing) -> Counts:
    actual = len(listing.images)
    expected = images_expected(manifest) if manifest is not None else None
    return Counts(actual, expected, completion_percentage(actual, expected))


def compute_stats(*, manifest: Manifest, listing: FolderListing, tz: tzinfo) -> StatsData:
    snapshot = manifest.snapshot
    params = snapshot.generation_params
    api = snapshot.api_params
    seeds = [image.seed for image in manifest.images if image.seed is not None]
    mtimes = [image.mtime_ns for image in listing.images]
    seed_base = params.base_seed if params.base_seed is not None else params.seed_base
    return StatsData(
        sd_model=snapshot.runtime_info.sd_model_checkpoint,
        sampler_name=api.sampler if api.sampler is not None else api.sampler_name,
        scheduler=api.scheduler,
        steps=api.steps,
        cfg_scale=api.cfg_scale,
        width=api.width,
        height=api.height,
        template_version=snapshot.version,
        generation_mode=params.mode,
        seed_mode=params.seed_mode or infer_seed_mode(seeds),
        seed_base=None if seed_base == -1 else seed_base,
        seed_min=min(seeds) if seeds else None,
        seed_max=max(seeds) if seeds else None,
        resolved_prompt=snapshot.resolved_template.prompt,
        negative_prompt=snapshot.resolved_template.negative,
        images_recorded=len(manifest.images),
        is_seed_sweep=is_seed_sweep(manifest),
        placeholders={name: len(variation.used) for name, variation in snapshot.variations.items()},
        variations_summary={name: list(variation.used[:10]) for name, variation in snapshot.variations.items()},
        variations_theoretical=variations_theoretical(manifest),
        manifest_generated_at=parse_timestamp(snapshot.timestamp, tz),
        first_image_created_at=from_ns(min(mtimes)) if mtimes else None,
        last_image_created_at=from_ns(max(mtimes)) if mtimes else None,
    )


def infer_seed_mode(seeds: Sequence[int]) -> str | None:
    """``fixed`` when all seeds are equal, ``progressive`` when each is the previous + 1."""
    if len(seeds) < 2:
        return None
    if all(seed == seeds[0] for seed in seeds):
        return "fixed"
    if _rises_by_one(seeds):
        return "progressive"
    return "random"


def is_seed_sweep(manifest: Manifest) -> bool:
    if manifest.snapshot.generation_params.seed_list is not None:
        return True
    if manifest.generation_mode == "seed-sweep":
        return True
    images = manifest.images
    if len(images) < 2 or any(image.seed is None for image in images):
        return False
    seeds = [image.seed for image in images if image.seed is not None]
    return _rises_by_one(seeds) and len({image.prompt for image in images}) == 1


def variations_theoretical(manifest: Manifest) -> int | None:
    total = math.prod(
        variation.count if variation.count is not None else max(1, len(variation.available))
        for variation in manifest.snapshot.variations.values()
    )
    # Beyond a 64-bit column the number means nothing to a user; store it as unknown.
    return total if total <= _MAX_BIGINT else None


def session_created_at(*, folder_name: str, manifest: Manifest | None, folder_mtime_ns: int, tz: tzinfo) -> datetime:
    """The run's start: from the folder name, else the manifest's timestamp, else the folder."""
    for pattern in _FOLDER_DATE_PATTERNS:
        match = pattern.match(folder_name)
        if match:
            digits = match["date"].replace("-", "") + match["time"]
            try:
                return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=tz).astimezone(timezone.utc)
            except ValueError:
                break
    if manifest is not None:
        stamp = parse_timestamp(manifest.snapshot.timestamp, tz)
        if stamp is not None:
            return stamp
    return from_ns(folder_mtime_ns)


def image_records(*, manifest: Manifest | None, listing: FolderListing) -> list[ImageRecord]:
    """Join the manifest's entries with the files on disk by file name."""
    entries: dict[str, tuple[int, ImageEntry]] = {}
    if manifest is not None:
        for position, entry in enumerate(manifest.images):
            # Later entries win: a regenerated image is recorded again under the same name.
            entries[entry.filename.replace("\\", "/").rsplit("/", 1)[-1]] = (position, entry)
    records = []
    for image in listing.images:
        found = entries.pop(image.name, None)
        records.append(_record(image.name, found, image.size, image.mtime_ns))
    for name, found in entries.items():
        # Recorded but not on disk (deleted since, or not written yet): kept only when the name
        # could be one of this folder's images, so that a manifest cannot invent rows at will.
        if is_image_name(name):
            records.append(_record(name, found, None, None))
    return records


def _record(name: str, found: tuple[int, ImageEntry] | None, size: int | None, mtime_ns: int | None) -> ImageRecord:
    if found is not None:
        position, entry = found
        return ImageRecord(name, position, entry.seed, entry.prompt, entry.negative_prompt,
                           dict(entry.applied_variations or {}), size, mtime_ns, True)
    parsed = _FILENAME_PATTERN.search(name)
    index = int(parsed["index"]) if parsed else None
    seed = int(parsed["seed"]) if parsed and parsed["seed"] is not None else None
    return ImageRecord(name, index, seed, None, None, {}, size, mtime_ns)


def parse_timestamp(value: str | None, tz: tzinfo) -> datetime | None:
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(timezone.utc)


def from_ns(mtime_ns: int) -> datetime:
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=timezone.utc)


def _rises_by_one(seeds: Sequence[int]) -> bool:
    return all(later == earlier + 1 for earlier, later in zip(seeds, seeds[1:]))


class ImageFacts(NamedTuple):
    """What one image says about how it was made (its own metadata), for image-derived stats."""

    prompt: str | None
    negative_prompt: str | None
    seed: int | None
    params: Mapping[str, Any]
    mtime_ns: int | None


def stats_from_images(images: Sequence[ImageFacts]) -> StatsData | None:
    """Stats of a folder without a manifest, from the parameters inside its images (SPEC section
    3): the most common value of each setting, the seed range, and the seed sweep and seed mode
    by the manifest's rules. None when no image says anything."""
    said = [image for image in images
            if image.prompt or image.seed is not None or any(value is not None for value in image.params.values())]
    if not said:
        return None
    seeds = [image.seed for image in said if image.seed is not None]
    prompts = {image.prompt for image in said}
    mtimes = [image.mtime_ns for image in images if image.mtime_ns is not None]
    sweep = len(seeds) >= 2 and len(seeds) == len(said) and _rises_by_one(seeds) and len(prompts) == 1
    return StatsData(
        sd_model=_most_common(image.params.get("sd_model") for image in said),
        sampler_name=_most_common(image.params.get("sampler_name") for image in said),
        scheduler=_most_common(image.params.get("scheduler") for image in said),
        steps=_most_common(image.params.get("steps") for image in said),
        cfg_scale=_most_common(image.params.get("cfg_scale") for image in said),
        width=_most_common(image.params.get("width") for image in said),
        height=_most_common(image.params.get("height") for image in said),
        template_version=None,
        generation_mode=None,
        seed_mode=infer_seed_mode(seeds),
        seed_base=None,
        seed_min=min(seeds) if seeds else None,
        seed_max=max(seeds) if seeds else None,
        resolved_prompt=_most_common(image.prompt for image in said),
        negative_prompt=_most_common(image.negative_prompt for image in said),
        images_recorded=0,
        is_seed_sweep=sweep,
        placeholders={},
        variations_summary={},
        variations_theoretical=None,
        manifest_generated_at=None,
        first_image_created_at=from_ns(min(mtimes)) if mtimes else None,
        last_image_created_at=from_ns(max(mtimes)) if mtimes else None,
        source="images",
    )


def _most_common(values: Iterable[Any]) -> Any:
    """The value given most often (the first one seen among equals); None when none is given."""
    counts = Counter(value for value in values if value is not None)
    return max(counts, key=counts.__getitem__) if counts else None
