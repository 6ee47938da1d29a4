"""A real browser (headless Chromium driven by Playwright) in the gallery: log in, look, filter,
flip through a session with the arrow keys, copy a prompt, annotate, compare."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

from sessions.models import Session, SessionMetadata
from sessions.permissions import SessionAction
from sessions.services import sync_sessions, update_metadata
from tests.gallery.browser import PASSWORD, OngoingRun, log_in, open_browser, screenshot, simulated_runs
from tests.gallery.conftest import FACIAL, FACIAL_2, RANDOM, SWEEP
from tests.sessions.test_other_generators import a1111_png

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def library(results_dir: Path, settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The real CLI's four runs, three simulated ones of 12 images, and one still going (5 of 12)."""
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are plain sync code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    simulated = simulated_runs(results_dir, images=12)
    OngoingRun(results_dir, total=12).write(5)
    settings.SDGEN_RESULTS_DIR = results_dir
    sync_sessions(results_dir=results_dir)
    return simulated


def editor(username: str = "eve") -> User:
    """May edit notes; not staff (the admin's log-in page lets every account into the gallery)."""
    user = User.objects.create_user(username, password=PASSWORD)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="gen_sessions",
                                                     codename="change_sessionmetadata"))
    return user


def tags_shown(page) -> list[str]:
    return page.locator("[data-tags] [data-tag]").evaluate_all("nodes => nodes.map(node => node.firstChild.data)")


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_look_filter_flip_copy_favourite_compare(live_server, library: list[str], tmp_path: Path) -> None:
    User.objects.create_superuser("ada", password=PASSWORD)
    faces, sweep = library[0], library[1]  # simulated runs: 12 images, the fixtures' placeholders
    update_metadata(session=Session.objects.get(name=sweep), changes={"is_favorite": True, "tags": ["keeper"]})
    base = live_server.url
    with open_browser() as context:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        errors = watch_errors(page)
        log_in(page, base, "ada")

        # The grid: newest first, every cover a loaded thumbnail, the running one part done.
        names = page.locator(".card-title a").all_inner_texts()
        assert names == ["20261122_100000-portraits_live", *reversed(library), RANDOM, SWEEP, FACIAL_2, FACIAL]
        page.wait_for_function("[...document.querySelectorAll('.card img[data-field=cover]')]"
                               ".every(img => img.complete && img.naturalWidth > 0)")
        assert page.locator(".card img[data-field=cover]").count() == 8
        running = page.locator(".card").first
        assert running.locator("[data-field=status]").inner_text() == "ongoing"
        assert running.locator("[data-field=count]").inner_text() == "5 / 12"
        screenshot(page, tmp_path, "grid")

        # A session: its thumbnails, then variation chips narrow them.
        page.get_by_role("link", name=faces, exact=True).click()
        page.wait_for_url(f"{base}/sessions/{faces}/")
        shown = page.locator("[data-thumbs] a[data-viewer-index]")
        assert shown.count() == 12
        page.get_by_role("link", name="front view", exact=True).click()
        page.wait_for_url(re.compile(r".*\?variation=Angle%3Afront\+view$"))
        assert shown.count() == 6
        page.get_by_role("link", name="smiling, cheerful expression", exact=True).click()
        assert shown.count() == 2  # AND across placeholders
        page.get_by_role("link", name="sad, melancholic expression", exact=True).click()
        assert shown.count() == 4  # OR within one
        page.get_by_role("link", name="any FacialExpression").click()
        page.get_by_role("link", name="any Angle").click()
        page.wait_for_url(f"{base}/sessions/{faces}/")
        page.wait_for_function("[...document.querySelectorAll('[data-thumbs] img')]"
                               ".every(img => img.complete && img.naturalWidth > 0)")
        screenshot(page, tmp_path, "session")

        # The viewer: the image, its prompt; the arrow keys step; the fragment names the image.
        viewer = page.locator("dialog[data-viewer]")
        title = viewer.locator("[data-v=filename]")
        page.locator("[data-viewer-index='1']").click()
        assert viewer.is_visible() and title.inner_text() == "facial_expressions_0001_seed-43.png"
        assert page.url.endswith(f"#image={faces}/facial_expressions_0001_seed-43.png")
        prompt = "masterpiece, 1girl, smiling, cheerful expression, side view, detailed face"
        assert viewer.locator("[data-v=prompt]").inner_text() == prompt
        assert viewer.locator("[data-v=negative]").inner_text() == "low quality, blurry"
        assert "side view" in viewer.locator("[data-v=variations]").inner_text()
        assert "DPM++ 2M" in viewer.locator("[data-v=parameters]").inner_text()
        page.wait_for_function("document.querySelector('[data-v=image]').classList.contains('is-loaded')")
        page.keyboard.press("ArrowRight")
        assert title.inner_text() == "facial_expressions_0002_seed-44.png"
        assert viewer.locator("[data-v=count]").inner_text() == "3 / 12"
        assert "seed\n44" in viewer.locator("[data-v=details]").inner_text()
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        assert title.inner_text() == "facial_expressions_0000_seed-42.png"
        page.keyboard.press("ArrowLeft")  # the first: stays
        assert title.inner_text() == "facial_expressions_0000_seed-42.png"
        # The neighbours were fetched before they were asked for.
        assert page.evaluate("performance.getEntriesByType('resource').some(e => e.name.endsWith("
                             "'facial_expressions_0001_seed-43.png'))")
        page.wait_for_function("document.querySelector('[data-v=image]').classList.contains('is-loaded')")
        screenshot(page, tmp_path, "viewer")

        # Copy the prompt.
        viewer.get_by_role("button", name="Copy prompt").click()
        page.wait_for_function("document.querySelector('[data-v=copied]').textContent !== ''")
        assert viewer.locator("[data-v=copied]").inner_text() == "Copied"
        assert page.evaluate("navigator.clipboard.readText()") == (
            "masterpiece, 1girl, smiling, cheerful expression, front view, detailed face")

        # A link with the fragment opens the same image; Escape closes and drops the fragment.
        page.keyboard.press("ArrowRight")
        link = page.url
        page.goto("about:blank")
        page.goto(link)
        assert viewer.is_visible() and title.inner_text() == "facial_expressions_0001_seed-43.png"
        page.keyboard.press("Escape")
        page.wait_for_url(f"{base}/sessions/{faces}/")  # the dialog's close event comes a moment later
        assert not viewer.is_visible()

        # Favourite it, and find it under Liked.
        star = page.locator(".session-title [data-favourite]")
        assert star.get_attribute("aria-pressed") == "false"
        star.click()
        page.wait_for_function("document.querySelector('.session-title [data-favourite]')"
                               ".getAttribute('aria-pressed') === 'true'")
        assert SessionMetadata.objects.get(session__name=faces).is_favorite
        page.get_by_role("link", name="Liked", exact=True).click()
        page.wait_for_url(f"{base}/?liked=true")
        assert page.locator(".card-title a").all_inner_texts() == [sweep, faces]

        # Compare two sessions: the differences marked, the images row by row.
        page.goto(f"{base}/compare/?a={faces}&b={FACIAL}")
        differing = page.locator("table.compare tr.differs th").all_inner_texts()
        assert "≠ images on disk" in differing and "≠ favourite" in differing and "≠ size" in differing
        assert "≠ sampler" not in differing
        assert page.locator(".compare-row:not(.compare-row-head)").count() == 12
        page.locator(".compare-row").nth(1).locator("[data-viewer-index]").nth(1).click()
        assert title.inner_text() == "facial_expressions_0000_seed-42.png"
        assert viewer.locator("[data-v=session]").inner_text() == FACIAL
        page.keyboard.press("ArrowRight")  # row by row: then a's second
        assert viewer.locator("[data-v=session]").inner_text() == faces
        assert title.inner_text() == "facial_expressions_0001_seed-43.png"
        page.keyboard.press("Escape")

        # Search images from the header by a word of one prompt.
        page.fill("header input[name=q]", "angry")
        page.get_by_role("button", name="Images", exact=True).click()
        page.wait_for_url(f"{base}/images/?q=angry")
        thumbs = page.locator("[data-thumbs] a[data-viewer-index]")
        assert thumbs.count() >= 1
        thumbs.first.click()
        assert "angry" in viewer.locator("[data-v=prompt]").inner_text()
        assert not errors, errors

    for name in ("grid", "session", "viewer"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_notes_edited_in_place_and_kept(live_server, library: list[str]) -> None:
    editor()
    base = live_server.url
    with open_browser() as context:
        page = context.new_page()
        errors = watch_errors(page)
        log_in(page, base, "eve", f"/sessions/{FACIAL}/")
        notes = page.locator("[data-notes]")
        status = notes.locator("[data-notes-status]")
        notes.get_by_role("button", name="♥ Like").click()
        notes.locator("[data-tag-input]").fill("keeper, Keeper , <b>bold</b>")
        notes.locator("[data-tag-input]").press("Enter")
        page.wait_for_function("document.querySelectorAll('[data-tags] [data-tag]').length === 2")
        assert tags_shown(page) == ["keeper", "<b>bold</b>"]
        notes.locator("[data-note]").fill("try a wider angle")
        notes.locator("[data-note]").press("Control+Enter")
        page.wait_for_function("document.querySelector('[data-notes-status]').textContent === 'Saved.'")
        notes.get_by_role("button", name="Remove the tag keeper").click()
        page.wait_for_function("document.querySelectorAll('[data-tags] [data-tag]').length === 1")
        metadata = SessionMetadata.objects.get(session__name=FACIAL)
        assert (metadata.user_rating, metadata.tag_list, metadata.user_note) == ("like", ["<b>bold</b>"],
                                                                                 "try a wider angle")
        page.reload()
        assert notes.get_by_role("button", name="♥ Like").get_attribute("aria-pressed") == "true"
        assert notes.locator("[data-note]").input_value() == "try a wider angle"
        # A refused value: the API's message, in the panel, and nothing saved.
        notes.locator("[data-tag-input]").fill(",".join(f"t{n}" for n in range(51)))
        notes.locator("[data-tag-input]").press("Enter")
        page.wait_for_function("document.querySelector('[data-notes-status]').classList.contains('is-error')")
        assert status.inner_text().startswith("Not saved. Tags: ")
        assert "50" in status.inner_text()
        assert SessionMetadata.objects.get(session__name=FACIAL).tag_list == ["<b>bold</b>"]
        assert not errors, errors


# Answers to a rating arrive late: the page must not show the state they were written against.
SLOW_RATING_ANSWERS = """
const realFetch = window.fetch;
window.fetch = async (url, options = {}) => {
  const response = await realFetch(url, options);
  if (options.method === "PATCH" && String(options.body).includes("user_rating")) {
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  return response;
};
"""


def is_patch(request) -> bool:
    return request.method == "PATCH"


def test_quick_changes_are_saved_one_after_another(live_server, library: list[str]) -> None:
    editor()
    with open_browser() as context:
        page = context.new_page()
        page.add_init_script(SLOW_RATING_ANSWERS)
        log_in(page, live_server.url, "eve", f"/sessions/{FACIAL}/")
        notes = page.locator("[data-notes]")
        notes.get_by_role("button", name="♥ Like").click()
        notes.locator("[data-tag-input]").fill("keeper")
        notes.locator("[data-tag-input]").press("Enter")
        notes.locator("[data-tag-input]").fill("second")
        notes.locator("[data-tag-input]").press("Enter")
        page.wait_for_function("document.querySelectorAll('[data-tags] [data-tag]').length === 2")
        page.wait_for_function("document.querySelector('[data-notes-status]').textContent === 'Saved.'")
        assert tags_shown(page) == ["keeper", "second"]
        assert notes.get_by_role("button", name="♥ Like").get_attribute("aria-pressed") == "true"
        metadata = SessionMetadata.objects.get(session__name=FACIAL)
        assert (metadata.user_rating, metadata.tag_list) == ("like", ["keeper", "second"])
        # Un-like, then like again before the first answer: each click acts on what the one
        # before it saved.
        with page.expect_request_finished(is_patch):
            notes.get_by_role("button", name="♥ Like").click()
            notes.get_by_role("button", name="♥ Like").click()
        with page.expect_request_finished(is_patch):  # the second goes once the first is shown
            pass
        page.wait_for_function("document.querySelector('[data-notes-status]').textContent === 'Saved.'")
        assert notes.get_by_role("button", name="♥ Like").get_attribute("aria-pressed") == "true"
        assert SessionMetadata.objects.get(session__name=FACIAL).user_rating == "like"


def test_a_refused_change_says_why(live_server, library: list[str]) -> None:
    user = editor()
    base = live_server.url
    with open_browser() as context:
        page = context.new_page()
        log_in(page, base, "eve", f"/sessions/{FACIAL}/")
        # The permission is taken away while the page is open.
        user.user_permissions.clear()
        page.locator(".session-title [data-favourite]").click()
        toast = page.locator("[data-toast]")
        toast.wait_for(state="visible")
        assert toast.inner_text() == f"Not saved. {SessionAction.EDIT_METADATA.refusal}"
        assert page.locator(".session-title [data-favourite]").get_attribute("aria-pressed") == "false"
        page.locator("[data-note]").fill("mine")
        page.get_by_role("button", name="Save note").click()
        page.wait_for_function("document.querySelector('[data-notes-status]').classList.contains('is-error')")
        assert SessionAction.EDIT_METADATA.refusal in page.locator("[data-notes-status]").inner_text()
    assert not SessionMetadata.objects.exists()


def test_an_image_from_another_generator_shows_its_own_settings(live_server, library: list[str],
                                                                results_dir: Path) -> None:
    User.objects.create_superuser("ada", password=PASSWORD)
    folder = results_dir / "2025-03-01_101500_a1111"
    folder.mkdir()
    a1111_png(folder / "00001-42.png", prompt="a red fox in the snow", seed=42, model="juggernautXL_v9")
    sync_sessions(results_dir=results_dir)
    base = live_server.url
    with open_browser() as context:
        page = context.new_page()
        errors = watch_errors(page)
        log_in(page, base, "ada", f"/sessions/{folder.name}/")
        page.locator("[data-viewer-index='0']").click()
        viewer = page.locator("dialog[data-viewer]")
        assert viewer.locator("[data-v=prompt]").inner_text() == "a red fox in the snow"
        parameters = viewer.locator("[data-v=parameters]").inner_text()
        for shown in ("generator\nAUTOMATIC1111", "model\njuggernautXL_v9", "sampler\nEuler a", "steps\n25",
                      "CFG scale\n7"):
            assert shown in parameters, (shown, parameters)
        assert errors == []


def test_a_phone_sized_window(live_server, library: list[str], tmp_path: Path) -> None:
    User.objects.create_superuser("ada", password=PASSWORD)
    base = live_server.url
    with open_browser(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True) as context:
        page = context.new_page()
        errors = watch_errors(page)
        log_in(page, base, "ada")
        fits = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(fits)
        columns = page.evaluate("getComputedStyle(document.querySelector('.cards')).gridTemplateColumns")
        assert len(columns.split()) == 2
        page.goto(f"{base}/sessions/{library[0]}/")
        assert page.evaluate(fits)
        page.locator("[data-viewer-index='0']").tap()
        viewer = page.locator("dialog[data-viewer]")
        assert viewer.is_visible() and page.evaluate(fits)
        viewer.locator("[data-v=next]").tap()
        assert viewer.locator("[data-v=count]").inner_text() == "2 / 12"
        assert viewer.locator("[data-v=prompt]").is_visible() or viewer.locator("[data-v=prompt]").count() == 1
        screenshot(page, tmp_path, "viewer-phone")
        viewer.locator("[data-v=close]").tap()
        page.goto(f"{base}/compare/?a={FACIAL}&b={FACIAL_2}")
        assert page.evaluate(fits)
        assert not errors, errors


def test_stepping_past_the_last_image_of_a_page(live_server, library: list[str], settings,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The viewer walks on to the next page of a long session (and back)."""
    monkeypatch.setattr("gallery.views.SESSION_IMAGES_PER_PAGE", 4)
    User.objects.create_superuser("ada", password=PASSWORD)
    name = library[0]  # 12 images: pages of 4
    base = live_server.url
    with open_browser() as context:
        page = context.new_page()
        log_in(page, base, "ada", f"/sessions/{name}/")
        title = page.locator("dialog[data-viewer] [data-v=filename]")
        page.locator("[data-viewer-index='3']").click()
        last_of_first = title.inner_text()
        page.keyboard.press("ArrowRight")
        page.wait_for_url(re.compile(r".*\?page=2#image="))
        assert page.locator("dialog[data-viewer]").is_visible()
        assert page.locator("dialog[data-viewer] [data-v=count]").inner_text() == "1 / 4"
        page.keyboard.press("ArrowLeft")
        page.wait_for_url(re.compile(rf".*/sessions/{name}/#image="))
        assert title.inner_text() == last_of_first
    assert Session.objects.filter(name=name).exists()


def test_a_file_gone_from_disk_leaves_an_empty_tile(live_server, library: list[str], results_dir: Path) -> None:
    User.objects.create_superuser("ada", password=PASSWORD)
    name = library[0]
    for path in (results_dir / name).glob("*.png"):
        path.unlink()  # not synced since: the rows still name them
    base = live_server.url
    with open_browser() as context:
        page = context.new_page()
        log_in(page, base, "ada", f"/sessions/{name}/")
        page.wait_for_function("document.querySelectorAll('[data-thumbs] img.is-broken').length === 12")
        page.goto(f"{base}/")
        cover = page.locator(f".card[data-session='{name}'] img")
        page.wait_for_function("image => image.classList.contains('is-broken')", arg=cover.element_handle())
        assert cover.evaluate("image => getComputedStyle(image).visibility") == "hidden"
