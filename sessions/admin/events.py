"""The event log: read-only for everyone."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from sessions.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: events are never changed or removed."""

    list_display = ["timestamp", "session", "kind", "from_status", "to_status", "source", "performer_id", "reason"]
    list_filter = [("timestamp", admin.DateFieldListFilter), "kind", "source", "performer_id"]
    list_select_related = ["session"]
    search_fields = ["session__name"]
    list_per_page = 100
    show_full_result_count = False
    ordering = ["-timestamp", "-id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False
