"""What the gallery's browser tests share: a library worth looking at, a logged-in page on the
system's Chromium, screenshots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sessions.simulator import GeneratorSimulator, a1111_parameters, plan_session, png_bytes, write_manifest
from tests.sessions.test_admin_browser import CHROMIUM, LAUNCH_ARGS, browser_or_skip

__all__ = ["CHROMIUM", "LAUNCH_ARGS", "PASSWORD", "OngoingRun", "browser_or_skip", "log_in", "open_browser",
           "screenshot", "simulated_runs"]

PASSWORD = "a long enough password"
WIDE = {"width": 1280, "height": 860}


def simulated_runs(results: Path, *, sessions: int = 3, images: int = 9) -> list[str]:
    """Finished runs the way the generator writes them, with pictures of some colour (the real
    CLI's fixtures are flat 64×96 squares), started on 22 November 2026 (newer than those)."""
    moments = iter(datetime(2026, 11, 22, 9, 0) + timedelta(minutes=n) for n in range(sessions))
    result = GeneratorSimulator(results_dir=results, sessions=sessions, images=images, width=192, height=288,
                                clock=lambda: next(moments)).run()
    return result.folders


class OngoingRun:
    """A run still going, written image by image the way the generator does (the PNG, then the
    manifest rewritten), started on 22 November 2026 at 10:00 (the newest of the library)."""

    def __init__(self, results: Path, *, total: int, theme: str = "portraits_live") -> None:
        self.plan = plan_session(kind="combinatorial", images=total, started=datetime(2026, 11, 22, 10, 0),
                                 width=192, height=288, theme=theme)
        self.name = self.plan.folder
        self.folder = results / self.name
        self.folder.mkdir()
        self.done = 0

    def write(self, count: int) -> None:
        """Up to ``count`` images on disk and in the manifest."""
        for image in self.plan.images[self.done:count]:
            data = png_bytes(width=self.plan.width, height=self.plan.height, seed=image.seed,
                             parameters=a1111_parameters(self.plan, image))
            (self.folder / image.filename).write_bytes(data)
        self.done = count
        status = "completed" if count >= len(self.plan.images) else "ongoing"
        write_manifest(self.folder / "manifest.json", self.plan.manifest(done=count, status=status))


@contextmanager
def open_browser(**context_options: Any) -> Iterator[Any]:
    """A browser context on the system's Chromium (never a downloaded one)."""
    from django.db import connections

    sync_playwright = browser_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            context = browser.new_context(**{"viewport": WIDE, "color_scheme": "dark", **context_options})
            context.set_default_timeout(15_000)
            yield context
        finally:
            browser.close()
            # Inside Playwright's context the ORM opens database connections of its own: closed
            # here, or PostgreSQL refuses to drop the test database at the end.
            connections.close_all()


def log_in(page: Any, base_url: str, username: str, path: str = "/") -> None:
    """Ask for a gallery page, land on the admin's log-in page, come back to that page."""
    page.goto(f"{base_url}{path}")
    assert "/admin/login/?next=" in page.url, page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}{path}")


def screenshot(page: Any, folder: Path, name: str, *, full_page: bool = False) -> Path:
    """Into the test's folder; also into SDGEN_SCREENSHOTS_DIR when set (the README's pictures
    are made so: SDGEN_SCREENSHOTS_DIR=docs/screenshots)."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    keep = os.environ.get("SDGEN_SCREENSHOTS_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(keep) / path.name)
    return path
