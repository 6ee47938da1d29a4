"""Search (SPEC section 9) on the real CLI's output: the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from sessions.lifecycle import forget_sessions
from sessions.models import Session, SessionImage
from sessions.search import parse_query, search_images, search_sessions
from sessions.search.query import Term
from sessions.search.text import fold
from sessions.services import sync_sessions, update_metadata
from tests.conftest import SessionWriter, load_manifest

FACIAL = "20261121_043601-facial_expressions"
ORCHESTRATOR = "20261121_043614-facial_expressions"
SWEEP = "20261121_043621-seed_sweep_test"
RANDOM = "20261121_043627-random_test"
ALL = {FACIAL, ORCHESTRATOR, SWEEP, RANDOM}


class TestParsing:
    def test_words_phrases_exclusions(self) -> None:
        query = parse_query('Angry  "side view" -sad -"front view" v1-5')
        assert query.include == (Term(("angry",), prefix=True), Term(("side", "view")), Term(("v1", "5"), prefix=False))
        assert query.exclude == (Term(("sad",), prefix=True), Term(("front", "view")))

    @pytest.mark.parametrize("text", ["", "   ", None, '""', "-", "!!!"])
    def test_nothing_to_search_is_no_query(self, text: str | None) -> None:
        assert not parse_query(text)

    def test_case_and_accents_fold_away(self) -> None:
        assert fold("Café CRÈME, naïve ﬁne_art") == "cafe creme naive fine art"
        assert parse_query("CAFÉ").include == parse_query("cafe").include


def sessions_matching(q: str) -> set[str]:
    return set(search_sessions(Session.objects.all(), q).values_list("name", flat=True))


def images_matching(q: str) -> set[tuple[str, str]]:
    return set(search_images(SessionImage.objects.all(), q).values_list("session__name", "filename"))


@pytest.mark.django_db
class TestSemantics:
    @pytest.mark.parametrize(("q", "expected"), [
        ("angry", {RANDOM}),  # one image's prompt, not the template
        ("ANGRY", {RANDOM}),
        ("furi", {RANDOM}),  # words match as prefixes
        ("melancholic", {FACIAL}),
        ("blurry", ALL),  # the negative prompt
        ('"side view"', ALL),
        ('"view side"', set()),  # a phrase keeps its order
        ("facialexpression", set()),  # a placeholder's name is only in the template
        ("seed sweep", {SWEEP}),  # the session's name
        ("pruned", ALL),  # the model
        ("smiling -sad", {ORCHESTRATOR, SWEEP, RANDOM}),
        ("-smiling", set()),
        ("-angry", {FACIAL, ORCHESTRATOR, SWEEP}),  # only exclusions
        ("angry smiling", {RANDOM}),  # words of two different images of one session
        ("angry melancholic", set()),
        ("", ALL),
        ("   ", ALL),
    ])
    def test_sessions(self, synced_results: Path, q: str, expected: set[str]) -> None:
        assert sessions_matching(q) == expected

    def test_images(self, synced_results: Path) -> None:
        assert images_matching("angry") == {(RANDOM, "random_test_0000.png")}
        assert images_matching("angry smiling") == set()  # one image holds both, or none
        assert images_matching("melancholic side") == {(FACIAL, "facial_expressions_0003_seed-45.png")}
        assert len(images_matching("-smiling")) == 3
        assert images_matching('"front view" -smiling') == {(FACIAL, "facial_expressions_0002_seed-44.png")}
        assert len(images_matching("random test")) == 2  # the session's name
        assert len(images_matching("")) == 12

    def test_tags_and_notes(self, synced_results: Path) -> None:
        update_metadata(session=Session.objects.get(name=RANDOM),
                        changes={"tags": ["Portraits"], "user_note": "the keeper, à garder"})
        assert sessions_matching("portraits") == {RANDOM}
        assert sessions_matching("garder keeper") == {RANDOM}
        assert images_matching("portraits angry") == {(RANDOM, "random_test_0000.png")}
        assert len(images_matching("portraits")) == 2
        assert images_matching("-portraits angry") == set()
        update_metadata(session=Session.objects.get(name=RANDOM), changes={"tags": []})
        assert sessions_matching("portraits") == set()
        assert sessions_matching("keeper") == {RANDOM}

    def test_accents_in_prompts(self, empty_results_dir: Path, write_session: SessionWriter) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        manifest["images"][0]["prompt"] = "Café crème, CHÂTEAU at dusk"
        write_session(empty_results_dir, "20251107_120000-evening", manifest)
        sync_sessions(results_dir=empty_results_dir)
        for q in ("cafe", "CAFÉ", "château dusk", '"creme chateau"'):
            assert sessions_matching(q) == {"20251107_120000-evening"}, q
            assert len(images_matching(q)) == 1, q


@pytest.mark.django_db
class TestTheIndexStaysCurrent:
    def test_through_a_live_run(self, empty_results_dir: Path, write_session: SessionWriter) -> None:
        manifest = load_manifest("manifest_legacy_cli_combinatorial.json")
        manifest["images"] = manifest["images"][:1]
        folder = write_session(empty_results_dir, "20251107_120000-live", manifest)
        sync_sessions(results_dir=empty_results_dir)
        assert sessions_matching("zebra") == set()
        data = json.loads((folder / "manifest.json").read_text())
        data["images"].append({**data["images"][0], "filename": "live_0001_seed-43.png", "prompt": "a zebra"})
        (folder / "manifest.json").write_text(json.dumps(data))
        shutil.copy(folder / data["images"][0]["filename"], folder / "live_0001_seed-43.png")
        sync_sessions(results_dir=empty_results_dir, names=["20251107_120000-live"])
        assert sessions_matching("zebra") == {"20251107_120000-live"}
        assert images_matching("zebra") == {("20251107_120000-live", "live_0001_seed-43.png")}
        (folder / "live_0001_seed-43.png").unlink()
        data["images"].pop()
        (folder / "manifest.json").write_text(json.dumps(data))
        sync_sessions(results_dir=empty_results_dir, names=["20251107_120000-live"])
        assert sessions_matching("zebra") == set() and images_matching("zebra") == set()

    def test_through_a_rebuild(self, synced_results: Path) -> None:
        call_command("syncsessions", "--results", str(synced_results), "--rebuild", verbosity=0)
        assert sessions_matching("angry") == {RANDOM}
        assert images_matching("angry") == {(RANDOM, "random_test_0000.png")}

    def test_a_folder_that_vanishes_and_returns(self, synced_results: Path, tmp_path: Path) -> None:
        shutil.move(synced_results / RANDOM, tmp_path / RANDOM)
        sync_sessions(results_dir=synced_results)
        assert sessions_matching("angry") == {RANDOM}  # missing, still in the library
        forget_sessions(names=[RANDOM], results_dir=synced_results, source="system", performer="system",
                        now=Session.objects.get(name=RANDOM).updated_at)
        assert sessions_matching("angry") & set(Session.objects.in_library().values_list("name", flat=True)) == set()
        shutil.move(tmp_path / RANDOM, synced_results / RANDOM)
        sync_sessions(results_dir=synced_results)
        assert sessions_matching("angry") == {RANDOM}


@pytest.mark.django_db
class TestCountingAWholeLibrarySearch:
    """A search of the whole library with many matches is counted in its index (every document
    is a session's), less the forgotten sessions among the matches."""

    @pytest.fixture(autouse=True)
    def _dense(self, monkeypatch) -> None:
        from sessions.search import engines

        monkeypatch.setattr(engines, "DENSE_AT", 2)  # four sessions here: "blurry" is in every one

    @staticmethod
    def counted(queryset) -> tuple[int, list[str]]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            count = queryset.count()
        return count, [query["sql"] for query in queries.captured_queries]

    def test_the_count_is_the_index_s_less_the_forgotten(self, synced_results: Path, tmp_path: Path) -> None:
        shutil.move(synced_results / RANDOM, tmp_path / RANDOM)
        sync_sessions(results_dir=synced_results)
        forget_sessions(names=[RANDOM], results_dir=synced_results, source="system", performer="system",
                        now=Session.objects.get(name=RANDOM).updated_at)
        library = Session.objects.in_library()
        for q, expected in [("blurry", 3), ('blurry -melancholic', 2), ("angry", 0), ("smiling", 3)]:
            count, queries = self.counted(search_sessions(library, q))
            assert count == expected == len(list(search_sessions(library, q))), q
        count, queries = self.counted(search_sessions(library, "blurry"))
        assert any("count(*) FROM (SELECT" in sql for sql in queries), queries  # the index's own count

    def test_an_order_keeps_it_and_a_further_filter_counts_rows(self, synced_results: Path) -> None:
        searched = search_sessions(Session.objects.in_library(), "blurry")
        assert self.counted(searched.order_by("-images_actual"))[0] == 4
        filtered = searched.filter(name=SWEEP)
        count, queries = self.counted(filtered)
        assert count == 1
        assert not any("count(*) FROM (SELECT" in sql for sql in queries), queries

    def test_a_library_filtered_to_nothing_is_counted_as_nothing(self, synced_results: Path) -> None:
        assert search_sessions(Session.objects.in_library().none(), "blurry").count() == 0

    def test_a_filtered_library_is_counted_row_by_row(self, synced_results: Path) -> None:
        count, queries = self.counted(search_sessions(Session.objects.in_library().exclude(name=SWEEP), "blurry"))
        assert count == 3
        assert not any("count(*) FROM (SELECT" in sql for sql in queries), queries

    def test_the_api_gives_the_same_totals(self, synced_results: Path) -> None:
        from tests.conftest import token_client

        client = token_client(username="counter")
        assert client.get("/api/sessions/", {"q": "blurry"}).json()["total_count"] == 4
        assert client.get("/api/sessions/", {"q": "blurry -melancholic"}).json()["total_count"] == 3
        assert client.get("/api/sessions/", {"q": "blurry", "status": "completed"}).json()["total_count"] == (
            Session.objects.filter(status="completed").count())


@pytest.mark.django_db
class TestCountedAs:
    def test_the_count_given_holds_for_the_same_rows_only(self, synced_results: Path) -> None:
        library = Session.objects.in_library().counted_as(lambda: 42)
        assert library.count() == 42
        assert library.order_by("-created_at").select_related("stats").count() == 42
        assert library.filter(name=SWEEP).count() == 1
        assert library.exclude(name=SWEEP).count() == 3
        assert library.none().count() == 0
        assert library[:2].count() == 2
        assert len(library) == 4 and library.count() == 4  # rows already read are counted as such
