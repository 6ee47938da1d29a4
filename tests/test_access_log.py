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


def test_the_servers_logging_config_leaves_assets_out_of_its_access_log() -> None:
    import json
    import logging

    from sdgen_site.access_log import SERVER_LOGGING, QuietAssets

    config = json.loads(SERVER_LOGGING.read_text())
    assert config["handlers"]["access"]["filters"] == ["quiet_assets"]
    assert config["filters"]["quiet_assets"]["()"] == "sdgen_site.access_log.QuietAssets"
    quiet = QuietAssets()

    def line(path: str, status: int) -> logging.LogRecord:  # as granian logs a request
        return logging.LogRecord("granian.access", logging.INFO, "", 0, '"GET %(path)s" %(status)d',
                                 ({"path": path, "status": status},), None)

    assert not quiet.filter(line("/static/gallery/js/main.js", 200))
    assert quiet.filter(line("/api/sessions/", 200)) and quiet.filter(line("/static/x.js", 404))
    assert line("/api/sessions/", 200).getMessage() == '"GET /api/sessions/" 200'


def test_granians_warning_about_many_threads_is_left_out_and_its_other_messages_kept() -> None:
    import logging

    from sdgen_site.access_log import DeliberateThreadCount

    def message(text: str) -> logging.LogRecord:
        return logging.LogRecord("_granian", logging.WARNING, "", 0, text, (), None)

    deliberate = DeliberateThreadCount()
    assert not deliberate.filter(message("Configuration allows spawning up to 72 Python threads, which seems …"))
    assert deliberate.filter(message("Worker worker-1 died"))
