"""Sessions (one generator run each), their cached stats and images, user metadata, events.

The manifest on disk is the source of truth: ``Session``'s counts, ``SessionStats`` and
``SessionImage`` are a cache rebuilt from it. ``SessionMetadata`` and ``Event`` are the
user's and the system's own records and are never rebuilt.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NoReturn

from django.conf import settings
from django.db import connections, models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import ExpressionWrapper, F, OrderBy, Q

from sessions.stats import from_ns

SYSTEM_PERFORMER = "system"


@cache
def _column_limits(model: type[models.Model], field_name: str) -> tuple[int | None, tuple[int, int] | None]:
    field = model._meta.get_field(field_name)
    length = field.max_length if isinstance(field, models.CharField) else None
    bounds = None
    if isinstance(field, models.IntegerField):
        bounds = BaseDatabaseOperations.integer_field_ranges.get(field.get_internal_type())
    return length, bounds


def integer_range(model: type[models.Model], field_name: str) -> tuple[int, int]:
    bounds = _column_limits(model, field_name)[1]
    if bounds is None:
        raise ValueError(f"{model.__name__}.{field_name} is not an integer column")
    return bounds


def fit_to_column(model: type[models.Model], field_name: str, value: Any) -> Any:
    """``value`` made storable in the column: text cut to its length, numbers outside its range
    dropped (None). Manifests can hold anything; one odd value must not fail a whole batch."""
    if value is None:
        return None
    length, bounds = _column_limits(model, field_name)
    if length is not None and isinstance(value, str) and len(value) > length:
        return value[: length - 1] + "…"
    if bounds is not None and isinstance(value, int) and not bounds[0] <= value <= bounds[1]:
        return None
    return value


class SessionStatus(models.TextChoices):
    ONGOING = "ongoing"
    COMPLETED = "completed"
    ABORTED = "aborted"


class EventSource(models.TextChoices):
    WATCHDOG = "watchdog"
    SYSTEM = "system"
    ADMIN = "admin"
    API = "api"


class EventKind(models.TextChoices):
    DISCOVERED = "discovered"
    STATUS_CHANGED = "status_changed"
    MISSING = "missing"
    RESTORED = "restored"
    RENAMED = "renamed"
    FORGOTTEN = "forgotten"


# Sessions a person can see (forgotten ones are in no list): the condition of the list indexes.
IN_LIBRARY = Q(forgotten_at__isnull=True)
# Columns a list may be ordered by that can be null (sessions without a manifest).
_NULLABLE_ORDERS = frozenset({"completion_percentage"})


def list_order(field: str, *, descending: bool) -> list[Any]:
    """How a list of sessions is ordered by ``field``: sessions without a value last either way,
    ties newest row first. The list indexes are built from these very expressions, so that
    both databases walk an index for any order and any page."""
    order: list[Any] = []
    if field in _NULLABLE_ORDERS:
        order.append(OrderBy(ExpressionWrapper(Q(**{f"{field}__isnull": True}), output_field=models.BooleanField())))
    return [*order, OrderBy(F(field), descending=descending), OrderBy(F("id"), descending=True)]


class SessionQuerySet(models.QuerySet["Session"]):
    """The rules that say which sessions are what, once, for the API's filters, the admin's
    filters and the selectors alike.

    Each flag keeps the sessions it describes with ``True`` and the others with ``False``; a
    session without metadata is not a favourite, not a test run and not marked complete.
    """

    def favourite(self, value: bool = True) -> SessionQuerySet:
        return self._flag(Q(metadata__is_favorite=True), value)

    def test_runs(self, value: bool = True) -> SessionQuerySet:
        return self._flag(Q(metadata__is_test=True), value)

    def seed_sweeps(self, value: bool = True) -> SessionQuerySet:
        return self._flag(Q(stats__is_seed_sweep=True), value)

    def complete(self, value: bool = True) -> SessionQuerySet:
        """At or above SDGEN_COMPLETE_THRESHOLD percent, or marked complete by the user."""
        return self._flag(Q(completion_percentage__gte=settings.SDGEN_COMPLETE_THRESHOLD)
                          | Q(metadata__is_complete=True), value)

    def missing(self, value: bool = True) -> SessionQuerySet:
        return self._flag(Q(is_missing=True), value)

    def with_sync_error(self, value: bool = True) -> SessionQuerySet:
        return self._flag(Q(sync_error__isnull=False), value)

    def _flag(self, condition: Q, value: bool) -> SessionQuerySet:
        return self.filter(condition) if value else self.exclude(condition)

    def in_library(self) -> SessionQuerySet:
        """Every session a person can see: forgotten ones are left out of every list and count."""
        return self.filter(IN_LIBRARY)

    def present(self) -> SessionQuerySet:
        """Sessions whose folder is on disk (a forgotten session is always missing)."""
        return self.filter(is_missing=False)

    def ongoing(self) -> SessionQuerySet:
        return self.filter(status=SessionStatus.ONGOING)

    def stale(self, *, inactive_since: datetime) -> SessionQuerySet:
        """Ongoing sessions whose folder has shown no change since ``inactive_since``."""
        return self.ongoing().filter(last_activity_at__lt=inactive_since)


class Session(models.Model):
    """A session folder under the results root, identified by its folder name."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255, unique=True, help_text="Folder name under the results root.")
    status = models.CharField(max_length=16, choices=SessionStatus.choices, db_index=True)
    status_source = models.CharField(max_length=16, choices=EventSource.choices)
    status_changed_at = models.DateTimeField()
    # Set when a person or the stale rule sets the status: the manifest's mtime at that moment
    # (0 without a manifest). Until the manifest changes again its status does not override.
    status_pinned_manifest_ns = models.BigIntegerField(null=True, blank=True)

    has_manifest = models.BooleanField(default=False)
    is_missing = models.BooleanField(default=False, db_index=True)
    # Set when a person removes a missing session from the library; cleared if its folder returns.
    forgotten_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(null=True, blank=True)

    created_at = models.DateTimeField(help_text="When the run started.")
    images_actual = models.PositiveIntegerField(default=0)
    images_expected = models.PositiveIntegerField(null=True, blank=True)
    completion_percentage = models.FloatField(null=True, blank=True)
    last_activity_at = models.DateTimeField(help_text="Newest change seen in the folder (stale rule).")

    # Identity beyond the name, for renames and moves: the folder as a file system object, and
    # what a copy shares (its manifest's SHA-1, or its images' names and sizes).
    folder_device = models.BigIntegerField(null=True, blank=True)
    folder_inode = models.BigIntegerField(null=True, blank=True)
    fingerprint = models.CharField(max_length=40, null=True, blank=True, db_index=True)
    # Change detection: a folder whose directory and manifest stats match is not read again.
    folder_mtime_ns = models.BigIntegerField(null=True, blank=True)
    manifest_mtime_ns = models.BigIntegerField(null=True, blank=True)
    manifest_size = models.BigIntegerField(null=True, blank=True)

    first_seen_at = models.DateTimeField()
    synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    # The image that stands for the session in lists (sessions.image_files.cover_image), kept by
    # the sync so that a page of sessions needs no look at their images.
    cover_image = models.CharField(max_length=255, null=True, blank=True)
    # The number of the last change a list would show (sessions.changes): the live stream's cursor.
    change_seq = models.BigIntegerField(default=0, db_index=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # One index per order a list can ask for (ties by -id), over the sessions in the library,
        # so that any page, however deep, is a walk along an index (SPEC section 8's orderings).
        indexes = [
            models.Index(fields=["status", "last_activity_at"], name="session_status_activity"),
            # /api/stats: counts and images per status, from this index alone.
            models.Index(fields=["status", "images_actual"], name="session_present_counts",
                         condition=Q(is_missing=False) & IN_LIBRARY),
            models.Index(fields=["id"], name="session_forgotten", condition=~IN_LIBRARY),
            *(models.Index(*list_order(field, descending=descending), condition=IN_LIBRARY,
                           name=f"session_by_{name}{'' if descending else '_asc'}")
              for name, field in [("created", "created_at"), ("images", "images_actual"),
                                  ("updated", "updated_at"), ("completion", "completion_percentage")]
              for descending in (True, False)),
        ]

    def __str__(self) -> str:
        return self.name


class SessionStats(models.Model):
    """Stats derived from the manifest (SPEC section 3); absent without a readable manifest."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, primary_key=True, related_name="stats")
    sd_model = models.CharField(max_length=500, null=True, blank=True, db_index=True)
    sampler_name = models.CharField(max_length=200, null=True, blank=True)
    scheduler = models.CharField(max_length=200, null=True, blank=True)
    steps = models.IntegerField(null=True, blank=True)
    cfg_scale = models.FloatField(null=True, blank=True)
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)
    template_version = models.CharField(max_length=100, null=True, blank=True)
    generation_mode = models.CharField(max_length=100, null=True, blank=True)
    seed_mode = models.CharField(max_length=100, null=True, blank=True)
    seed_base = models.BigIntegerField(null=True, blank=True)
    seed_min = models.BigIntegerField(null=True, blank=True)
    seed_max = models.BigIntegerField(null=True, blank=True)
    resolved_prompt = models.TextField(null=True, blank=True)
    negative_prompt = models.TextField(null=True, blank=True)
    images_recorded = models.PositiveIntegerField(default=0)
    is_seed_sweep = models.BooleanField(default=False, db_index=True)
    placeholders = models.JSONField(default=dict, blank=True)
    variations_summary = models.JSONField(default=dict, blank=True)
    variations_theoretical = models.BigIntegerField(null=True, blank=True)
    manifest_generated_at = models.DateTimeField(null=True, blank=True)
    first_image_created_at = models.DateTimeField(null=True, blank=True)
    last_image_created_at = models.DateTimeField(null=True, blank=True)
    stats_computed_at = models.DateTimeField()
    stats_version = models.PositiveIntegerField()
    # "manifest", or "images" for a folder without one: read from the parameters in its images.
    source = models.CharField(max_length=16, default="manifest")

    class Meta:
        verbose_name_plural = "session stats"

    def __str__(self) -> str:
        return f"stats of {self.session_id}"


def newest_images_first() -> list[Any]:
    """The order of images across the library: newest file first, recorded-only images (no file,
    no time) last; the ``image_newest_first`` index is built from these very expressions."""
    return [OrderBy(ExpressionWrapper(Q(mtime_ns__isnull=True), output_field=models.BooleanField())),
            OrderBy(F("mtime_ns"), descending=True), OrderBy(F("id"), descending=True)]


class SessionImageQuerySet(models.QuerySet["SessionImage"]):
    INSERT_FIELDS = (
        "session_id", "filename", "index", "seed", "prompt", "negative_prompt", "applied_variations",
        "file_size", "mtime_ns", "generator", "params", "width", "height", "text_id",
    )

    def insert_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert plain tuples ordered as ``INSERT_FIELDS`` in one statement.

        A first sync writes hundreds of thousands of rows; ``bulk_create`` spends most of its
        time compiling SQL per object, which this skips. No signals, no returned keys.
        """
        if not rows:
            return 0
        connection = connections[self.db]
        model = self.model
        columns = [model._meta.get_field(name.removesuffix("_id")).column  # type: ignore[union-attr]
                   for name in self.INSERT_FIELDS]
        json_position = self.INSERT_FIELDS.index("applied_variations")
        params_position = self.INSERT_FIELDS.index("params")
        adapt_json = connection.ops.adapt_json_value
        table = connection.ops.quote_name(str(model._meta.db_table))
        column_list = ", ".join(connection.ops.quote_name(str(column)) for column in columns)
        prepared = []
        # A run repeats a handful of variation combinations: encode each combination once.
        encoded: dict[tuple, Any] = {}
        for values in rows:
            row = list(values)
            variations = row[json_position]
            key = tuple(variations.items())
            if key not in encoded:
                encoded[key] = adapt_json(variations, None)
            row[json_position] = encoded[key]
            if row[params_position] is not None:
                row[params_position] = adapt_json(row[params_position], None)
            prepared.append(row)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY is several times faster than psycopg's pipelined executemany. It runs on the
                # driver's cursor, so its errors are turned into Django's here (IntegrityError…).
                with connection.wrap_database_errors, cursor.cursor.copy(
                    f"COPY {table} ({column_list}) FROM STDIN"
                ) as copy:
                    for row in prepared:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})", prepared)
        return len(prepared)


