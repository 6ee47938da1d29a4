"""The metadata blocks of PNG, JPEG and WebP files, read without decoding a single pixel.

Files are read with ``os.pread`` from one descriptor: the first 64 KiB at once (where
generators put their text), then only chunk and segment headers, seeking over image data.
A text chunk larger than ``MAX_TEXT_CHUNK`` is never read (a 50 MB chunk costs one header
read), and only the text chunks whose keyword a generator uses are read at all.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from dataclasses import dataclass, field

MAX_TEXT_CHUNK = 1024 * 1024
"""Largest text chunk (PNG tEXt/zTXt/iTXt, after decompression) or EXIF block that is read."""

_HEAD = 64 * 1024
# Walks stop after this many chunks (PNG, WebP) or JPEG segments, so that a file made of tiny
# ones cannot cost millions of reads; real files have a few thousand at most.
_MAX_CHUNKS = 100_000
_MAX_SEGMENTS = 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
# Keywords of the text chunks a generator writes; every other text chunk is skipped unread.
WANTED_KEYWORDS = frozenset({
    "parameters", "prompt", "workflow", "invokeai_metadata", "sd-metadata", "Dream",
    "Comment", "Description", "Software", "Source", "fooocus_scheme",
})
# Keywords that carry parameters themselves; once one is found, the walk stops at the image data.
_PRIMARY_KEYWORDS = frozenset({"parameters", "prompt", "invokeai_metadata", "sd-metadata", "Dream", "Comment"})
# Only whether these are there matters: their text is never read.
_PRESENCE_ONLY = frozenset({"workflow"})
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class NotAnImage(Exception):
    """The file cannot be read as a PNG, JPEG or WebP image; ``str(error)`` says why."""


@dataclass
class PngImage:
    texts: dict[str, str] = field(default_factory=dict)
    """Decoded text chunks by keyword (the first of a keyword wins; ``workflow`` is only noted)."""
    exif: bytes | None = None


@dataclass
class ExifImage:
    """A JPEG or WebP file: its EXIF block (a TIFF structure) when it has one."""

    format: str
    exif: bytes | None


class _File:
    """Reads from one descriptor: the head from memory, the rest with ``pread``."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size
        self.head = os.pread(fd, _HEAD, 0)

    def read(self, offset: int, length: int) -> bytes:
        end = offset + length
        if end <= len(self.head):
            return self.head[offset:end]
        if offset >= self.size:
            return b""
        return os.pread(self.fd, length, offset)


