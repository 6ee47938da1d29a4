"""The session admin: the library's list and each session's page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from sessions import selectors
from sessions.admin.actions import StatusActions
from sessions.admin.display import SessionColumns
from sessions.admin.filters import (
    CompleteFilter,
    FavouriteFilter,
    MissingFilter,
    ModelFilter,
    SeedSweepFilter,
    SyncErrorFilter,
    TestFilter,
)
from sessions.admin.forms import MetadataForm, SessionStatusForm
from sessions.lifecycle import TransitionRefused, transition_status
from sessions.models import EventSource, Session, SessionMetadata, SessionQuerySet
from sessions.permissions import SessionAction, may
from sessions.search import search_sessions
from sessions.services import update_metadata

HEARTBEAT_WARNING_AFTER = 60  # seconds


class MetadataInline(admin.StackedInline):
    model = SessionMetadata
    form = MetadataForm
    can_delete = False
    extra = 1
    max_num = 1
    verbose_name = verbose_name_plural = "your notes"

    def has_add_permission(self, request: HttpRequest, obj: Session | None = None) -> bool:
        return may(request.user, SessionAction.EDIT_METADATA)

    def has_change_permission(self, request: HttpRequest, obj: Session | None = None) -> bool:
        return may(request.user, SessionAction.EDIT_METADATA)

    def get_extra(self, request: HttpRequest, obj: Session | None = None, **kwargs: Any) -> int:
        # The empty form to start the notes with, only for someone who may write them.
        return 1 if self.has_add_permission(request, obj) else 0


@admin.register(Session)
class SessionAdmin(StatusActions, SessionColumns, admin.ModelAdmin):
    form = SessionStatusForm
    inlines = [MetadataInline]
    list_display = ["thumbnail", "name", "created_at", "status_badge", "sd_model", "images", "favourite", "test_run"]
    list_display_links = ["thumbnail", "name"]
    # Dates as a list filter (today, the past 7 days, this month, this year): a date hierarchy
    # would read every session's date to draw itself.
    list_filter = ["status", ("created_at", admin.DateFieldListFilter), FavouriteFilter, TestFilter, SeedSweepFilter,
                   CompleteFilter, ModelFilter, MissingFilter, SyncErrorFilter]
    list_select_related = ["stats", "metadata"]
    search_fields = ["name"]  # shows the search box; the search itself is sessions.search's
    list_per_page = 50
    show_full_result_count = False  # one count per page, not two
    ordering = ["-created_at", "-id"]
    actions = ["mark_completed", "mark_aborted", "forget"]
    change_list_template = "admin/gen_sessions/session/change_list.html"
    change_form_template = "admin/gen_sessions/session/change_form.html"
    readonly_fields = ["name", "identity", "status_set", "location", "sync_error_text", "generation", "counts", "timing",
                       "variations", "image_grid", "event_log", "raw_manifest"]
    fieldsets = [
        (None, {"fields": ["name", "identity", "location", "status", "status_reason", "status_set", "sync_error_text"]}),
        ("Generation", {"fields": ["generation"]}),
        ("Counts", {"fields": ["counts"]}),
        ("Timing", {"fields": ["timing"]}),
        ("Variations", {"fields": ["variations"]}),
        ("Images", {"fields": ["image_grid"]}),
        ("Event log", {"fields": ["event_log"]}),
        ("Manifest", {"fields": ["raw_manifest"]}),
    ]

    class Media:
        css = {"all": ["gen_sessions/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        sessions: SessionQuerySet = super().get_queryset(request)  # type: ignore[assignment]
        return sessions.in_library()

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str
                           ) -> tuple[QuerySet, bool]:
        return search_sessions(queryset, search_term), False

    def get_fieldsets(self, request: HttpRequest, obj: Session | None = None) -> list:
        if obj is not None and self.has_change_status_permission(request):
            return self.fieldsets
        # No status to fix: no reason field to fill in.
        first = {"fields": [f for f in self.fieldsets[0][1]["fields"] if f != "status_reason"]}
        return [(None, first), *self.fieldsets[1:]]

    def get_readonly_fields(self, request: HttpRequest, obj: Session | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return fields if self.has_change_status_permission(request) else ["status", *fields]

    # The permissions are sessions.permissions' rule, the API's own.
    def has_change_status_permission(self, request: HttpRequest) -> bool:
        return may(request.user, SessionAction.CHANGE_STATUS)

    def has_forget_permission(self, request: HttpRequest) -> bool:
        return may(request.user, SessionAction.FORGET)

    def has_change_permission(self, request: HttpRequest, obj: Session | None = None) -> bool:
        # The page saves a status fix, the user's notes, or both.
        return may(request.user, SessionAction.CHANGE_STATUS) or may(request.user, SessionAction.EDIT_METADATA)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sessions come from the results folder

    def has_delete_permission(self, request: HttpRequest, obj: Session | None = None) -> bool:
        return False  # a session's history (its events) is kept for good: missing ones are forgotten

    def save_model(self, request: HttpRequest, obj: Session, form: forms.ModelForm, change: bool) -> None:
        # Never obj.save(): the sync owns every other column and may have moved them meanwhile.
        if not self.has_change_status_permission(request):
            return
        wanted = form.cleaned_data["status"]
        current = Session.objects.get(pk=obj.pk)
        if wanted == current.status:
            return
        try:
            transition_status(session=current, to_status=wanted, source=EventSource.ADMIN,
                              performer=request.user.get_username(), reason=form.cleaned_data["status_reason"])
        except TransitionRefused as refusal:
            messages.error(request, f"The status was not changed: {refusal}.")

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        if formset.model is not SessionMetadata:
            return super().save_formset(request, form, formset, change)
        # Through the service (tags are rows of their own), not the formset's model saves.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for metadata_form in formset.forms:
            if metadata_form.has_changed():
                changes = {name: metadata_form.cleaned_data[name] for name in MetadataForm.Meta.fields}
                metadata = update_metadata(session=form.instance, changes=changes)
                formset.changed_objects.append((metadata, metadata_form.changed_data))

    # --- the list page ----------------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        now = timezone.now()
        heartbeat = selectors.watcher_heartbeat()
        watcher = selectors.watcher_health(now=now, heartbeat=heartbeat)
        age = (now - heartbeat.beat_at).total_seconds() if heartbeat is not None else None
        return super().changelist_view(request, {
            **(extra_context or {}),
            "results_folder_alarm": selectors.results_folder_alarm(),
            "watcher": watcher,
            "heartbeat": heartbeat,
            "watcher_stale": age is None or age > HEARTBEAT_WARNING_AFTER,
            "watcher_age": age,
        })
