"""The admin's forms: a status change with its reason, and a session's metadata."""

from __future__ import annotations

from typing import Any

from django import forms

from sessions.lifecycle import TransitionRefused, is_move_needed
from sessions.models import EventSource, Session, SessionMetadata, SessionStatus, UserRating
from sessions.services.metadata import MAX_NOTE_LENGTH, normalize_tags


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
