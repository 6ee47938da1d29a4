from __future__ import annotations

import io
import logging

import pytest

from sdgen_site.progress import ProgressReporter


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_on_a_terminal() -> None:
    stream = FakeTerminal()
    reporter = ProgressReporter(label="syncing sessions", stream=stream)
    for done in (0, 50, 100):
        reporter(done, 100)
    reporter.close()
    assert "syncing sessions" in stream.getvalue() and "100/100" in stream.getvalue()


def test_log_lines_elsewhere(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    reporter = ProgressReporter(label="thumbnails", stream=stream, log_every=0.0)
    with caplog.at_level(logging.INFO, logger="sdgen_site.progress"):
        reporter(10, 40)
        reporter(40, 40)  # the end is not logged: the command's summary says it
    reporter.close()
    assert stream.getvalue() == ""
    assert [record.getMessage() for record in caplog.records] == ["thumbnails: 10 of 40"]
