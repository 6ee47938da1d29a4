"""Everything a user or a manifest wrote is shown as text: session names, tags, notes, prompts,
variation values and the search box, on every page, and in the data the scripts read."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from django.test import Client
from django.urls import resolve, reverse

from sessions.models import Session
from sessions.services import sync_sessions, update_metadata
from tests.conftest import SessionWriter, load_manifest
from tests.gallery.conftest import FACIAL, html_of

pytestmark = pytest.mark.django_db

# A folder name cannot hold a slash; everything else goes.
NAME = "20991231_235959-<img src=x onerror=\"alert('name')\">&amp;"
TAG = "<script>alert('tag')</script>"
NOTE = "</textarea><script>alert(\"note\")</script>"
PROMPT = "</script><script>alert('prompt')</script> <b>bold</b>"
NEGATIVE = "<!-- --><svg onload=alert('negative')>"
VALUE = "<i onclick=alert('value')>front</i>"
SEARCH = "\"><script>alert('q')</script>"
HOSTILE = [NAME, TAG, NOTE, PROMPT, NEGATIVE, VALUE, SEARCH]
# What would run or break out if any of them reached the page unescaped.
RAW = ["<script>alert(", "<img src=x onerror", "<svg onload", "<i onclick", "</textarea><script>", "<b>bold</b>"]


@pytest.fixture
def hostile(synced_results: Path, write_session: SessionWriter) -> str:
    manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
    manifest["images"] = [{**entry, "prompt": PROMPT, "negative_prompt": NEGATIVE,
                           "applied_variations": {**entry["applied_variations"], "Angle": VALUE}}
                          for entry in manifest["images"]]
    manifest["snapshot"]["variations"]["Angle"]["used"] = [VALUE]
    write_session(synced_results, NAME, manifest)
    sync_sessions(results_dir=synced_results)
    session = Session.objects.get(name=NAME)
    update_metadata(session=session, changes={"tags": [TAG, "fine"], "user_note": NOTE, "is_favorite": True})
    update_metadata(session=Session.objects.get(name=FACIAL), changes={"tags": [TAG]})
    return NAME


def assert_no_raw_markup(html: str) -> None:
    # The page's own markup never contains these; only data could bring them.
    for text in RAW:
        assert text not in html, text


def scripts_data(html: str) -> dict:
    found = re.search(r'<script id="gallery-data" type="application/json">(.*?)</script>', html, re.S)
    assert found
    # json_script leaves no "<", ">" or "&" in the element: it cannot be closed from inside.
    assert not {"<", ">", "&"} & set(found.group(1))
    return json.loads(found.group(1))


@pytest.mark.parametrize("who", ["reader", "editor"])
def test_every_page_shows_hostile_text_as_text(request, hostile: str, who: str) -> None:
    client: Client = request.getfixturevalue(who)
    session_url = f"/sessions/{quote(NAME, safe='')}/"
    pages = {
        "grid": f"/?q={quote(SEARCH)}&tag={quote(TAG)}",
        "grid, liked": "/?liked=true",
        "session": session_url,
        "session, chip": f"{session_url}?variation={quote('Angle:' + VALUE)}",
        "images": f"/images/?q={quote(SEARCH)}",
        "images, all": f"/images/?session={quote(NAME)}",
        "compare": f"/compare/?a={quote(NAME)}&b={FACIAL}",
    }
    for label, url in pages.items():
        html = html_of(client, url)
        assert_no_raw_markup(html)
        if "session" in label:
            data = scripts_data(html)
            assert data["session"] == NAME
            assert {item["prompt"] for item in data["images"]} == {PROMPT}
            assert {item["negative_prompt"] for item in data["images"]} == {NEGATIVE}
    # What the user typed comes back as text (the search box, the filter bar).
    grid = html_of(client, pages["grid"])
    assert 'value="&quot;&gt;&lt;script&gt;alert(&#x27;q&#x27;)&lt;/script&gt;"' in grid
    liked = html_of(client, pages["grid, liked"])
    assert "20991231_235959-&lt;img src=x onerror=&quot;alert(&#x27;name&#x27;)&quot;&gt;&amp;amp;" in liked
    assert "&lt;script&gt;alert(&#x27;tag&#x27;)&lt;/script&gt;" in liked
    page = html_of(client, session_url)
    assert "&lt;/textarea&gt;&lt;script&gt;alert(&quot;note&quot;)&lt;/script&gt;" in page
    assert "&lt;i onclick=alert(&#x27;value&#x27;)&gt;front&lt;/i&gt;" in page  # the chip
    assert html_of(client, pages["images, all"]).count('data-viewer-index="') == 4


def test_the_json_the_viewer_reads_round_trips(editor: Client, hostile: str) -> None:
    data = scripts_data(html_of(editor, f"/images/?session={quote(NAME)}"))
    item = data["images"][0]
    assert (item["session_id"], item["prompt"], item["negative_prompt"]) == (NAME, PROMPT, NEGATIVE)
    assert item["applied_variations"]["Angle"] == VALUE
    url = data["sessions"][NAME]["url"]
    assert url == reverse("gallery:session", kwargs={"name": NAME}) and "<" not in url and '"' not in url
    assert resolve(unquote(url)).kwargs == {"name": NAME}
