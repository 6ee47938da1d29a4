"""The URLs the app hands out, built from the URL conf (never by hand).

``reverse()`` costs tens of microseconds; a page of 500 images hands out a thousand URLs, so
each pattern is reversed once, with markers, and filled in per item.
"""

from __future__ import annotations

from functools import cache
from urllib.parse import quote

from django.urls import reverse

_MARKERS = {"name": "NAME-MARKER", "filename": "FILE-MARKER"}


@cache
def _image_url_parts() -> tuple[str, str, str]:
    url = reverse("session-image-file", kwargs={"name": _MARKERS["name"], "filename": _MARKERS["filename"]})
    before, rest = url.split(_MARKERS["name"])
    middle, after = rest.split(_MARKERS["filename"])
    return before, middle, after


def image_url(session_name: str, filename: str, *, thumbnail: bool = False) -> str:
    """An image file of a session, or (``thumbnail``) its WebP thumbnail."""
    before, middle, after = _image_url_parts()
    url = f"{before}{quote(session_name, safe='')}{middle}{quote(filename, safe='')}{after}"
    return url + "?thumbnail=1" if thumbnail else url


def session_images_url(session_name: str) -> str:
    return reverse("session-images", kwargs={"name": session_name})
