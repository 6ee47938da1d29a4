"""Read queries for the API and the admin: what to load, in a constant number of queries."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, NamedTuple, cast

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Count, ForeignObjectRel, Prefetch, QuerySet, Sum

from sdgen_site.prepared import PreparedQuery
from sessions.image_parameters import PARAM_KEYS
from sessions.models import (
    IN_LIBRARY,
    Event,
    ResultsFolderAlarm,
    Session,
    SessionImage,
    SessionMetadata,
    SessionStats,
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


# A session's own columns and the few of its stats its images show (their parameters): what the
# API's per-session answers read, by one query compiled once (sdgen_site.prepared). Any other
# column still loads when read, by a query of its own.
_SESSION_COLUMNS = [field.attname for field in Session._meta.concrete_fields]
# from_db takes the values in the model's column order.
_STATS_COLUMNS = [field.attname for field in SessionStats._meta.concrete_fields
                  if field.attname in {"session_id", "source", *PARAM_KEYS}]
_STATS_RELATION = cast(ForeignObjectRel, Session._meta.get_field("stats"))
_SESSION_NAMED = PreparedQuery(lambda name: (
    Session.objects.in_library().filter(name=name).order_by()
    .values_list(*_SESSION_COLUMNS, "metadata__updated_at", *(f"stats__{column}" for column in _STATS_COLUMNS))[:1]))


def session_named(name: str) -> Session | None:
    """The session of this name in the library, with its stats' source and parameters (the rest
    of its stats deferred) and when its metadata last changed (``metadata_updated_at``, None if
    never: what its item's validator needs); None without one."""
    row = next(iter(_SESSION_NAMED.rows(name)), None)
    if row is None:
        return None
    session = Session.from_db(DEFAULT_DB_ALIAS, _SESSION_COLUMNS, row[:len(_SESSION_COLUMNS)])
    session.metadata_updated_at = row[len(_SESSION_COLUMNS)]
    stats_row = row[len(_SESSION_COLUMNS) + 1:]
    if stats_row[0] is None:  # no stats row: remembered as select_related does, so no query asks again
        _STATS_RELATION.set_cached_value(session, None)
    else:
        session.stats = SessionStats.from_db(DEFAULT_DB_ALIAS, _STATS_COLUMNS, stats_row)
    return session


class SessionVersion(NamedTuple):
    """What a session's answers are validated by (sessions.conditional): moves with every write."""

    pk: int
    change_seq: int
    updated_at: datetime
    metadata_updated_at: datetime | None  # None: no metadata written yet

    @classmethod
    def of(cls, session: Session) -> SessionVersion:
        """From ``session_named``'s session."""
        return cls(session.pk, session.change_seq, session.updated_at, session.metadata_updated_at)


_SESSION_VERSION = PreparedQuery(lambda name: (
    Session.objects.in_library().filter(name=name).order_by()
    .values_list("pk", "change_seq", "updated_at", "metadata__updated_at")[:1]))


def session_version(name: str) -> SessionVersion | None:
    """The version of the session of this name in the library, None without one: four columns,
    enough to answer 304 or a kept answer without reading the session whole."""
    return next((SessionVersion(*row) for row in _SESSION_VERSION.rows(name)), None)


_IN_LIBRARY_NAMED = PreparedQuery(lambda name: (
    Session.objects.in_library().filter(name=name).order_by().values_list("pk")[:1]))


def in_library(name: str) -> bool:
    """Whether a session of this name is in the library (each image file asked for checks)."""
    return bool(_IN_LIBRARY_NAMED.rows(name))


def recently_liked_sessions(*, fields: Collection[str] | None = None) -> QuerySet[Session]:
    return sessions_with_details(fields=fields).filter(metadata__is_favorite=True).order_by("-metadata__updated_at", "-id")


def session_events(session: Session) -> QuerySet[Event]:
    return Event.objects.filter(session=session).select_related("session").order_by("timestamp", "id")


def session_images(session: Session | int) -> QuerySet[SessionImage]:
    """The images of a session (or of the session with this id), in their order."""
    return SessionImage.objects.filter(session=session).order_by("index", "filename")


_IMAGE_COLUMNS = [field.attname for field in SessionImage._meta.concrete_fields]
IMAGES_READ_WHOLE = 500  # at most this many rows for a session's images read in one go
_SESSION_IMAGES = PreparedQuery(lambda session_id: (
    SessionImage.objects.filter(session_id=session_id).order_by("index", "filename")
    .values_list(*_IMAGE_COLUMNS)[:IMAGES_READ_WHOLE + 1]), marker=PreparedQuery.NUMBER_MARKER)


def every_session_image(session: Session) -> list[SessionImage] | None:
    """All the session's images in ``session_images`` order by one query compiled once (a
    session's whole page, polled by clients and the gallery), or None when it has more than
    IMAGES_READ_WHOLE (page through ``session_images`` then)."""
    rows = _SESSION_IMAGES.rows(session.pk)
    if len(rows) > IMAGES_READ_WHOLE:
        return None
    images = [SessionImage.from_db(DEFAULT_DB_ALIAS, _IMAGE_COLUMNS, row) for row in rows]
    for image in images:
        image.session = session
    return images


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


_METADATA_COLUMNS = [field.attname for field in SessionMetadata._meta.concrete_fields]
_TAG_COLUMNS = [field.attname for field in SessionTag._meta.concrete_fields]
# One row per tag (one row of empty tag columns without tags; none without the session).
_METADATA_NAMED = PreparedQuery(lambda name: (
    Session.objects.in_library().filter(name=name).order_by("metadata__tags__position")
    .values_list("pk", *(f"metadata__{column}" for column in _METADATA_COLUMNS),
                 *(f"metadata__tags__{column}" for column in _TAG_COLUMNS))))


def metadata_named(name: str) -> SessionMetadata | None:
    """The metadata of the session of this name, with its session (name only) and its tags in
    order, or unsaved defaults if none was ever set; None without such a session in the library.
    One query, compiled once per connection (sdgen_site.prepared)."""
    rows = _METADATA_NAMED.rows(name)
    if not rows:
        return None
    row = rows[0]
    session = Session.from_db(DEFAULT_DB_ALIAS, ["id", "name"], [row[0], name])
    if row[1] is None:
        return unsaved_metadata(session)
    tags_at = 1 + len(_METADATA_COLUMNS)
    metadata = SessionMetadata.from_db(DEFAULT_DB_ALIAS, _METADATA_COLUMNS, row[1:tags_at])
    metadata.session = session
    tags = [SessionTag.from_db(DEFAULT_DB_ALIAS, _TAG_COLUMNS, tag_row[tags_at:])
            for tag_row in rows if tag_row[tags_at] is not None]
    # Held as prefetch_related holds them, so metadata.tags.all() runs no query.
    prefetched = metadata.tags.all()
    prefetched._result_cache, prefetched._prefetch_done = tags, True
    metadata._prefetched_objects_cache = {"tags": prefetched}
    return metadata


_COUNTED_KEY = "sessions:library-stats"  # (the library version, the counts made at it)


def library_stats(*, now: datetime, version: tuple | None = None) -> dict[str, Any]:
    """Counts over the sessions present on disk (missing ones are left out), read from the
    ``session_present_counts`` index alone, and favourites from the (few) metadata rows.

    With ``version`` (conditional.library_version(): it moves with every write to a session or
    its metadata), counts made at that same version are answered again from Django's cache: a
    client polling an unchanged library of a million images costs one small query, not a count
    of them all."""
    counted = cache.get(_COUNTED_KEY) if version is not None else None
    if counted is not None and counted[0] == version:
        return counted[1]
    stats = _count_library(now=now)
    if version is not None and version[1] is not None:  # (nothing synced yet: no version to trust)
        cache.set(_COUNTED_KEY, (version, stats), timeout=None)
    return stats


def _count_library(*, now: datetime) -> dict[str, Any]:
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
