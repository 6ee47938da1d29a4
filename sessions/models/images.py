"""A session's image rows (a cache of what the folder holds)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connections, models
from django.db.models import ExpressionWrapper, F, OrderBy, Q

from sessions.bulk_insert import copy_rows, json_text
from sessions.models.session import Session
from sessions.stats import from_ns


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
        prepared = []
        # A run repeats a handful of variation combinations: encode each combination once, as
        # text (what Django hands SQLite, and what COPY reads a JSON column from; PostgreSQL's
        # own adapter would encode it again for every row).
        encoded: dict[tuple, str] = {}
        for values in rows:
            row = list(values)
            variations = row[json_position]
            key = tuple(variations.items())
            if key not in encoded:
                encoded[key] = json_text(variations)
            row[json_position] = encoded[key]
            if row[params_position] is not None:
                row[params_position] = json_text(row[params_position])
            prepared.append(row)
        if connection.vendor == "postgresql":  # several times faster than psycopg's pipelined executemany
            copy_rows(connection, table=str(model._meta.db_table), columns=[str(column) for column in columns],
                      rows=prepared)
        else:
            table = connection.ops.quote_name(str(model._meta.db_table))
            column_list = ", ".join(connection.ops.quote_name(str(column)) for column in columns)
            placeholders = ", ".join(["%s"] * len(columns))
            with connection.cursor() as cursor:
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
