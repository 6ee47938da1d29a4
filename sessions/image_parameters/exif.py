"""The few EXIF fields generators write their parameters into, from a TIFF block.

- AUTOMATIC1111/Forge: Exif IFD ``UserComment`` with its 8-byte character code (piexif's
  ``UserComment.dump(text, encoding="unicode")``: ``UNICODE\\0`` then UTF-16, big-endian).
- Fooocus: ``UserComment`` in IFD0 without a character code, ``Software`` "Fooocus v…",
  ``MakerNote`` the metadata scheme (``modules/meta_parser.py``, ``get_exif``).
- ComfyUI's WebP saver: IFD0 ``Model`` = ``"prompt:" + json``, ``Make`` = ``"workflow:" + json``
  (``comfy_extras/nodes_images.py``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_USER_COMMENT = 0x9286
_MAKER_NOTE = 0x927C
_SOFTWARE = 0x0131
_MAKE = 0x010F
_MODEL = 0x0110
_EXIF_IFD = 0x8769
_WANTED = {_USER_COMMENT, _MAKER_NOTE, _SOFTWARE, _MAKE, _MODEL}
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_MAX_ENTRIES = 1024


@dataclass
class ExifFields:
    user_comment: str | None = None
    software: str | None = None
    maker_note: str | None = None
    make: str | None = None
    model: str | None = None


def read_exif(tiff: bytes) -> ExifFields:
    """The fields we use from a TIFF block; a broken block gives what could be read."""
    fields = ExifFields()
    if len(tiff) < 8:
        return fields
    if tiff[:4] == b"II*\x00":
        order = "<"
    elif tiff[:4] == b"MM\x00*":
        order = ">"
    else:
        return fields
    raw: dict[int, bytes] = {}
    first_ifd = struct.unpack(order + "I", tiff[4:8])[0]
    exif_ifd = _read_ifd(tiff, order, first_ifd, raw, follow=_EXIF_IFD)
    if exif_ifd:
        sub: dict[int, bytes] = {}
        _read_ifd(tiff, order, exif_ifd, sub, follow=None)
        # The Exif IFD is where the standard puts UserComment; it wins over IFD0.
        raw.update(sub)
    if _USER_COMMENT in raw:
        fields.user_comment = decode_user_comment(raw[_USER_COMMENT])
    fields.software = _tag_text(raw.get(_SOFTWARE))
    fields.maker_note = _tag_text(raw.get(_MAKER_NOTE))
    fields.make = _tag_text(raw.get(_MAKE))
    fields.model = _tag_text(raw.get(_MODEL))
    return fields


def _read_ifd(tiff: bytes, order: str, offset: int, out: dict[int, bytes], follow: int | None) -> int | None:
    """Put the wanted tags' raw values into ``out``; answer the offset of tag ``follow``'s IFD."""
    if offset < 8 or offset + 2 > len(tiff):
        return None
    count = struct.unpack_from(order + "H", tiff, offset)[0]
    pointer = None
    for index in range(min(count, _MAX_ENTRIES)):
        entry = offset + 2 + 12 * index
        if entry + 12 > len(tiff):
            break
        tag, kind, number = struct.unpack_from(order + "HHI", tiff, entry)
        if tag == follow and kind in (4, 13):
            pointer = struct.unpack_from(order + "I", tiff, entry + 8)[0]
        elif tag in _WANTED and kind in _TYPE_SIZES:
            size = _TYPE_SIZES[kind] * number
            if size <= 4:
                value = tiff[entry + 8:entry + 8 + size]
            else:
                at = struct.unpack_from(order + "I", tiff, entry + 8)[0]
                value = tiff[at:at + size] if at + size <= len(tiff) else b""
            if value:
                out[tag] = value
    return pointer


def decode_user_comment(raw: bytes) -> str | None:
    """An EXIF UserComment's text: the 8-byte character code says how to read the rest."""
    code, body = raw[:8], raw[8:]
    if code == b"UNICODE\x00":
        return _utf16(body)
    if code in (b"ASCII\x00\x00\x00", b"\x00" * 8, b"JIS\x00\x00\x00\x00\x00"):
        # Writers put UTF-8 behind all three in practice; text that is not UTF-8 is not read.
        return _text(body)
    # No character code at all (Fooocus writes the text straight in).
    return _text(raw)


def _utf16(body: bytes) -> str | None:
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    else:
        # piexif writes big-endian; some tools write little-endian without a byte order mark.
        # Mostly-ASCII text shows which: its zero bytes sit in the high half of each unit.
        even_zeros = body[0:200:2].count(0)
        odd_zeros = body[1:200:2].count(0)
        encoding = "utf-16-le" if odd_zeros > even_zeros else "utf-16-be"
    if len(body) % 2:
        body = body[:-1]
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        return None
    return text.rstrip("\x00").strip() or None


def _text(body: bytes) -> str | None:
    body = body.rstrip(b"\x00")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text.strip() or None


def _tag_text(raw: bytes | None) -> str | None:
    return None if raw is None else _text(raw)
