"""The web server's log: an access log without a line per asset (a gallery page asks for its
scripts, styles and dozens of thumbnails, and a log of those hides the requests that matter),
and without granian's warning about the number of threads, which is deliberate here.

granian writes a line per request through the ``granian.access`` logger, with the request's
``path`` and ``status`` as the record's arguments; ``server_logging.json`` (what ``manage.py
serve`` gives granian) puts :class:`QuietAssets` on that logger's handler and
:class:`DeliberateThreadCount` on the handler of granian's own messages.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.urls import Resolver404, resolve

ASSET_VIEWS = frozenset({"session-image-file"})  # an image file or its thumbnail
SERVER_LOGGING = Path(__file__).with_name("server_logging.json")


def is_quiet_asset(path: str, status_code: int | None) -> bool:
    """A static file or an image answered as expected (200, 304); anything else is logged."""
    if status_code not in (200, 304):
        return False
    if path.startswith(f"/{settings.STATIC_URL.lstrip('/')}"):
        return True
    try:
        return resolve(path).url_name in ASSET_VIEWS
    except Resolver404:
        return False


class QuietAssets(logging.Filter):
    """Leaves the assets out of granian's access log (see :func:`is_quiet_asset`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = record.args
        if not isinstance(request, dict):
            return True
        return not is_quiet_asset(str(request.get("path", "")), request.get("status"))


class DeliberateThreadCount(logging.Filter):
    """Drops granian's warning that many Python threads may run: each open live stream holds
    one (``SDGEN_STREAMS_PER_PROCESS``), and a person starting ``make run`` cannot act on it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Configuration allows spawning up to")
