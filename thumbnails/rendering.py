"""Rendering one WebP thumbnail (SPEC section 7). Runs in worker processes.

Nothing here imports Django: the pool's workers start with ``spawn`` and import only this
module and Pillow.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from enum import Enum

from PIL import Image

# Every PNG ends with this chunk: without it the file is still being written (or truncated).
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# 20000 x 20000 = 400 million pixels; even 100 million would take about a gigabyte to decode.
MAX_PIXELS = 64_000_000


class Status(str, Enum):
    RENDERED = "rendered"
    UP_TO_DATE = "up_to_date"  # an existing thumbnail is newer than its source
    INCOMPLETE = "incomplete"  # the PNG is still being written: try again when it changes
    FAILED = "failed"  # unreadable, corrupt or too large: try again when it changes
    REMOVED = "removed"  # the source is gone, and so is its thumbnail


@dataclass(frozen=True)
class ThumbnailSettings:
    height: int = 240
    quality: int = 85
    method: int = 6


@dataclass(frozen=True)
class Job:
    source: str
    target: str
    settings: ThumbnailSettings


@dataclass(frozen=True)
class Outcome:
    job: Job
    status: Status
    error: str = ""
    # The source's (size, mtime_ns) when it was looked at: a failure is retried once it differs.
    source_stamp: tuple[int, int] | None = None


def render(job: Job) -> Outcome:
    """Render ``job.source`` into ``job.target`` unless the thumbnail is already newer.

    Never raises for a bad source: the outcome says what happened.
    """
    try:
        source_stat = os.stat(job.source)
    except FileNotFoundError:
        _remove(job.target)
        return Outcome(job, Status.REMOVED)
    except OSError as exc:
        return Outcome(job, Status.FAILED, f"cannot read the image: {exc.strerror or exc}")
    stamp = (source_stat.st_size, source_stat.st_mtime_ns)
    try:
        if os.stat(job.target).st_mtime_ns > source_stat.st_mtime_ns:
            return Outcome(job, Status.UP_TO_DATE, source_stamp=stamp)
    except FileNotFoundError:
        pass
    try:
        with open(job.source, "rb") as handle:
            if not _is_whole_png(handle, source_stat.st_size):
                return Outcome(job, Status.INCOMPLETE, "the PNG is not complete yet", stamp)
            picture = _thumbnail(handle, job.settings)
    except PermissionError:
        return Outcome(job, Status.FAILED, "cannot read the image: permission denied", stamp)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return Outcome(job, Status.FAILED, f"cannot decode the image: {exc}", stamp)
    try:
        _write_atomically(picture, job.target, job.settings)
    except OSError as exc:
        return Outcome(job, Status.FAILED, f"cannot write the thumbnail: {exc.strerror or exc}", stamp)
    return Outcome(job, Status.RENDERED, source_stamp=stamp)


def _is_whole_png(handle, size: int) -> bool:
    if size < len(PNG_SIGNATURE) + len(PNG_END):
        return False
    if handle.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
        raise ValueError("not a PNG file")
    handle.seek(size - len(PNG_END))
    whole = handle.read(len(PNG_END)) == PNG_END
    handle.seek(0)
    return whole


def _thumbnail(handle, settings: ThumbnailSettings) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(handle, formats=["PNG"]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise Image.DecompressionBombError(
                    f"{width}x{height} is over the {MAX_PIXELS // 1_000_000} megapixel limit")
            picture = _flatten(image)
            target_width = max(1, round(width * settings.height / height))
            # reducing_gap shrinks by whole factors first: the same result for a fraction of the work.
            return picture.resize((target_width, settings.height), Image.Resampling.LANCZOS, reducing_gap=2.0)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB; transparency (P, RGBA, LA and friends) goes onto white."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or image.mode.endswith("A"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _write_atomically(picture: Image.Image, target: str, settings: ThumbnailSettings) -> None:
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    # A temporary file in the same folder, renamed into place: a crash never leaves half a .webp.
    fd, temporary = tempfile.mkstemp(prefix=".", suffix=".webp.tmp", dir=folder)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; the web server reads it
        with os.fdopen(fd, "wb") as handle:
            picture.save(handle, format="WEBP", quality=settings.quality, method=settings.method)
        os.replace(temporary, target)
    except BaseException:
        _remove(temporary)
        raise


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
