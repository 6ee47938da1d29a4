"""gunicorn's access log without a line per asset: a gallery page asks for its scripts, styles and
dozens of thumbnails, and a log of those hides the requests that matter."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import Resolver404, resolve
from gunicorn.glogging import Logger

ASSET_VIEWS = frozenset({"session-image-file"})  # an image file or its thumbnail


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


class QuietAssetsLogger(Logger):
    """``gunicorn --logger-class sdgen_site.access_log.QuietAssetsLogger``."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if is_quiet_asset(environ.get("PATH_INFO", ""), getattr(resp, "status_code", None)):
            return
        super().access(resp, req, environ, request_time)
