"""A real browser (headless Chromium driven by Playwright) fixes a stuck run in the admin."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from sessions.models import Event
from sessions.services import sync_sessions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
STUCK = "20261121_043627-random_test"


def browser_or_skip():
    """Playwright with the system's Chromium; CI (SDGEN_REQUIRE_BROWSER=1) fails instead of skipping."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "the playwright package is not installed (pip install -r requirements-dev.txt)"
    if reason is None and not os.path.exists(CHROMIUM):
        reason = "Chromium is not installed (Debian: apt-get install chromium chromium-driver)"
    if reason is not None:
        if os.environ.get("SDGEN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here, but {reason}")
        pytest.skip(reason)
    return sync_playwright


def test_fix_a_stuck_run_in_the_admin(live_server, results_dir: Path, tmp_path: Path, settings,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    sync_playwright = browser_or_skip()
    # Playwright's sync API keeps an event loop in this thread; the ORM calls below are plain sync code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    User.objects.create_superuser("ada", password="a long enough password")
    # The generator crashed: its manifest still says ongoing (and is recent, so not stale yet).
    manifest = results_dir / STUCK / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "status": "ongoing"}))
    settings.SDGEN_RESULTS_DIR = results_dir
    sync_sessions(results_dir=results_dir)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{live_server.url}/admin/login/?next=/admin/gen_sessions/session/")
            page.fill("#id_username", "ada")
            page.fill("#id_password", "a long enough password")
            page.click("input[type=submit]")

            page.get_by_role("link", name="Ongoing").click()
            page.wait_for_url("**status__exact=ongoing**")
            rows = page.locator("#result_list tbody tr")
            assert rows.count() == 1 and STUCK in rows.first.inner_text()
            rows.first.locator("input.action-select").check()
            page.select_option("select[name=action]", "mark_aborted")
            page.click("button[name=index]")

            page.fill("input[name=reason]", "the generator crashed at image 2")
            page.click("input[type=submit][value='Mark aborted']")
            assert f"Marked aborted: {STUCK}." in page.locator(".messagelist").inner_text()

            page.goto(f"{live_server.url}/admin/gen_sessions/session/")
            page.get_by_role("link", name=STUCK).click()
            events = page.locator("table.sdgen-events").inner_text()
            assert "ongoing → aborted" in events and "admin" in events and "ada" in events
            assert "the generator crashed at image 2" in events
            page.screenshot(path=str(tmp_path / "session.png"), full_page=True)
        finally:
            browser.close()

    assert (tmp_path / "session.png").stat().st_size > 10_000
    event = Event.objects.filter(session__name=STUCK).last()
    assert (event.source, event.performer_id, event.to_status) == ("admin", "ada", "aborted")
