"""The server's access log leaves out assets answered as expected, and keeps everything else."""

from __future__ import annotations

import pytest

from sdgen_site.access_log import is_quiet_asset


@pytest.mark.parametrize(("path", "status", "quiet"), [
    ("/static/gallery/js/main.js", 200, True),
    ("/static/admin/css/base.css", 304, True),
    ("/api/sessions/run/images/a.png", 200, True),
    ("/api/sessions/run/images/a.png", 304, True),
    ("/static/gallery/js/missing.js", 404, False),
    ("/api/sessions/run/images/a.png", 503, False),
    ("/api/sessions/", 200, False),
    ("/", 200, False),
    ("/admin/login/", 200, False),
])
def test_which_requests_are_left_out(path: str, status: int, quiet: bool) -> None:
    assert is_quiet_asset(path, status) is quiet
