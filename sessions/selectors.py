"""Read queries for the API and the admin: what to load, in a constant number of queries."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import Count, Prefetch, QuerySet, Sum

from sdgen_site.prepared import PreparedQuery
from sessions.image_parameters import PARAM_KEYS
from sessions.models import (
    IN_LIBRARY,
    Event,
    ResultsFolderAlarm,
    Session,
    SessionImage,
    SessionMetadata,
    SessionStatus,
    SessionTag,
    WatcherHeartbeat,
    newest_images_first,
)


def sessions_with_details(*, fields: Collection[str] | None = None) -> QuerySet[Session]:
    """Sessions with what an API item shows: stats, metadata and its tags; with ``fields`` (an
    item's field names), only the parts those need."""
    sessions = Session.objects.in_library()
    if fields is None or "stats" in fields:
        sessions = sessions.select_related("stats")
    if fields is None or "metadata" in fields:
        sessions = sessions.select_related("metadata").prefetch_related(
            Prefetch("metadata__tags", queryset=SessionTag.objects.order_by("position")))
    return sessions


class StatsAnswer(NamedTuple):
    pk: int
    change_seq: int
    updated_at: datetime
    has_manifest: bool
    source: str | None  # None: no stats row
    rendered: str | None


_STATS_ANSWER = PreparedQuery(lambda name: (
    Session.objects.in_library().filter(name=name).order_by()
    .values_list("pk", "change_seq", "updated_at", "has_manifest", "stats__source", "stats__rendered")[:1]))


def stats_answer(name: str) -> StatsAnswer | None:
    """What ``GET /api/sessions/{name}/stats`` needs, in one narrow query (prepared: the stats
    are polled often): the session's validators, whether it has stats, and their rendered JSON."""
    return next((StatsAnswer(*row) for row in _STATS_ANSWER.rows(name)), None)


def recently_liked_sessions(*, fields: Collection[str] | None = None) -> QuerySet[Session]:
    return sessions_with_details(fields=fields).filter(metadata__is_favorite=True).order_by("-metadata__updated_at", "-id")


def session_events(session: Session) -> QuerySet[Event]:
    return Event.objects.filter(session=session).select_related("session").order_by("timestamp", "id")


def session_images(session: Session) -> QuerySet[SessionImage]:
    return SessionImage.objects.filter(session=session).order_by("index", "filename")


def library_images(*, with_params: bool = True) -> QuerySet[SessionImage]:
    """Images across the library (forgotten sessions' left out), newest first, with their
    session's name and (``with_params``) the settings its manifest gives (an sdgen image's
    parameters)."""
    images = SessionImage.objects.all()
    forgotten = Session.objects.filter(~IN_LIBRARY).values("pk")
    if forgotten.exists():  # seldom: no test per image at all then
        images = images.exclude(session_id__in=forgotten)
    settings = [f"session__stats__{key}" for key in PARAM_KEYS] if with_params else []
    return (images.select_related("session__stats" if with_params else "session")
            .only(*(f.name for f in SessionImage._meta.concrete_fields), "session__name", *settings)
            .order_by(*newest_images_first()))


def metadata_of(session: Session) -> SessionMetadata | None:
    return (
        SessionMetadata.objects.filter(session=session)
        .select_related("session")
        .prefetch_related(Prefetch("tags", queryset=SessionTag.objects.order_by("position")))
        .first()
    )


def library_stats(*, now: datetime) -> dict[str, Any]:
    """Counts over the sessions present on disk (missing ones are left out), read from the
    ``session_present_counts`` index alone, and favourites from the (few) metadata rows."""
    rows = (Session.objects.present().in_library().order_by().values("status")
            .annotate(sessions=Count("id"), images=Sum("images_actual")))
    by_status = {row["status"]: row for row in rows}
    # The favourites of sessions on disk: all favourites, less those of the (few) missing ones.
    favourites = SessionMetadata.objects.filter(is_favorite=True)
    missing_favourites = favourites.filter(session__in=Session.objects.missing().values("pk"))
    totals = {
        "total_sessions": sum(row["sessions"] for row in by_status.values()),
        "sessions_ongoing": by_status.get(SessionStatus.ONGOING, {}).get("sessions", 0),
        "sessions_completed": by_status.get(SessionStatus.COMPLETED, {}).get("sessions", 0),
        "sessions_aborted": by_status.get(SessionStatus.ABORTED, {}).get("sessions", 0),
        "total_images": sum(row["images"] or 0 for row in by_status.values()),
        "favorite_sessions": favourites.count() - missing_favourites.count(),
    }
    return {**totals, "computed_at": now}


def watcher_heartbeat() -> WatcherHeartbeat | None:
    return WatcherHeartbeat.objects.filter(pk=1).first()


def watcher_health(*, now: datetime, heartbeat: WatcherHeartbeat | None = None) -> dict[str, Any]:
    heartbeat = heartbeat or watcher_heartbeat()
    if heartbeat is None:
        return {"running": False, "mode": None, "last_event_at": None, "last_sync_at": None, "sessions_watched": None}
    return {
        "running": heartbeat.is_running(now=now),
        "mode": heartbeat.mode,
        "last_event_at": heartbeat.last_event_at,
        "last_sync_at": heartbeat.last_sync_at,
        "sessions_watched": heartbeat.sessions_watched,
    }


def missing_session_names() -> list[str]:
    """Sessions in the library whose folder is gone (they can be forgotten)."""
    return list(Session.objects.in_library().filter(is_missing=True).order_by("name").values_list("name", flat=True))


def results_folder_alarm() -> ResultsFolderAlarm | None:
    return ResultsFolderAlarm.objects.filter(pk=1).first()


def library_health(*, now: datetime) -> dict[str, Any]:
    """What ``/api/health`` says: ``warning`` with the problems when something needs a person.
    Nothing in it is private (no paths, no database names): it answers without credentials."""
    alarm = results_folder_alarm()
    problems = [alarm.message(with_path=False)] if alarm is not None else []
    return {"status": "warning" if problems else "ok", "watcher": watcher_health(now=now), "problems": problems}


def unsaved_metadata(session: Session) -> SessionMetadata:
    """What a session's metadata reads as before anyone set it: the defaults, no timestamps."""
    return SessionMetadata(session=session)