def read_container(path: str | os.PathLike[str]) -> PngImage | ExifImage:
    """The metadata of the image at ``path``; raises ``NotAnImage`` and nothing else."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except (OSError, ValueError) as error:
        raise NotAnImage(_os_reason(error)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotAnImage("not a regular file")
        if info.st_size == 0:
            raise NotAnImage("the file is empty")
        source = _File(fd, info.st_size)
        head = source.head
        if head.startswith(_PNG_SIGNATURE):
            return _read_png(source)
        if head.startswith(b"\xff\xd8\xff"):
            return ExifImage("JPEG", _jpeg_exif(source))
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return ExifImage("WEBP", _webp_exif(source))
        raise NotAnImage("not a PNG, JPEG or WebP image")
    except OSError as error:
        raise NotAnImage(_os_reason(error)) from None
    finally:
        os.close(fd)


def _os_reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"cannot be read: {error.strerror}"
    return f"cannot be read: {error}"


def _read_png(source: _File) -> PngImage:
    ihdr = source.read(8, 25)
    if len(ihdr) < 25 or ihdr[4:8] != b"IHDR" or struct.unpack(">I", ihdr[:4])[0] != 13:
        raise NotAnImage("a PNG without its IHDR header")
    image = PngImage()
    position = 8 + 25
    # A file cut short keeps the complete chunks before the cut.
    for _chunk in range(_MAX_CHUNKS):
        if position + 8 > source.size:
            break
        header = source.read(position, 8)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header)
        data_at = position + 8
        complete = data_at + length + 4 <= source.size
        if kind == b"IEND" or length > 0x7FFFFFFF:
            break
        if kind == b"IDAT":
            # Generators write their text before the image data; text after it (other tools
            # append some) is looked for only when none was found before.
            if not _PRIMARY_KEYWORDS.isdisjoint(image.texts):
                break
        elif kind in _TEXT_CHUNKS and complete:
            _read_text_chunk(source, kind, data_at, length, image.texts)
        elif kind == b"eXIf" and complete and image.exif is None and length <= MAX_TEXT_CHUNK:
            image.exif = source.read(data_at, length)
        position = data_at + length + 4
    return image


def _read_text_chunk(source: _File, kind: bytes, data_at: int, length: int, texts: dict[str, str]) -> None:
    start = source.read(data_at, min(length, 80))
    end_of_keyword = start.find(b"\x00")
    if end_of_keyword < 1:
        return
    keyword = start[:end_of_keyword].decode("latin-1")
    if keyword not in WANTED_KEYWORDS or keyword in texts:
        return
    if keyword in _PRESENCE_ONLY:
        texts[keyword] = ""
        return
    if length > MAX_TEXT_CHUNK:
        return
    body = source.read(data_at + end_of_keyword + 1, length - end_of_keyword - 1)
    text = _decode_text_chunk(kind, body)
    if text is not None:
        texts[keyword] = text


def _decode_text_chunk(kind: bytes, body: bytes) -> str | None:
    """The text of a chunk's body (after its keyword), or None when it cannot be decoded."""
    if kind == b"tEXt":
        return _utf8_or_latin1(body)
    if kind == b"zTXt":
        raw = _inflate(body[1:])
        return None if raw is None else _utf8_or_latin1(raw)
    # iTXt: compression flag, method, language tag, translated keyword, then UTF-8 text.
    if len(body) < 2:
        return None
    compressed = body[0] == 1
    rest = body[2:]
    parts = rest.split(b"\x00", 2)
    if len(parts) < 3:
        return None
    raw = _inflate(parts[2]) if compressed else parts[2]
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _utf8_or_latin1(raw: bytes) -> str:
    # tEXt is Latin-1 by the PNG standard, yet several tools write UTF-8 there.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _inflate(data: bytes) -> bytes | None:
    """Decompressed zlib data, None when it is broken or inflates past ``MAX_TEXT_CHUNK``."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, MAX_TEXT_CHUNK)
    except zlib.error:
        return None
    if inflater.unconsumed_tail:
        return None
    return raw


def _jpeg_exif(source: _File) -> bytes | None:
    position = 2
    # Segments up to the start of scan; metadata lives in the APPn segments before it.
    for _segment in range(_MAX_SEGMENTS):
        if position + 4 > source.size:
            return None
        marker = source.read(position, 4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return None
        kind = marker[1]
        if kind == 0xFF:
            position += 1
            continue
        if kind == 0xD8 or kind == 0x01 or 0xD0 <= kind <= 0xD7:
            position += 2
            continue
        if kind in (0xDA, 0xD9):
            return None
        length = struct.unpack(">H", marker[2:4])[0]
        if length < 2:
            return None
        if kind == 0xE1 and length > 8:
            body = source.read(position + 4, length - 2)
            if body.startswith(b"Exif\x00\x00"):
                return body[6:]
        position += 2 + length
    return None


def _webp_exif(source: _File) -> bytes | None:
    position = 12
    # Animated WebP (ComfyUI's SaveAnimatedWEBP) puts EXIF after all its frames.
    for _chunk in range(_MAX_CHUNKS):
        if position + 8 > source.size:
            return None
        header = source.read(position, 8)
        if len(header) < 8:
            return None
        kind, length = struct.unpack("<4sI", header)
        if kind == b"EXIF":
            if length > MAX_TEXT_CHUNK:
                return None
            body = source.read(position + 8, length)
            # Some writers keep JPEG's "Exif\0\0" prefix in front of the TIFF data.
            return body[6:] if body.startswith(b"Exif\x00\x00") else body
        position += 8 + length + (length & 1)
    return None
