"""Reading the generator's ``manifest.json``.

The model is lenient where the generator's output has varied over time (unknown keys are
kept and ignored, missing keys take defaults, cosmetic values of the wrong type read as
null) and strict on what the library relies on: the image list, seeds, image counts,
variations and the run status. Anything unusable raises ``ManifestError`` with a message a
user can act on; callers keep their last good data when that happens.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
# Memory grows with the entries, not the bytes (about 1.4 kB each once read and synced): beyond
# this many a manifest is refused like any other unusable one. Real runs stay far below.
MAX_MANIFEST_IMAGES = 100_000
# A NUL character, escaped in JSON text: no database column can hold one (PostgreSQL refuses it).
# Matched only when its backslash is not itself escaped ("\\u0000" is the text "\u0000").
_ESCAPED_NUL = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")

ManifestStatus = Literal["ongoing", "completed", "aborted"]
# Statuses written before the field existed, or by older generator versions.
_STATUS_ALIASES = {None: "ongoing", "in_progress": "ongoing"}


class ManifestError(Exception):
    """The manifest cannot be used; ``str(error)`` says why, for ``sync_error``."""


def _none_on_error(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


def _none_as_empty(value: Any) -> Any:
    return {} if value is None else value


def _finite(value: Any) -> Any:
    # 1e400 is valid JSON and reads as infinity, which no JSON answer can carry: unknown.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _plain_value(value: Any) -> Any:
    """A placeholder value as shown to users: text, a number or a boolean; anything else
    (nested lists and objects, infinities) is unknown."""
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return _finite(value)
    return None


def _text(value: Any) -> Any:
    # Versions and model names are sometimes written as numbers ("version": 2.0).
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


# A value only shown to users: a wrong type reads as null instead of rejecting the manifest.
Cosmetic = WrapValidator(_none_on_error)
Text = Annotated[str | None, BeforeValidator(_text), Cosmetic]
LenientInt = Annotated[int | None, Cosmetic]
LenientFloat = Annotated[float | None, AfterValidator(_finite), Cosmetic]
PlainValues = Annotated[list[Any], BeforeValidator(lambda v: [] if v is None else v),
                        AfterValidator(lambda values: [_plain_value(value) for value in values])]
# Values the library computes with: wrong types are an error, never coerced ("4" is not 4).
Count = Annotated[int, Strict(), Field(ge=0)]
Seed = Annotated[int, Strict()]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ImageEntry(_Lenient):
    # Plain types checked in pydantic's core: a manifest holds thousands of these.
    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)

    filename: Annotated[str, Field(min_length=1)]
    seed: Seed | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    # Values are text (numbers are converted) since the API's filter matches them as text.
    applied_variations: dict[str, str | None] | None = None


class Variation(_Lenient):
    available: PlainValues = []
    used: PlainValues = []
    count: Count | None = None


class GenerationParams(_Lenient):
    mode: Text = None
    seed_mode: Text = None
    base_seed: Seed | None = None
    seed_base: Seed | None = None
    num_images: Count | None = None
    max_images: Count | None = None
    seed_list: list[Seed] | None = None


class ApiParams(_Lenient):
    sampler: Text = None
    sampler_name: Text = None
    scheduler: Text = None
    steps: LenientInt = None
    cfg_scale: LenientFloat = None
    width: LenientInt = None
    height: LenientInt = None


class RuntimeInfo(_Lenient):
    sd_model_checkpoint: Text = None


class ResolvedTemplate(_Lenient):
    prompt: Text = None
    negative: Text = None


class Snapshot(_Lenient):
    version: Text = None
    timestamp: Text = None
    runtime_info: Annotated[RuntimeInfo, BeforeValidator(_none_as_empty)] = RuntimeInfo()
    resolved_template: Annotated[ResolvedTemplate, BeforeValidator(_none_as_empty)] = ResolvedTemplate()
    generation_params: Annotated[GenerationParams, BeforeValidator(_none_as_empty)] = GenerationParams()
    api_params: Annotated[ApiParams, BeforeValidator(_none_as_empty)] = ApiParams()
    variations: Annotated[dict[str, Variation], BeforeValidator(_none_as_empty)] = {}


class Manifest(_Lenient):
    snapshot: Annotated[Snapshot, BeforeValidator(_none_as_empty)] = Snapshot()
    images: Annotated[list[ImageEntry], Field(max_length=MAX_MANIFEST_IMAGES)] = []
    status: ManifestStatus = "ongoing"
    images_requested: Count | None = None
    generation_mode: Text = None

    @field_validator("status", mode="before")
    @classmethod
    def _legacy_status(cls, value: Any) -> Any:
        if isinstance(value, str) or value is None:
            return _STATUS_ALIASES.get(value, value)
        return value


def parse_manifest(data: bytes, *, source: str = MANIFEST_NAME) -> Manifest:
    """Parse manifest bytes, raising ``ManifestError`` with a user-facing reason. ``source``
    names the file in the log."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(_too_large(len(data)))
    if not data.strip():
        raise ManifestError(f"{MANIFEST_NAME} is empty (it may be in the middle of a rewrite)")
    # Counted in the bytes (a fast scan) before anything is built: a manifest of millions of
    # entries is refused without the gigabytes reading it would take.
    entries = data.count(b'"filename"')
    if entries > MAX_MANIFEST_IMAGES:
        raise ManifestError(f"{MANIFEST_NAME} lists about {entries:,} images, over the {MAX_MANIFEST_IMAGES:,} "
                            "limit; it was not read")
    if b"\\u0000" in data:
        data, dropped = _ESCAPED_NUL.subn(rb"\1", data)
        if dropped:
            logger.warning("%s: %d NUL characters dropped from its text (no database can store them)",
                           source, dropped)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{MANIFEST_NAME} is not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        return Manifest.model_validate_json(text)
    except ValidationError as exc:
        raise ManifestError(_describe(exc)) from None


def read_manifest(path: Path) -> Manifest:
    """Read and parse the manifest at ``path`` without loading an oversized file."""
    return read_manifest_file(path)[0]


def read_manifest_file(path: Path) -> tuple[Manifest, str]:
    """The manifest at ``path`` and the SHA-1 of its bytes (what a copy of the folder shares)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_MANIFEST_BYTES:
                raise ManifestError(_too_large(size))
            # Read one byte past the limit: the file may have grown since fstat.
            data = handle.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise ManifestError(f"{MANIFEST_NAME} disappeared while being read") from None
    except PermissionError:
        raise ManifestError(f"{MANIFEST_NAME} cannot be read: permission denied") from None
    except OSError as exc:
        raise ManifestError(f"{MANIFEST_NAME} cannot be read: {exc.strerror or exc}") from None
    return parse_manifest(data, source=str(path)), hashlib.sha1(data).hexdigest()


def _too_large(size: int) -> str:
    return (
        f"{MANIFEST_NAME} is {size / (1024 * 1024):.1f} MiB, over the "
        f"{MAX_MANIFEST_BYTES // (1024 * 1024)} MiB limit; it was not read"
    )


def _describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        detail = first.get("ctx", {}).get("error", first["msg"])
        hint = " (truncated, or in the middle of a rewrite?)" if "EOF" in str(detail) else ""
        return f"{MANIFEST_NAME} is not valid JSON: {detail}{hint}"
    if first["type"] == "model_type" and not first["loc"]:
        return f"{MANIFEST_NAME} must hold a JSON object at the top level"
    parts = []
    for error in errors[:5]:
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"{MANIFEST_NAME} has unusable values: " + "; ".join(parts) + more
