"""Rendering one WebP thumbnail (SPEC section 7). Runs in worker processes.

Nothing here imports Django: the pool's workers start with ``spawn`` and import only this
module and Pillow.
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
import warnings
from dataclasses import dataclass
from enum import Enum

from PIL import Image

from thumbnails import failures, memory

# Every PNG ends with this chunk: without it the file is still being written (or truncated).
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# 20000 x 20000 = 400 million pixels; even 100 million would take about a gigabyte to decode.
MAX_PIXELS = 64_000_000
# WebP cannot store more than 16383 pixels on a side: a thumbnail wider than that is refused
# before anything is decoded (a 2000x1 strip would otherwise become 480000x240).
MAX_SIDE = 16_383
# A PNG still without its end chunk this many seconds after its last change is truncated, not
# being written: it fails (and is remembered) instead of counting as "still being written".
TRUNCATED_AFTER = 120.0
# Thumbnails of at least this many source pixels leave hundreds of megabytes behind in the
# C allocator; they are handed back to the system after the render.
RELEASE_AFTER_PIXELS = 4_000_000


class Status(str, Enum):
    RENDERED = "rendered"
    UP_TO_DATE = "up_to_date"  # an existing thumbnail is newer than its source
    INCOMPLETE = "incomplete"  # the PNG is still being written: try again when it changes
    FAILED = "failed"  # unreadable, corrupt or too large: try again when it changes
    REMOVED = "removed"  # the source is gone, and so is its thumbnail
    BUSY = "busy"  # another render of the same thumbnail did not finish in time: try again shortly


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
    # The failure is on record beside the thumbnail's place (see ``failures``): it stays until
    # the source changes. ``remembered``: found there from an earlier attempt, nothing decoded.
    recorded: bool = False
    remembered: bool = False


class _Refused(Exception):
    """The source cannot have a thumbnail as it is; the message says why. Remembered."""


def render(job: Job) -> Outcome:
    """Render ``job.source`` into ``job.target`` unless the thumbnail is already newer.

    Never raises for a bad source: the outcome says what happened. A source that cannot have
    a thumbnail leaves a failure record beside where the thumbnail would be, so that the same
    file is not decoded again until it changes.
    """
    source_stat, outcome = examine(job)
    if outcome is not None:
        return outcome
    assert source_stat is not None  # examine gives one or the other
    return _render(job, source_stat)


def examine(job: Job) -> tuple[os.stat_result | None, Outcome | None]:
    """The cheap part: ``stat`` calls only. Returns an outcome when no rendering is needed
    (source gone, not a regular file, thumbnail up to date, failure remembered)."""
    try:
        source_stat = os.stat(job.source)
    except FileNotFoundError:
        _remove(job.target)
        failures.forget(job.target)
        return None, Outcome(job, Status.REMOVED)
    except OSError as exc:
        return None, Outcome(job, Status.FAILED, f"cannot read the image: {exc.strerror or exc}")
    stamp = (source_stat.st_size, source_stat.st_mtime_ns)
    if not stat.S_ISREG(source_stat.st_mode):
        # A FIFO or a device named *.png: opening it could block a worker for ever.
        return None, _fail(job, "not a regular file", stamp)
    try:
        if os.stat(job.target).st_mtime_ns > source_stat.st_mtime_ns:
            return None, Outcome(job, Status.UP_TO_DATE, source_stamp=stamp)
    except OSError:
        pass
    reason = failures.recalled(job.target, newer_than_ns=source_stat.st_mtime_ns)
    if reason is not None:
        return None, Outcome(job, Status.FAILED, reason, stamp, recorded=True, remembered=True)
    return source_stat, None


def _render(job: Job, source_stat: os.stat_result) -> Outcome:
    stamp = (source_stat.st_size, source_stat.st_mtime_ns)
    pixels = 0
    try:
        # O_NONBLOCK: if the file was swapped for a FIFO since the stat, open() still returns.
        fd = os.open(job.source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except PermissionError:
        return Outcome(job, Status.FAILED, "cannot read the image: permission denied", stamp)
    except OSError as exc:
        return Outcome(job, Status.FAILED, f"cannot read the image: {exc.strerror or exc}", stamp)
    try:
        with open(fd, "rb") as handle:
            opened = os.fstat(handle.fileno())
            if not stat.S_ISREG(opened.st_mode):
                raise _Refused("not a regular file")
            whole, pixels = _png_header(handle, opened.st_size)
            if not whole:
                if time.time() - opened.st_mtime_ns / 1e9 < TRUNCATED_AFTER:
                    return Outcome(job, Status.INCOMPLETE, "the PNG is not complete yet", stamp)
                raise _Refused(f"the PNG is truncated (no end chunk {TRUNCATED_AFTER:.0f}s after its last change)")
            picture = _thumbnail(handle, job.settings)
    except _Refused as exc:
        return _fail(job, str(exc), stamp)
    except PermissionError:
        return Outcome(job, Status.FAILED, "cannot read the image: permission denied", stamp)
    except MemoryError:
        return Outcome(job, Status.FAILED, "not enough memory to decode the image", stamp)
    except Exception as exc:  # Pillow raises many kinds for a corrupt file; none may escape
        return _fail(job, f"cannot decode the image: {exc}", stamp)
    finally:
        if RELEASE_AFTER_PIXELS <= pixels <= MAX_PIXELS:  # only what was decoded
            memory.release()
    try:
        _write_atomically(picture, job.target, job.settings)
    except OSError as exc:
        return Outcome(job, Status.FAILED, f"cannot write the thumbnail: {exc.strerror or exc}", stamp)
    except Exception as exc:
        return _fail(job, f"cannot encode the thumbnail: {exc}", stamp)
    failures.forget(job.target)
    return Outcome(job, Status.RENDERED, source_stamp=stamp)


def _fail(job: Job, reason: str, stamp: tuple[int, int]) -> Outcome:
    """A failure that stays until the source changes: recorded, so it costs a ``stat`` next time."""
    return Outcome(job, Status.FAILED, reason, stamp, recorded=failures.remember(job.target, reason))


def _png_header(handle, size: int) -> tuple[bool, int]:
    """(whether the PNG is whole, the pixels its header claims)."""
    if size < len(PNG_SIGNATURE) + len(PNG_END):
        return False, 0
    head = handle.read(24)
    if not head.startswith(PNG_SIGNATURE):
        raise _Refused("not a PNG file")
    pixels = int.from_bytes(head[16:20], "big") * int.from_bytes(head[20:24], "big") if len(head) == 24 else 0
    handle.seek(size - len(PNG_END))
    whole = handle.read(len(PNG_END)) == PNG_END
    handle.seek(0)
    return whole, pixels


def thumbnail_size(width: int, height: int, settings: ThumbnailSettings) -> tuple[int, int]:
    """The thumbnail's size for a ``width`` x ``height`` source; refused when it cannot be made
    within the limits (checked from the header, before any pixel is decoded)."""
    if width * height > MAX_PIXELS:
        raise _Refused(f"{width}x{height} is over the {MAX_PIXELS // 1_000_000} megapixel limit")
    target_width = max(1, round(width * settings.height / height))
    if target_width > MAX_SIDE:
        raise _Refused(f"{width}x{height} is too wide for a thumbnail {settings.height} px high "
                       f"(it would be {target_width} px wide; WebP allows {MAX_SIDE})")
    return target_width, settings.height


def _thumbnail(handle, settings: ThumbnailSettings) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(handle, formats=["PNG"]) as image:
            width, height = image.size
            size = thumbnail_size(width, height, settings)
            picture = _flatten(image)
            # reducing_gap shrinks by whole factors first: the same result for a fraction of the work.
            return picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


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


# The temporary file a worker is writing, for its SIGTERM handler (thumbnails.pool) to remove.
current_temporary: str | None = None


def temporary_prefix() -> str:
    """Hidden, with the writer's process id: another process can tell a stale one (its writer
    is gone) from one being written (see ``failures.is_stale_temporary``)."""
    return f".{os.getpid()}-"


def _write_atomically(picture: Image.Image, target: str, settings: ThumbnailSettings) -> None:
    global current_temporary
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    # A temporary file in the same folder, renamed into place: a crash never leaves half a .webp.
    fd, temporary = tempfile.mkstemp(prefix=temporary_prefix(), suffix=failures.TEMPORARY_SUFFIX, dir=folder)
    current_temporary = temporary
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; the web server reads it
        with os.fdopen(fd, "wb") as handle:
            picture.save(handle, format="WEBP", quality=settings.quality, method=settings.method)
        os.replace(temporary, target)
    except BaseException:
        _remove(temporary)
        raise
    finally:
        current_temporary = None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
