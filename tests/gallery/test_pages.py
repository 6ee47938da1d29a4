"""The gallery's pages on the real CLI's output: what each shows, filters and search in the URL,
bad parameters, log-in."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.test import Client

from sessions.models import Session
from sessions.services import sync_sessions, update_metadata
from tests.conftest import SessionWriter, load_manifest
from tests.gallery.conftest import FACIAL, FACIAL_2, RANDOM, SWEEP, html_of

pytestmark = pytest.mark.django_db

PAGES = ["/", f"/sessions/{FACIAL}/", "/images/?q=smiling", f"/compare/?a={FACIAL}&b={FACIAL_2}"]


def page_data(html: str) -> dict:
    found = re.search(r'<script id="gallery-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, "no page data"
    return json.loads(found.group(1))


def card_names(html: str) -> list[str]:
    return re.findall(r'<article class="card[^"]*" data-session="([^"]+)"', html)


def viewer_files(html: str) -> list[str]:
    return [item["filename"] for item in page_data(html)["images"]]


class TestLogIn:
    @pytest.mark.parametrize("url", PAGES)
    def test_every_page_sends_strangers_to_the_admin_log_in_and_back(self, client: Client, synced_results: Path,
                                                                     url: str) -> None:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={quote(url, safe='/')}"

    def test_logging_in_on_the_admin_page_comes_back_to_the_gallery(self, client: Client, superuser: Client,
                                                                    synced_results: Path) -> None:
        response = client.post("/admin/login/?next=/images/%3Fq%3Dangry",
                               {"username": "ada", "password": "a long enough password", "next": "/images/?q=angry"})
        assert response.status_code == 302 and response["Location"] == "/images/?q=angry"
        assert client.get("/images/?q=angry").status_code == 200

    def test_an_account_without_staff_status_logs_in_to_the_gallery_not_the_admin(self, client: Client,
                                                                               synced_results: Path) -> None:
        User.objects.create_user("reader", password="a long enough password")
        response = client.post("/admin/login/?next=/", {"username": "reader", "password": "a long enough password",
                                                        "next": "/"})
        assert response.status_code == 302 and response["Location"] == "/"
        assert client.get("/").status_code == 200
        admin_index = client.get("/admin/")
        assert admin_index.status_code == 302 and admin_index["Location"].startswith("/admin/login/")
        assert "not authorized to access this page" in client.get(admin_index["Location"]).content.decode()

    def test_the_api_and_the_admin_are_still_theirs(self, superuser: Client, synced_results: Path) -> None:
        assert superuser.get("/api/sessions/").json()["total_count"] == 4
        assert superuser.get("/admin/gen_sessions/session/").status_code == 200
        assert superuser.get("/api/nothing-here").json() == {"detail": "Not found."}

    def test_pages_only_answer_reads(self, superuser: Client, synced_results: Path) -> None:
        assert superuser.post("/").status_code == 405


class TestGrid:
    def test_cards_with_cover_name_status_model_progress_and_favourite(self, superuser: Client,
                                                                       synced_results: Path) -> None:
        update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": True})
        Session.objects.filter(name=FACIAL_2).update(images_actual=1, completion_percentage=50.0, status="ongoing")
        html = html_of(superuser, "/")
        assert card_names(html) == [RANDOM, SWEEP, FACIAL_2, FACIAL]  # newest first
        assert f'src="/api/sessions/{RANDOM}/images/random_test_0000.png?thumbnail=1"' in html
        assert f'<a href="/sessions/{FACIAL}/">{FACIAL}</a>' in html
        assert "v1-5-pruned-emaonly.safetensors [6ce0161689]" in html
        assert '<span class="badge status-ongoing" data-field="status">ongoing</span>' in html
        assert '<span class="count" data-field="count">1 / 2</span>' in html
        assert 'data-field="bar" style="width: 50.0%"' in html
        assert html.count('aria-pressed="true"') == 1  # FACIAL's star

    @pytest.mark.parametrize(("query", "expected"), [
        ("liked=true", [FACIAL]),
        ("liked=0", [RANDOM, SWEEP, FACIAL_2]),
        ("status=aborted", [RANDOM]),
        ("test=true", [SWEEP]),
        ("seed_sweep=1", [SWEEP]),
        ("complete=false", [FACIAL_2]),
        ("model=V1-5", [RANDOM, SWEEP, FACIAL_2, FACIAL]),
        ("tag=Keeper", [FACIAL]),
        ("q=angry", [RANDOM]),
        ("q=seed_sweep", [SWEEP]),
        ("q=smiling+-sad", [RANDOM, SWEEP, FACIAL_2]),
        ("q=%22cheerful+expression%22&liked=true", [FACIAL]),
        ("ordering=created_at", [FACIAL, FACIAL_2, SWEEP, RANDOM]),
        ("from_date=2026-11-21T04:36:10&to_date=2026-11-21T04:36:25", [SWEEP, FACIAL_2]),
        ("q=++", [RANDOM, SWEEP, FACIAL_2, FACIAL]),
    ])
    def test_filters_and_search_from_the_query_string(self, superuser: Client, synced_results: Path, query: str,
                                                      expected: list[str]) -> None:
        Session.objects.filter(name=RANDOM).update(status="aborted")
        Session.objects.filter(name=FACIAL_2).update(completion_percentage=50)
        update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": True, "tags": ["keeper"]})
        update_metadata(session=Session.objects.get(name=SWEEP), changes={"is_test": True})
        assert card_names(html_of(superuser, f"/?{query}")) == expected

    def test_the_view_is_in_the_url_and_every_link_keeps_it(self, superuser: Client, synced_results: Path) -> None:
        html = html_of(superuser, "/?status=completed&liked=false&q=face&empty=")
        # The filter bar shows what is applied; the search box too.
        assert '<option value="completed" selected>' in html
        assert '<option value="false" selected>none of these</option>' in html
        assert 'name="q" value="face"' in html
        # Each filter in use can be removed alone, the others kept.
        assert 'href="/?liked=false&amp;q=face"' in html  # without status
        assert 'href="/?status=completed&amp;q=face"' in html  # without liked
        # Searching again from the header keeps the filters.
        assert '<input type="hidden" name="status" value="completed">' in html
        assert '<input type="hidden" name="liked" value="false">' in html

    def test_every_order_offered_is_one_the_filter_accepts(self, superuser: Client, synced_results: Path) -> None:
        html = html_of(superuser, "/")
        orders = re.findall(r'<option value="([^"]*)"', html.split('name="ordering"')[1].split("</select>")[0])
        assert len(orders) == 7
        for order in orders:
            assert superuser.get(f"/?ordering={order}").status_code == 200, order

    @pytest.mark.parametrize(("query", "message"), [
        ("liked=maybe", "'maybe' is not a boolean: use true, false, 1 or 0."),
        ("status=done", "'done' is not one of: ongoing, completed, aborted."),
        ("from_date=yesterday", "'yesterday' is not an ISO-8601 date or date-time"),
        ("ordering=name", "'name' is not one of:"),
        ("page=two", "'two' is not a page number"),
        ("page=0", "0 is out of range"),
    ])
    def test_a_bad_parameter_is_a_400_that_says_which_and_why(self, superuser: Client, synced_results: Path,
                                                              query: str, message: str) -> None:
        response = superuser.get(f"/?{query}")
        assert response.status_code == 400
        html = response.content.decode()
        assert message.replace("'", "&#x27;") in html
        assert f"<code>{query.split('=')[0]}</code>" in html
        assert card_names(html) == []

    def test_pages_of_sessions(self, superuser: Client, synced_results: Path, write_session: SessionWriter) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        for n in range(48 + 5 - 4):  # 53 sessions in all, 48 a page
            write_session(synced_results, f"2025{n // 28 + 1:02d}{n % 28 + 1:02d}_120000-more", manifest)
        sync_sessions(results_dir=synced_results)
        first = html_of(superuser, "/?model=v1")
        assert len(card_names(first)) == 48
        assert 'rel="next" href="/?model=v1&amp;page=2"' in first and 'rel="prev"' not in first
        second = html_of(superuser, "/?model=v1&page=2")
        assert len(card_names(second)) == 5 and 'rel="next"' not in second
        assert 'rel="prev" href="/?model=v1"' in second
        assert not set(card_names(first)) & set(card_names(second))
        assert card_names(html_of(superuser, "/?page=9")) == []

    def test_an_empty_library_says_so(self, superuser: Client, empty_results_dir: Path) -> None:
        assert "No sessions yet" in html_of(superuser, "/")
        assert "No session matches" in html_of(superuser, "/?q=anything")


class TestSessionPage:
    def test_images_first_then_the_parameters(self, superuser: Client, synced_results: Path) -> None:
        html = html_of(superuser, f"/sessions/{FACIAL}/")
        assert html.index('class="thumbs"') < html.index("Parameters") < html.index("Event log")
        assert viewer_files(html) == [f"facial_expressions_000{n}_seed-{42 + n}.png" for n in range(4)]
        assert html.count('data-viewer-index="') == 4
        assert f'src="/api/sessions/{FACIAL}/images/facial_expressions_0000_seed-42.png?thumbnail=1"' in html
        for text in ("DPM++ 2M", "Karras", "FacialExpression (2 used)", "images on disk", "discovered",
                     "masterpiece, 1girl, {FacialExpression}, {Angle}, detailed face"):
            assert text in html, text
        data = page_data(html)
        assert data["session"] == FACIAL and data["last_page"] is True
        assert data["images_api"] == f"/api/sessions/{FACIAL}/images/"
        assert ["sampler", "DPM++ 2M"] in data["sessions"][FACIAL]["parameters"]
        item = data["images"][0]
        assert item["prompt"] == "masterpiece, 1girl, smiling, cheerful expression, front view, detailed face"
        assert item["applied_variations"] == {"FacialExpression": "smiling, cheerful expression",
                                              "Angle": "front view"}

    def test_variation_chips_or_within_a_placeholder_and_across(self, superuser: Client,
                                                                synced_results: Path) -> None:
        base = f"/sessions/{FACIAL}/"
        html = html_of(superuser, base)
        assert f'href="{base}?variation=Angle%3Afront+view">front view</a>' in html
        front = html_of(superuser, f"{base}?variation=Angle%3Afront+view")
        assert viewer_files(front) == ["facial_expressions_0000_seed-42.png", "facial_expressions_0002_seed-44.png"]
        assert 'class="chip is-active"' in front
        # A second placeholder narrows (AND)…
        sad = f"{base}?variation=Angle%3Afront+view&variation=FacialExpression%3Asad%2C+melancholic+expression"
        assert f'href="{sad.replace("&", "&amp;")}"' in front
        assert viewer_files(html_of(superuser, sad)) == ["facial_expressions_0002_seed-44.png"]
        # …a second value of the same placeholder widens (OR).
        both = f"{base}?variation=Angle%3Afront+view&variation=Angle%3Aside+view"
        assert len(viewer_files(html_of(superuser, both))) == 4
        # A chip in use links to the page without it; the group can be cleared.
        assert f'href="{base}" aria-current="true">front view</a>' in front
        assert f'href="{base}">any Angle</a>' in front
        assert page_data(front)["filters"] == "?variation=Angle%3Afront+view"

    def test_a_missing_session_is_a_404(self, superuser: Client, synced_results: Path) -> None:
        assert superuser.get("/sessions/nothing/").status_code == 404

    def test_names_with_dots_and_spaces(self, superuser: Client, synced_results: Path,
                                        write_session: SessionWriter) -> None:
        name = "2025-10-14_173320_hassaku actual.prompt"
        write_session(synced_results, name, load_manifest("manifest_legacy_cli_combinatorial.json"))
        sync_sessions(results_dir=synced_results)
        url = f"/sessions/{quote(name)}/"
        assert f'href="{url}"' in html_of(superuser, "/")
        assert name in html_of(superuser, url)

    def test_a_bad_chip_parameter_says_why(self, superuser: Client, synced_results: Path) -> None:
        response = superuser.get(f"/sessions/{FACIAL}/?variation=front")
        assert response.status_code == 400
        assert "is not Name:value" in response.content.decode()

    def test_pages_of_images(self, superuser: Client, synced_results: Path, write_session: SessionWriter) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        manifest["images"] = [{**manifest["images"][n % 4], "filename": f"x_{n:04d}_seed-{n}.png", "seed": n}
                              for n in range(205)]
        write_session(synced_results, "20251201_120000-big", manifest)
        sync_sessions(results_dir=synced_results)
        first = html_of(superuser, "/sessions/20251201_120000-big/")
        assert len(viewer_files(first)) == 200 and page_data(first)["last_page"] is False
        second = html_of(superuser, "/sessions/20251201_120000-big/?page=2")
        assert viewer_files(second) == [f"x_{n:04d}_seed-{n}.png" for n in range(200, 205)]
        assert page_data(second)["last_page"] is True


class TestImageSearch:
    def test_images_across_sessions_matching_every_word(self, superuser: Client, synced_results: Path) -> None:
        html = html_of(superuser, "/images/?q=angry")
        files = viewer_files(html)
        assert files and all(item["session_id"] == RANDOM for item in page_data(html)["images"])
        assert "angry" in page_data(html)["images"][0]["prompt"]
        assert f'<a class="thumb-session" href="/sessions/{RANDOM}/">{RANDOM}</a>' in html
        assert page_data(html)["sessions"][RANDOM]["url"] == f"/sessions/{RANDOM}/"
        # The header's search box searches images here, first.
        assert 'name="q" value="angry"' in html
        assert '<button type="submit">Images</button>' in html

    def test_filters_of_the_images_api(self, superuser: Client, synced_results: Path) -> None:
        update_metadata(session=Session.objects.get(name=SWEEP), changes={"is_favorite": True})
        liked = page_data(html_of(superuser, "/images/?liked=true"))["images"]
        assert {item["session_id"] for item in liked} == {SWEEP} and len(liked) == 4
        one = page_data(html_of(superuser, f"/images/?session={FACIAL}&seed=44"))["images"]
        assert [item["filename"] for item in one] == ["facial_expressions_0002_seed-44.png"]
        assert html_of(superuser, "/images/?q=nowhere").count('data-viewer-index="') == 0
        assert "No image matches" in html_of(superuser, "/images/?q=nowhere")
        assert superuser.get("/images/?seed=x").status_code == 400

    def test_newest_first_without_a_search(self, superuser: Client, synced_results: Path) -> None:
        assert len(viewer_files(html_of(superuser, "/images/"))) == 12


class TestCompare:
    def test_parameters_side_by_side_with_the_differences_marked(self, superuser: Client,
                                                                 synced_results: Path) -> None:
        update_metadata(session=Session.objects.get(name=FACIAL), changes={"is_favorite": True, "tags": ["a", "b"]})
        html = html_of(superuser, f"/compare/?a={FACIAL}&b={FACIAL_2}")
        rows = re.findall(r'<tr( class="differs")?>\s*<th scope="row">(?:<span class="diff-mark" title="different">≠'
                          r"</span> )?([^<]+)</th><td>([^<]*)</td><td>([^<]*)</td>", html)
        table = {label: (bool(differs), a, b) for differs, label, a, b in rows}
        assert table["sampler"] == (False, "DPM++ 2M", "DPM++ 2M")
        assert table["images on disk"] == (True, "4", "2")
        assert table["favourite"] == (True, "yes", "no")
        assert table["tags"] == (True, "a, b", "—")
        assert table["FacialExpression"][0] is True and table["Angle"][0] is False
        # Images row by row: a's n-th next to b's n-th; the viewer steps a, b, a, b…
        files = viewer_files(html)
        assert files[:4] == ["facial_expressions_0000_seed-42.png", f"{FACIAL_2}_0000_seed-42.png",
                             "facial_expressions_0001_seed-43.png", f"{FACIAL_2}_0001_seed-43.png"]
        assert len(files) == 6 and html.count('class="compare-row"') == 4
        assert f'href="/compare/?a={FACIAL_2}&amp;b={FACIAL}"' in html  # swap

    def test_without_two_names_it_asks_for_them(self, superuser: Client, synced_results: Path) -> None:
        html = html_of(superuser, f"/compare/?a={FACIAL}")
        assert f'name="a" value="{FACIAL}"' in html and "Pick two sessions" in html
        assert f'<option value="{RANDOM}">' in html  # the newest, to pick from

    def test_an_unknown_name_is_a_404_that_names_it(self, superuser: Client, synced_results: Path) -> None:
        response = superuser.get(f"/compare/?a={FACIAL}&b=nothing")
        assert response.status_code == 404
        assert "No session named &#x27;nothing&#x27;." in response.content.decode()

    def test_a_session_with_itself(self, superuser: Client, synced_results: Path) -> None:
        html = html_of(superuser, f"/compare/?a={SWEEP}&b={SWEEP}")
        assert 'class="differs"' not in html
