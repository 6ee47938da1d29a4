"""A page costs the same number of queries whatever the size of the library (and of a session):
its ids first, then the details of those ids, never a query per item."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sessions.models import Session
from sessions.services import sync_sessions, update_metadata
from tests.conftest import SessionWriter, load_manifest
from tests.gallery.conftest import FACIAL, FACIAL_2

pytestmark = pytest.mark.django_db

BIG = "20251201_120000-big"
URLS = [
    "/",
    "/?liked=true&model=v1&complete=true",
    "/?q=smiling&status=completed&ordering=-images_actual",
    "/?tag=t",
    f"/sessions/{FACIAL}/",
    f"/sessions/{FACIAL}/?variation=Angle%3Afront+view&variation=FacialExpression%3Asmiling",
    "/images/",
    "/images/?q=smiling&liked=true",
    f"/compare/?a={FACIAL}&b={FACIAL_2}",
]


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(captured)


def grow_library(root: Path, write_session: SessionWriter, *, sessions: int, images: int) -> None:
    """More sessions (liked and tagged, so that every card has metadata and tags), and more
    images in the sessions the pages show."""
    for n in range(sessions):
        write_session(root, f"2025{n // 28 + 1:02d}{n % 28 + 1:02d}_120000-more",
                      load_manifest("manifest_legacy_cli_combinatorial.json"))
    for name in (FACIAL, FACIAL_2):
        facial = load_manifest("manifest_legacy_cli_combinatorial.json")
        facial["images"] = [{**facial["images"][n % 4], "filename": f"x_{n:04d}_seed-{n}.png", "seed": n}
                            for n in range(images)]
        write_session(root, name, facial)
    sync_sessions(results_dir=root, full=True)
    annotate_all()


def annotate_all() -> None:
    for session in Session.objects.all():
        update_metadata(session=session, changes={"is_favorite": True, "tags": ["t", f"tag {session.pk}"],
                                                  "user_note": "note"})


@pytest.mark.parametrize("who", ["superuser", "editor"])
def test_pages_cost_the_same_for_4_or_64_sessions(request, who: str, synced_results: Path,
                                                   write_session: SessionWriter,
                                                   django_assert_num_queries: Callable) -> None:
    client: Client = request.getfixturevalue(who)
    annotate_all()
    small = {url: queries(client, url) for url in URLS}
    grow_library(synced_results, write_session, sessions=60, images=150)
    assert Session.objects.count() == 64
    for url in URLS:
        with django_assert_num_queries(small[url]):
            response = client.get(url)
        assert response.status_code == 200, url


def test_what_a_page_costs(superuser: Client, synced_results: Path) -> None:
    annotate_all()
    """The counts themselves, so that a change that adds a query is seen: the grid reads the
    page's ids, their sessions with stats and metadata, and their tags (plus the log-in's two)."""
    assert queries(superuser, "/") == 2 + 3
    assert queries(superuser, f"/sessions/{FACIAL}/") == 2 + 2 + 2 + 1  # session+tags, image ids+rows, events
    # Whether any session is forgotten, the search's own look-ups (at most 3), ids, rows, sessions' stats.
    assert queries(superuser, "/images/?q=smiling") <= 2 + 1 + 3 + 3


@pytest.mark.parametrize("url", ["/?q=smiling", "/images/?q=smiling"])
def test_a_searched_page_reads_its_rows_without_searching_again(superuser: Client, synced_results: Path, url: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The ids have passed the search: the rows are read by id alone (at 100,000 sessions,
    evaluating the search a second time cost more than the rest of the page)."""
    # A search that matches many, as in a large library: its index is asked inside the list's query.
    monkeypatch.setattr("sessions.search.engines.DENSE_AT", 1)
    monkeypatch.setattr("sessions.search.MANY_TEXTS", 1)
    with CaptureQueriesContext(connection) as captured:
        response = superuser.get(url)
    assert response.status_code == 200
    rows = [query["sql"] for query in captured.captured_queries
            if '"gen_sessions_session"."uuid"' in query["sql"] or '"gen_sessions_sessionimage"."prompt"' in query["sql"]]
    assert rows, "no query read the page's rows"
    for sql in rows:
        assert "_fts" not in sql and "@@" not in sql, sql