class SessionImage(models.Model):
    """An image of a session: a file on disk, an entry in the manifest, or both."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="images")
    filename = models.CharField(max_length=255)
    index = models.IntegerField(null=True, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    prompt = models.TextField(null=True, blank=True)
    negative_prompt = models.TextField(null=True, blank=True)
    applied_variations = models.JSONField(default=dict, blank=True)
    # Null size and mtime: the manifest records the image but the file is not on disk.
    file_size = models.BigIntegerField(null=True, blank=True)
    mtime_ns = models.BigIntegerField(null=True, blank=True)
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)
    # "sdgen" for an image its session's manifest describes; else the generator whose parameters
    # the image itself carries (sessions.image_parameters), or null.
    generator = models.CharField(max_length=16, null=True, blank=True)
    # The parameters the image carries itself (null for an image the manifest describes: its
    # session's stats hold them; {} when it carries none).
    params = models.JSONField(null=True, blank=True)
    # What search finds the image by (its prompt, negative prompt, variation values), shared with
    # every image generated from the same text: a run repeats a few prompts over many images.
    text = models.ForeignKey("ImageText", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    objects = SessionImageQuerySet.as_manager()

    class Meta:
        ordering = ["session", "index", "filename"]
        constraints = [models.UniqueConstraint(fields=["session", "filename"], name="unique_image_per_session")]
        indexes = [
            models.Index(fields=["session", "index"], name="image_session_index"),
            models.Index(*newest_images_first(), name="image_newest_first"),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def exists(self) -> bool:
        return self.file_size is not None

    @property
    def created_at(self) -> datetime | None:
        return from_ns(self.mtime_ns) if self.mtime_ns is not None else None


class UserRating(models.TextChoices):
    LIKE = "like"
    DISLIKE = "dislike"


class SessionMetadata(models.Model):
    """What the user says about a session. Kept through rebuilds and disappearances."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, primary_key=True, related_name="metadata")
    is_test = models.BooleanField(default=False, db_index=True)
    is_complete = models.BooleanField(default=False)
    is_favorite = models.BooleanField(default=False, db_index=True)
    user_rating = models.CharField(max_length=8, choices=UserRating.choices, null=True, blank=True)
    user_note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Folded tags and note (sessions.search.documents), indexed for search.
    search_text = models.TextField(default="", blank=True, editable=False)

    class Meta:
        verbose_name_plural = "session metadata"

    def __str__(self) -> str:
        return f"metadata of {self.session_id}"

    @property
    def tag_list(self) -> list[str]:
        """Tag names in the user's order (uses prefetched tags when there are)."""
        if self._state.adding:
            return []
        return [tag.name for tag in self.tags.all()]


