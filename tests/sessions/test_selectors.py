"""The prepared look-ups of one session that the API's per-session answers use."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from sessions import selectors
from sessions.image_parameters import PARAM_KEYS
from sessions.models import Session, SessionMetadata, SessionStats

pytestmark = pytest.mark.django_db

NAME = "20261121_043601-facial_expressions"


def test_a_session_by_name_with_its_parameters_and_the_rest_of_its_stats_deferred(
        synced_results: Path, django_assert_num_queries) -> None:
    expected = Session.objects.select_related("stats").get(name=NAME)
    with django_assert_num_queries(1):
        session = selectors.session_named(NAME)
        assert session is not None
        assert [getattr(session, f.attname) for f in Session._meta.concrete_fields] == \
            [getattr(expected, f.attname) for f in Session._meta.concrete_fields]
        assert {key: getattr(session.stats, key) for key in PARAM_KEYS} == \
            {key: getattr(expected.stats, key) for key in PARAM_KEYS}
        assert session.stats.source == expected.stats.source
    with django_assert_num_queries(1):  # any other column still loads, when read
        assert session.stats.placeholders == expected.stats.placeholders


def test_without_stats_it_says_so_without_asking_again(synced_results: Path, django_assert_num_queries) -> None:
    SessionStats.objects.filter(session__name=NAME).delete()
    with django_assert_num_queries(1):
        session = selectors.session_named(NAME)
        assert session is not None and getattr(session, "stats", None) is None


def test_unknown_and_forgotten_sessions_are_not_in_the_library(synced_results: Path) -> None:
    assert selectors.session_named("nope") is None and not selectors.in_library("nope")
    assert selectors.in_library(NAME)
    Session.objects.filter(name=NAME).update(forgotten_at=timezone.now())
    assert selectors.session_named(NAME) is None and not selectors.in_library(NAME)


def test_with_when_its_metadata_last_changed(synced_results: Path, django_assert_num_queries) -> None:
    from sessions.services import update_metadata

    assert selectors.session_named(NAME).metadata_updated_at is None  # never set
    update_metadata(session=Session.objects.get(name=NAME), changes={"is_favorite": True})
    with django_assert_num_queries(1):
        session = selectors.session_named(NAME)
    assert session.metadata_updated_at == SessionMetadata.objects.get(session__name=NAME).updated_at
