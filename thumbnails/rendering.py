"""Rendering one WebP thumbnail (SPEC section 7) of a PNG, JPEG or WebP image. Runs in worker processes.

Nothing here imports Django: the pool's workers start with ``spawn`` and import only this
module and Pillow.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
import time
import warnings
from dataclasses import dataclass
from enum import Enum

from PIL import Image, ImageOps

from thumbnails import failures, memory

# Every PNG ends with this chunk: without it the file is still being written (or truncated).
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A JPEG ends with its End Of Image marker; a WebP's RIFF header gives its whole length.
JPEG_SIGNATURE = b"\xff\xd8\xff"
JPEG_END = b"\xff\xd9"
RIFF_SIGNATURE, WEBP_FORM = b"RIFF", b"WEBP"
# What Pillow may take each source for, by extension: a file is decoded as what it says it is.
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
ENDS = {"PNG": "end chunk", "JPEG": "end marker", "WEBP": "end of the length its header gives"}
# 20000 x 20000 = 400 million pixels; even 100 million would take about a gigabyte to decode.
MAX_PIXELS = 64_000_000
# WebP cannot store more than 16383 pixels on a side: a thumbnail wider than that is refused
# before anything is decoded (a 2000x1 strip would otherwise become 480000x240).
MAX_SIDE = 16_383
# A source still without its end (PNG end chunk, JPEG end marker, WebP length) this many seconds after its last change is truncated, not
# being written: it fails (and is remembered) instead of counting as "still being written".
TRUNCATED_AFTER = 120.0
# Thumbnails of at least this many source pixels leave hundreds of megabytes behind in the
# C allocator; they are handed back to the system after the render.
RELEASE_AFTER_PIXELS = 4_000_000


class Status(str, Enum):
    RENDERED = "rendered"
    UP_TO_DATE = "up_to_date"  # an existing thumbnail is newer than its source
    INCOMPLETE = "incomplete"  # the image is still being written: try again when it changes
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
    # The thumbnail's place in the local folder; its failure record goes beside it.
    target: str
    settings: ThumbnailSettings
    # Set when the thumbnails live in another storage (see ``thumbnails.storage``): the WebP is
    # handed back in the outcome, for the caller to store under this name, not written to ``target``.
    store_as: str = ""


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
    data: bytes | None = None  # the WebP, for a job with ``store_as``


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
        # In another storage the caller looked already (it listed the session, or asked for the one file).
        if not job.store_as and os.stat(job.target).st_mtime_ns > source_stat.st_mtime_ns:
            return None, Outcome(job, Status.UP_TO_DATE, source_stamp=stamp)
    except OSError:
        pass
    reason = failures.recalled(job.target, newer_than_ns=source_stat.st_mtime_ns)
    if reason is not None:
        return None, Outcome(job, Status.FAILED, reason, stamp, recorded=True, remembered=True)
    return source_stat, None


def _render(job: Job, source_stat: os.stat_result) -> Outcome:
    stamp = (source_stat.st_size, source_stat.st_mtime_ns)
    decoded = [0]  # the pixels decoding was started for (known before it fails, if it fails)
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
            kind = FORMATS.get(os.path.splitext(job.source)[1].lower(), "PNG")
            if not _whole(handle, opened.st_size, kind):
                if time.time() - opened.st_mtime_ns / 1e9 < TRUNCATED_AFTER:
                    return Outcome(job, Status.INCOMPLETE, f"the {kind} is not complete yet", stamp)
                raise _Refused(f"the {kind} is truncated (no {ENDS[kind]} {TRUNCATED_AFTER:.0f}s after its last change)")
            picture = _thumbnail(handle, job.settings, kind, decoded)
    except _Refused as exc:
        return _fail(job, str(exc), stamp)
    except PermissionError:
        return Outcome(job, Status.FAILED, "cannot read the image: permission denied", stamp)
    except MemoryError:
        return Outcome(job, Status.FAILED, "not enough memory to decode the image", stamp)
    except Exception as exc:  # Pillow raises many kinds for a corrupt file; none may escape
        return _fail(job, f"cannot decode the image: {exc}", stamp)
    finally:
        if RELEASE_AFTER_PIXELS <= decoded[0] <= MAX_PIXELS:  # only what was decoded
            memory.release()
    data = None
    try:
        if job.store_as:
            data = _encode(picture, job.settings)
        else:
            _write_atomically(picture, job.target, job.settings)
    except OSError as exc:
        return Outcome(job, Status.FAILED, f"cannot write the thumbnail: {exc.strerror or exc}", stamp)
    except Exception as exc:
        return _fail(job, f"cannot encode the thumbnail: {exc}", stamp)
    failures.forget(job.target)
    return Outcome(job, Status.RENDERED, source_stamp=stamp, data=data)


def _fail(job: Job, reason: str, stamp: tuple[int, int]) -> Outcome:
    """A failure that stays until the source changes: recorded, so it costs a ``stat`` next time."""
    return Outcome(job, Status.FAILED, reason, stamp, recorded=failures.remember(job.target, reason))


def _whole(handle, size: int, kind: str) -> bool:
    """Whether the file is all there: a generator may still be writing it. Refused when it is
    not the kind of image its name says."""
    head = handle.read(12)
    try:
        if kind == "PNG":
            if len(head) >= len(PNG_SIGNATURE) and not head.startswith(PNG_SIGNATURE):
                raise _Refused("not a PNG file")
            if size < len(PNG_SIGNATURE) + len(PNG_END):
                return False
            handle.seek(size - len(PNG_END))
            return handle.read(len(PNG_END)) == PNG_END
        if kind == "JPEG":
            if len(head) >= len(JPEG_SIGNATURE) and not head.startswith(JPEG_SIGNATURE):
                raise _Refused("not a JPEG file")
            if size < len(JPEG_SIGNATURE) + len(JPEG_END):
                return False
            # Some cameras and editors append bytes after the end marker: look a little way back.
            tail_size = min(size, 4096)
            handle.seek(size - tail_size)
            return JPEG_END in handle.read(tail_size)
        if len(head) == 12 and not (head.startswith(RIFF_SIGNATURE) and head[8:12] == WEBP_FORM):
            raise _Refused("not a WebP file")
        return len(head) == 12 and size >= int.from_bytes(head[4:8], "little") + 8
    finally:
        handle.seek(0)


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


# EXIF orientations that turn the picture a quarter: its width and height trade places.
QUARTER_TURNS = {5, 6, 7, 8}
EXIF_ORIENTATION = 0x0112


def _thumbnail(handle, settings: ThumbnailSettings, kind: str = "PNG", decoded: list[int] | None = None) -> Image.Image:
    """The thumbnail; ``decoded[0]`` says how many pixels were decoded for it. The size limits
    are checked from the header, before any pixel is decoded, whatever the format."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(handle, formats=[kind]) as image:
            width, height = image.size
            orientation = image.getexif().get(EXIF_ORIENTATION, 1) if kind == "JPEG" else 1
            upright = (height, width) if orientation in QUARTER_TURNS else (width, height)
            size = thumbnail_size(*upright, settings)
            if kind == "JPEG":
                # A JPEG can be decoded at 1/2, 1/4 or 1/8 of its size: no bigger than the thumbnail needs.
                image.draft("RGB", size if orientation not in QUARTER_TURNS else size[::-1])
            if decoded is not None:
                decoded[0] = image.size[0] * image.size[1]
            image.load()
            picture = ImageOps.exif_transpose(image) if orientation != 1 else image
            picture = _flatten(picture)
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


def _encode(picture: Image.Image, settings: ThumbnailSettings) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="WEBP", quality=settings.quality, method=settings.method)
    return buffer.getvalue()


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
