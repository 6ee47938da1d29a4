"""The session list's actions."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from sessions.admin.forms import StatusReasonForm
from sessions.lifecycle import TransitionRefused, forget_sessions, transition_status
from sessions.models import EventSource, Session, SessionStatus


class StatusActions:
    """Mark completed or aborted (with a reason, through the state machine), forget missing sessions."""

    admin_site: admin.AdminSite
    model: type[Session]

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
