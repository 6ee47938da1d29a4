"""A session (one generator run), its queryset (each rule about which sessions, once), its stats."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models import ExpressionWrapper, F, OrderBy, Q
from django.db.models.functions import Upper

from sessions.models.choices import EventSource, SessionStatus

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

    # Set by counted_as(): a cheaper count of exactly these rows, and which rows it is for.
    _known_count: tuple[tuple[str, tuple[Any, ...]], Callable[[], int]] | None = None

    def counted_as(self, count: Callable[[], int]) -> SessionQuerySet:
        """These sessions, counted by ``count`` instead of by a query over their rows (e.g. a
        search of the whole library, counted in its index). A queryset made from this one by a
        further filter holds other rows and is counted the usual way; another order does not
        change the count."""
        clone = self.all()
        clone._known_count = (clone.ids_sql(), count)
        return clone

    def count(self) -> int:
        if self._known_count is not None and self._result_cache is None and not self.query.is_sliced:
            rows, count = self._known_count
            try:
                same_rows = self.ids_sql() == rows
            except EmptyResultSet:  # none(): no query to compare
                same_rows = False
            if same_rows:
                return count()
        return super().count()

    def ids_sql(self) -> tuple[str, tuple[Any, ...]]:
        """Which rows this is, whatever their order and the columns loaded: the SQL of their ids."""
        sql, params = self.order_by().values_list("pk").query.sql_with_params()
        return sql, tuple(params)

    def _clone(self) -> SessionQuerySet:
        # Every queryset made from this one is a clone: each keeps the count, and count() checks
        # that its rows are still the same.
        clone = cast(SessionQuerySet, super()._clone())  # type: ignore[misc]  # not in the type stubs
        clone._known_count = self._known_count
        return clone

    def favourite(self, value: bool = True) -> SessionQuerySet:
        # As a list of ids from the favourites' own index rather than a join: the favourites are
        # few, and with a join SQLite's planner (its statistics are sampled) walked every session
        # of a status and looked each one up (the admin's status + favourite list: 180 ms at 100k).
        metadata = cast("type[models.Model]", self.model._meta.get_field("metadata").related_model)
        return self._flag(Q(pk__in=metadata._default_manager.filter(is_favorite=True).values("session_id")), value)

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
    # Read along with the session by selectors.session_named (not a column of this table).
    metadata_updated_at: datetime | None = None

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
    # The stats object as the API answers it (sessions.stats_object), rendered by the sync that
    # writes this row and its session's counts; null: built per request.
    rendered = models.TextField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "session stats"
        # The list's model filter reads the model of each candidate session from this index alone.
        # The second is for PostgreSQL's planner: ANALYZE keeps statistics of an indexed
        # expression, so a model filter (a case-insensitive substring) is estimated from the
        # models actually there; without them it guessed that one session in 200 matches and, a
        # model every session has, read all 100,000 stats rows for a page of favourites (86 ms,
        # 0.8 ms with it).
        # The third finds stats of another version (sessions.services.known) without reading
        # every stats row, wide with their JSON, at each re-sync.
        indexes = [models.Index(fields=["session", "sd_model"], name="stats_model_of_session"),
                   models.Index(Upper("sd_model"), name="stats_model_upper"),
                   models.Index(fields=["stats_version"], name="stats_of_version")]

    def __str__(self) -> str:
        return f"stats of {self.session_id}"
