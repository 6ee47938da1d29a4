"""The Django admin: see the library, fix statuses by hand, annotate sessions.

Status changes go through ``sessions.lifecycle.transition_status`` (source ``admin``, the
user's name as performer); metadata through ``sessions.services.update_metadata``. Cached
sync data is read-only here: saving a session never writes it back.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from sessions import facts, selectors
from sessions.image_files import is_thumbnail_source
from sessions.lifecycle import TransitionRefused, forget_sessions, is_move_needed, transition_status
from sessions.links import image_url, session_images_url
from sessions.models import (
    Event,
    EventSource,
    Session,
    SessionMetadata,
    SessionQuerySet,
    SessionStats,
    SessionStatus,
    UserRating,
)
from sessions.permissions import SessionAction, may
from sessions.reading import manifest_for_display
from sessions.search import search_sessions
from sessions.services import update_metadata
from sessions.services.metadata import MAX_NOTE_LENGTH, normalize_tags

STATUS_COLOURS = {SessionStatus.ONGOING: "#1f6feb", SessionStatus.COMPLETED: "#1a7f37",
                  SessionStatus.ABORTED: "#cf222e"}
HEARTBEAT_WARNING_AFTER = 60  # seconds
IMAGES_SHOWN = 300
MANIFEST_SHOWN = 200_000  # characters
# Quiet marks for the list's flags, not Django's boolean icons: most sessions are neither, and
# a column of red error icons reads as a list of failures.
FAVOURITE_MARK = mark_safe('<span class="sdgen-mark" title="favourite" style="color:#d4a017">★</span>')
TEST_MARK = mark_safe('<span class="sdgen-mark" title="a test run">test</span>')
NO_MARK = mark_safe('<span class="sdgen-muted" title="no">·</span>')

admin.site.site_header = "sdgen site administration"
admin.site.site_title = "sdgen site admin"
admin.site.index_title = "Library"
admin.site.site_url = "/"  # the gallery ("View gallery": sdgen_site/templates/admin/base_site.html)
# The admin's log-in page is also the gallery's, and the gallery is for every account, not only
# staff: log anyone active in. The admin's own pages still ask for staff (AdminSite.has_permission).
admin.site.login_form = AuthenticationForm


# --- list filters ---------------------------------------------------------------------------


class FlagListFilter(admin.SimpleListFilter):
    """Yes/no on a ``SessionQuerySet`` flag (the API's filters use the same ones)."""

    flag: str

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return getattr(queryset, self.flag)(self.value() == "yes")
        return queryset


class FavouriteFilter(FlagListFilter):
    title, parameter_name, flag = "favourite", "favourite", "favourite"


class TestFilter(FlagListFilter):
    title, parameter_name, flag = "test run", "test", "test_runs"


class SeedSweepFilter(FlagListFilter):
    title, parameter_name, flag = "seed sweep", "seed_sweep", "seed_sweeps"


class MissingFilter(FlagListFilter):
    title, parameter_name, flag = "missing from disk", "missing", "missing"


class SyncErrorFilter(FlagListFilter):
    title, parameter_name, flag = "sync error", "sync_error", "with_sync_error"


class CompleteFilter(FlagListFilter):
    title, parameter_name, flag = "complete", "complete", "complete"


class ModelFilter(admin.SimpleListFilter):
    title, parameter_name = "model", "model"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        # From the stats' own index, without a join: one walk of the distinct names.
        models = (SessionStats.objects.exclude(sd_model=None).order_by("sd_model")
                  .values_list("sd_model", flat=True).distinct())
        return [(model, model) for model in models]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(stats__sd_model=self.value()) if self.value() else queryset


# --- forms ----------------------------------------------------------------------------------


class SessionStatusForm(forms.ModelForm):
    """Only the status can be changed here, with a reason, through the state machine."""

    status = forms.ChoiceField(choices=SessionStatus.choices)
    status_reason = forms.CharField(
        label="Reason", required=False, max_length=1000,
        widget=forms.TextInput(attrs={"size": 60, "placeholder": "why the status is being changed"}),
        help_text="Required when the status changes; recorded in the event log with your name.")

    class Meta:
        model = Session
        fields = ["status"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        wanted = data.get("status")
        if wanted is None or wanted == self.instance.status:
            return data
        try:
            is_move_needed(from_status=self.instance.status, to_status=wanted, source=EventSource.ADMIN)
        except TransitionRefused as refusal:
            raise forms.ValidationError({"status": str(refusal)}) from None
        if not (data.get("status_reason") or "").strip():
            raise forms.ValidationError({"status_reason": "Give a reason for the change."})
        return data


class StatusReasonForm(forms.Form):
    reason = forms.CharField(max_length=1000, widget=forms.TextInput(attrs={"size": 60, "autofocus": True}),
                             help_text="Recorded in each session's event log with your name.")


class MetadataForm(forms.ModelForm):
    tags = forms.CharField(required=False, help_text="Comma-separated; up to 50 tags of 1 to 64 characters.",
                           widget=forms.TextInput(attrs={"size": 60}))
    user_note = forms.CharField(required=False, max_length=MAX_NOTE_LENGTH,
                                widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))
    user_rating = forms.ChoiceField(choices=[("", "—"), *UserRating.choices], required=False)

    class Meta:
        model = SessionMetadata
        fields = ["is_favorite", "user_rating", "tags", "user_note", "is_test", "is_complete"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and not self.instance._state.adding:
            self.initial["tags"] = ", ".join(self.instance.tag_list)

    def clean_tags(self) -> list[str]:
        text = self.cleaned_data.get("tags") or ""
        try:
            return normalize_tags(part for part in text.split(",") if part.strip())
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_user_rating(self) -> str | None:
        return self.cleaned_data.get("user_rating") or None

    def has_changed(self) -> bool:
        # The tags are text here and a list on the model: compare them as lists, not as text.
        changed = set(self.changed_data) - {"tags"}
        if "tags" in self.changed_data:
            text = self.data.get(self.add_prefix("tags"), "") or ""
            original = [] if self.instance._state.adding else self.instance.tag_list
            try:
                if normalize_tags(part for part in text.split(",") if part.strip()) != original:
                    changed.add("tags")
            except ValueError:
                changed.add("tags")  # invalid: let validation say why
        return bool(changed)


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


# --- the session admin ----------------------------------------------------------------------


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
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

    # --- list columns -----------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, session: Session) -> SafeString:
        return format_html('<span class="sdgen-badge" style="background:{}">{}</span>',
                           STATUS_COLOURS.get(session.status, "#6e7781"), session.status)

    @admin.display(description="model", ordering="stats__sd_model")
    def sd_model(self, session: Session) -> str:
        stats = getattr(session, "stats", None)
        return (stats.sd_model or "—") if stats is not None else "—"

    @admin.display(description="images", ordering="completion_percentage")
    def images(self, session: Session) -> SafeString:
        percentage = session.completion_percentage
        expected = session.images_expected if session.images_expected is not None else "?"
        width = max(0.0, min(100.0, percentage or 0.0))
        return format_html(
            '<div class="sdgen-count">{} / {}</div><div class="sdgen-bar" title="{}"><span style="width:{}%"></span>'
            "</div>", session.images_actual, expected,
            f"{percentage:.2f}%" if percentage is not None else "no manifest", f"{width:.0f}")

    @admin.display(description="favourite")
    def favourite(self, session: Session) -> SafeString:
        metadata = getattr(session, "metadata", None)
        return FAVOURITE_MARK if metadata and metadata.is_favorite else NO_MARK

    @admin.display(description="test")
    def test_run(self, session: Session) -> SafeString:
        metadata = getattr(session, "metadata", None)
        return TEST_MARK if metadata and metadata.is_test else NO_MARK

    @admin.display(description="first image")
    def thumbnail(self, session: Session) -> SafeString | str:
        cover = getattr(session, "cover_image", None)
        if not cover:
            return ""
        return format_html('<img class="sdgen-thumb" src="{}" alt="" loading="lazy" height="60">',
                           image_url(session.name, cover, thumbnail=True))

    # --- the session page -------------------------------------------------------------------

    @admin.display(description="UUID")
    def identity(self, session: Session) -> str:
        return str(session.uuid)

    @admin.display(description="status set")
    def status_set(self, session: Session) -> str:
        return f"by {session.status_source}, {timezone.localtime(session.status_changed_at):%Y-%m-%d %H:%M:%S}"

    @admin.display(description="folder")
    def location(self, session: Session) -> str:
        return "missing from the results folder" if session.is_missing else f"results/{session.name}"

    @admin.display(description="sync error")
    def sync_error_text(self, session: Session) -> SafeString | str:
        if not session.sync_error:
            return "—"
        return format_html('<span class="sdgen-error">{}</span>', session.sync_error)

    @admin.display(description="settings")
    def generation(self, session: Session) -> SafeString | str:
        rows = facts.generation_facts(session)
        return _table(rows) if rows is not None else "No readable manifest."

    @admin.display(description="images")
    def counts(self, session: Session) -> SafeString:
        return _table(facts.count_facts(session))

    @admin.display(description="times")
    def timing(self, session: Session) -> SafeString:
        return _table(facts.time_facts(session))

    @admin.display(description="placeholders")
    def variations(self, session: Session) -> SafeString | str:
        rows = facts.variation_facts(session)
        return _table(rows) if rows is not None else "—"

    @admin.display(description="thumbnails")
    def image_grid(self, session: Session) -> SafeString:
        images = list(selectors.session_images(session).filter(file_size__isnull=False)[:IMAGES_SHOWN + 1])
        cells = [{"url": image_url(session.name, image.filename), "title": _variation_text(image),
                  "src": _thumbnail_src(session, image), "filename": image.filename}
                 for image in images[:IMAGES_SHOWN]]
        more_url = session_images_url(session.name) if len(images) > IMAGES_SHOWN else None
        return render_to_string("gen_sessions/includes/image_grid.html", {"images": cells, "more_url": more_url})

    @admin.display(description="events")
    def event_log(self, session: Session) -> SafeString:
        return render_to_string("gen_sessions/includes/event_log.html",
                                {"events": selectors.session_events(session)})

    @admin.display(description="on disk")
    def raw_manifest(self, session: Session) -> SafeString:
        manifest = manifest_for_display(results_dir=settings.SDGEN_RESULTS_DIR, name=session.name,
                                        limit=MANIFEST_SHOWN)
        return render_to_string("gen_sessions/includes/raw_manifest.html", {"manifest": manifest})

    # --- actions ----------------------------------------------------------------------------

    @admin.action(description="Mark completed", permissions=["change_status"])
    def mark_completed(self, request: HttpRequest, queryset: QuerySet[Session]) -> HttpResponse | None:
        return self._mark(request, queryset, SessionStatus.COMPLETED)

    @admin.action(description="Mark aborted", permissions=["change_status"])
    def mark_aborted(self, request: HttpRequest, queryset: QuerySet[Session]) -> HttpResponse | None:
        return self._mark(request, queryset, SessionStatus.ABORTED)

    @admin.action(description="Forget (missing sessions only)", permissions=["forget"])
    def forget(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        report = forget_sessions(names=list(queryset.values_list("name", flat=True)),
                                 results_dir=settings.SDGEN_RESULTS_DIR, source=EventSource.ADMIN,
                                 performer=request.user.get_username(), now=timezone.now())
        if report.forgotten:
            messages.success(request, f"Forgotten: {', '.join(report.forgotten)}. Their event log is kept; a "
                                      "folder that comes back brings its session back.")
        if report.refused:
            messages.error(request, "Not forgotten: " + "; ".join(f"{name} ({why})"
                                                                  for name, why in report.refused.items()) + ".")

    def _mark(self, request: HttpRequest, queryset: QuerySet[Session], status: str) -> HttpResponse | None:
        form = StatusReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(request, "admin/gen_sessions/session/mark_status.html", {
                **self.admin_site.each_context(request),
                "title": f"Mark {status}", "status": status, "sessions": queryset.order_by("-created_at"),
                "form": form, "action": request.POST.get("action"), "opts": self.model._meta,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            })
        changed, refused = [], []
        for session in queryset.order_by("-created_at"):
            try:
                transition_status(session=session, to_status=status, source=EventSource.ADMIN,
                                  performer=request.user.get_username(), reason=form.cleaned_data["reason"])
                changed.append(session.name)
            except TransitionRefused as refusal:
                refused.append(f"{session.name} ({refusal})")
        if changed:
            messages.success(request, f"Marked {status}: {', '.join(changed)}.")
        if refused:
            messages.error(request, f"Not changed: {'; '.join(refused)}.")
        return None

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


def _table(rows: facts.Rows) -> SafeString:
    return render_to_string("gen_sessions/includes/facts_table.html", {"rows": rows})


def _variation_text(image) -> str:
    lines = [f"{name}: {value}" for name, value in (image.applied_variations or {}).items()]
    if image.seed is not None:
        lines.append(f"seed: {image.seed}")
    return "\n".join(lines) or image.filename


def _thumbnail_src(session: Session, image) -> str:
    if is_thumbnail_source(image.filename):
        return image_url(session.name, image.filename, thumbnail=True)
    return image_url(session.name, image.filename)


# --- the event log --------------------------------------------------------------------------


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