class SessionTag(models.Model):
    """One tag of a session's metadata; ``position`` keeps the user's order."""

    metadata = models.ForeignKey(SessionMetadata, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=64, db_index=True)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["metadata", "position"]
        constraints = [models.UniqueConstraint(fields=["metadata", "name"], name="unique_tag_per_session")]

    def __str__(self) -> str:
        return self.name


class ImageText(models.Model):
    """One distinct search text of images (folded, ``sessions.search.documents``); the full-text
    index follows it inside the database. Identified by its SHA-1, written once."""

    digest = models.CharField(max_length=40, unique=True)
    text = models.TextField()

    def __str__(self) -> str:
        return self.text[:60]


class SessionSearch(models.Model):
    """What search finds a session by: its own words (name, model, tags, note) and the words of
    its images (their distinct prompts, negative prompts, variation values), folded
    (sessions.search.documents); the full-text index follows it inside the database."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, primary_key=True, related_name="search")
    own_text = models.TextField(default="", blank=True)
    images_text = models.TextField(default="", blank=True)

    class Meta:
        verbose_name_plural = "session search documents"

    def __str__(self) -> str:
        return f"search document of {self.session_id}"


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an event."""


class EventQuerySet(models.QuerySet["Event"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("events are append-only: they cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("events are append-only: they cannot be deleted")

    # Django's internal bulk deletion path (used by cascades) bypasses delete().
    def _raw_delete(self, using: Any) -> NoReturn:
        raise AppendOnlyError("events are append-only: they cannot be deleted")


class Event(models.Model):
    """One entry of a session's append-only history (SPEC section 5)."""

    record_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices, db_index=True)
    from_status = models.CharField(max_length=16, choices=SessionStatus.choices, null=True, blank=True)
    to_status = models.CharField(max_length=16, choices=SessionStatus.choices, null=True, blank=True)
    source = models.CharField(max_length=16, choices=EventSource.choices, db_index=True)
    performer_id = models.CharField(max_length=150, db_index=True)
    reason = models.TextField(blank=True, default="")
    timestamp = models.DateTimeField(db_index=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [models.Index(fields=["session", "timestamp"], name="event_session_time")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="status_changed") | (Q(from_status__isnull=False) & Q(to_status__isnull=False)),
                name="status_change_has_both_ends",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status or ''}→{self.to_status or ''} ({self.source})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("events are append-only: an existing event cannot be saved again")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("events are append-only: they cannot be deleted")


class ChangeCounter(models.Model):
    """The last change number handed out (one row, sessions.changes)."""

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"change {self.value}"


class ResultsFolderAlarm(models.Model):
    """Raised (one row) by a sync that would have marked most of the library missing: the
    results folder looks wrong, so nothing was marked (SPEC section 11)."""

    results_dir = models.CharField(max_length=1000)
    raised_at = models.DateTimeField()
    sessions_present = models.PositiveIntegerField()
    sessions_vanished = models.PositiveIntegerField()

    def __str__(self) -> str:
        return self.message()

    def message(self, *, with_path: bool = True) -> str:
        where = f"the results folder {self.results_dir}" if with_path else "the results folder"
        return (f"{where} looks wrong: {self.sessions_vanished} of the {self.sessions_present} sessions on disk "
                "are not in it, so none was marked missing. If they really are gone, run "
                "`manage.py syncsessions --accept-missing`.")


class WatcherHeartbeatManager(models.Manager["WatcherHeartbeat"]):
    """The heartbeat's writes: one row, written by the running watcher."""

    def beat(self, *, mode: str, mode_reason: str, pid: int, results_dir: str, started_at: datetime,
             beat_at: datetime, last_event_at: datetime | None, last_sync_at: datetime | None,
             sessions_watched: int) -> None:
        self.update_or_create(
            pk=1,
            defaults={
                "mode": mode, "mode_reason": mode_reason[:300], "pid": pid, "results_dir": results_dir,
                "started_at": started_at, "beat_at": beat_at, "last_event_at": last_event_at,
                "last_sync_at": last_sync_at, "sessions_watched": sessions_watched, "stopped_at": None,
            },
        )

    def record_stop(self, *, pid: int, at: datetime) -> None:
        """The watcher with ``pid`` stopped (a newer one's row is left alone)."""
        self.filter(pk=1, pid=pid).update(stopped_at=at, beat_at=at)


class WatcherHeartbeat(models.Model):
    """What the running watcher last said about itself (one row), for /api/health and the admin."""

    mode = models.CharField(max_length=16)
    mode_reason = models.CharField(max_length=300, blank=True, default="")
    pid = models.IntegerField()
    results_dir = models.CharField(max_length=1000)
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    sessions_watched = models.PositiveIntegerField(default=0)
    stopped_at = models.DateTimeField(null=True, blank=True)

    objects = WatcherHeartbeatManager()

    # A beat this old means the watcher is gone without saying so (killed, machine asleep).
    RUNNING_WITHIN = timedelta(seconds=30)

    class Meta:
        verbose_name = "watcher heartbeat"

    def __str__(self) -> str:
        return f"watcher ({self.mode}, pid {self.pid})"

    def is_running(self, *, now: datetime) -> bool:
        return self.stopped_at is None and now - self.beat_at <= self.RUNNING_WITHIN
