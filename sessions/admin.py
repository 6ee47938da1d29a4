"""Read-only views of the library in the Django admin."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from sessions.models import Event, Session, SessionImage, SessionMetadata, SessionStats


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows here are written by the sync and the state machine, not by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class StatsInline(admin.StackedInline):
    model = SessionStats
    can_delete = False
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Session)
class SessionAdmin(ReadOnlyAdmin):
    list_display = ["name", "created_at", "status", "model", "images_actual", "images_expected",
                    "completion_percentage", "is_missing", "sync_error"]
    list_filter = ["status", "is_missing", "has_manifest"]
    list_select_related = ["stats"]
    search_fields = ["name"]
    date_hierarchy = "created_at"
    list_per_page = 100
    inlines = [StatsInline]

    @admin.display(description="model", ordering="stats__sd_model")
    def model(self, session: Session) -> str:
        stats = getattr(session, "stats", None)
        return (stats.sd_model or "") if stats else ""


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["timestamp", "session", "kind", "from_status", "to_status", "source", "performer_id", "reason"]
    list_filter = ["kind", "source", "performer_id"]
    list_select_related = ["session"]
    search_fields = ["session__name"]


@admin.register(SessionImage)
class SessionImageAdmin(ReadOnlyAdmin):
    list_display = ["filename", "session", "index", "seed", "width", "height"]
    list_select_related = ["session"]
    search_fields = ["session__name", "filename"]


admin.site.register(SessionMetadata)
