"""Image files with embedded generation parameters, written the way each generator writes them.

All the generators concerned save through Pillow: PNG text with ``PngInfo.add_text`` (which
writes tEXt, iTXt when the text is not Latin-1, zTXt/compressed iTXt with ``zip=True``), JPEG
and WebP with an EXIF block. The raw chunk writer is for files no generator writes on purpose.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PIL import Image, PngImagePlugin

EXIF_IFD = 0x8769
USER_COMMENT = 0x9286


def save_png(path: Path, texts: dict[str, str], *, size: tuple[int, int] = (64, 96), mode: str = "RGB",
             zip: bool = False) -> Path:
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        info.add_text(key, value, zip=zip)
    Image.new(mode, size, (120, 80, 200)).save(path, format="PNG", pnginfo=info)
    return path


def user_comment_exif(comment: bytes) -> Image.Exif:
    """UserComment in the Exif IFD, where piexif.dump puts it for AUTOMATIC1111."""
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = comment
    return exif


def save_with_exif(path: Path, exif: Image.Exif, *, format: str) -> Path:
    Image.new("RGB", (64, 96), (40, 140, 90)).save(path, format=format, exif=exif.tobytes())
    return path


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def text_chunk(keyword: str, text: bytes) -> bytes:
    return chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + text)


def png_bytes(*, before_idat: list[bytes] = (), after_idat: list[bytes] = (), width: int = 16, height: int = 16,
              idat_chunks: int = 1) -> bytes:
    """A valid RGB PNG with the given chunks before and after its image data."""
    rows = (b"\x00" + b"\x80" * (width * 3)) * height
    data = zlib.compress(rows)
    step = -(-len(data) // idat_chunks)
    idats = [chunk(b"IDAT", data[at:at + step]) for at in range(0, len(data), step)]
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return (b"\x89PNG\r\n\x1a\n" + ihdr + b"".join(before_idat) + b"".join(idats) + b"".join(after_idat)
            + chunk(b"IEND", b""))
