"""The hand-written representations give exactly what DRF's field-by-field one would."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rest_framework import serializers

from sessions import selectors
from sessions.models import Session
from sessions.serializers import GlobalStatsSerializer, MetadataSerializer, SessionSerializer, StatsSerializer
from sessions.services import sync_sessions, update_metadata
from tests.conftest import SessionWriter

pytestmark = pytest.mark.django_db


def generic(serializer: serializers.Serializer, instance) -> dict:
    return dict(serializers.ModelSerializer.to_representation(serializer, instance))


def test_fast_representations_match_drfs(synced_results: Path, write_session: SessionWriter) -> None:
    write_session(synced_results, "loose", None, images=["a.png"])
    sync_sessions(results_dir=synced_results)
    update_metadata(session=Session.objects.get(name="20261121_043601-facial_expressions"),
                    changes={"is_favorite": True, "user_rating": "like", "tags": ["b", "a"], "user_note": "n"})
    compared = 0
    for session in selectors.sessions_with_details():
        serializer = SessionSerializer(session)
        assert serializer.data == generic(serializer, session)
        stats = getattr(session, "stats", None)
        if stats is not None:
            assert StatsSerializer(stats).data == generic(StatsSerializer(stats), stats)
            compared += 1
        metadata = getattr(session, "metadata", None)
        if metadata is not None:
            fast = MetadataSerializer(metadata).data
            assert fast == generic(MetadataSerializer(metadata), metadata) and fast["tags"] == ["b", "a"]
            compared += 1
    assert compared == 5
    unsaved = selectors.unsaved_metadata(Session.objects.first())
    assert MetadataSerializer(unsaved).data == generic(MetadataSerializer(unsaved), unsaved)


@pytest.mark.parametrize("computed_at", [
    datetime(2026, 12, 2, 1, 2, 3, tzinfo=timezone.utc),
    datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=timezone.utc),
    datetime(2026, 12, 2, 3, 2, 3, tzinfo=ZoneInfo("Europe/Paris")),
])
def test_the_library_stats_are_written_as_drf_writes_them(synced_results: Path, computed_at: datetime) -> None:
    stats = {**selectors.library_stats(now=computed_at), "favorite_sessions": 3}
    assert stats["total_sessions"] > 0
    serializer = GlobalStatsSerializer(stats)
    assert serializer.data == dict(serializers.Serializer.to_representation(serializer, stats))
