"""The choices of a session's status and of its events."""

from __future__ import annotations

from django.db import models

SYSTEM_PERFORMER = "system"


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
