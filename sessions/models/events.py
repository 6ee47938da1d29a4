"""The append-only event log, and the counter that tells listeners something changed."""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.db import models
from django.db.models import Q

from sessions.models.choices import EventKind, EventSource, SessionStatus
from sessions.models.session import Session


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
    # When it was handed out: the library's Last-Modified (sessions.conditional).
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"change {self.value}"
