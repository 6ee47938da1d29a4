"""Which files are images, and which of them get thumbnails: the one rule, for the sync, the
API, the admin and the thumbnail app alike."""

from __future__ import annotations

from collections.abc import Iterable

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp"})
# Every image gets a thumbnail (SPEC section 7): other generators write JPEG and WebP.
THUMBNAIL_SOURCE_EXTENSIONS = IMAGE_EXTENSIONS


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def is_image_name(name: str) -> bool:
    return _extension(name) in IMAGE_EXTENSIONS


def is_thumbnail_source(name: str) -> bool:
    return _extension(name) in THUMBNAIL_SOURCE_EXTENSIONS


def cover_image(images: Iterable[tuple[str, int | None, bool]]) -> str | None:
    """The image that stands for a session: the first on disk that has a thumbnail, by index
    then name. ``images``: (filename, index, exists on disk)."""
    candidates = [(index is None, index or 0, name) for name, index, exists in images
                  if exists and is_thumbnail_source(name)]
    return min(candidates)[2] if candidates else None
