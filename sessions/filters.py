"""FilterSets of the API: one for sessions, one for a session's images.

Every parameter is validated: a malformed boolean, date, number, status or ordering is a
400 naming the parameter, never silently ignored.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import django_filters as filters
from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Exact, IContains
from django.utils.dateparse import parse_date, parse_datetime
from django_filters.fields import BaseCSVField

from sessions.models import Session, SessionImage, SessionStatus, list_order
from sessions.search import search_images, search_sessions

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SEARCH_HELP = ('Search: every word must match (prompts, negative prompts, variation values, session name, model, '
               'tags, note); -word excludes, "two words" is a phrase; words match as prefixes.')


class StrictBooleanField(forms.Field):
    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        lowered = str(value).strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise forms.ValidationError(f"'{value}' is not a boolean: use true, false, 1 or 0.")


class DateOrDateTimeField(forms.Field):
    """An ISO-8601 date (a whole day in SDGEN_TIME_ZONE) or date-time (naive: in that zone)."""

    def to_python(self, value: Any) -> tuple[datetime, bool] | None:
        if value in (None, ""):
            return None
        text = str(value).strip()
        zone = zoneinfo.ZoneInfo(settings.SDGEN_TIME_ZONE)
        try:
            if _DATE_ONLY.match(text):
                day = parse_date(text)
                if day is not None:
                    return datetime.combine(day, time.min, tzinfo=zone), True
            else:
                moment = parse_datetime(text)
                if moment is not None:
                    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)), False
        except ValueError:
            pass
        raise forms.ValidationError(f"'{value}' is not an ISO-8601 date or date-time, e.g. 2025-11-07 or "
                                    "2025-11-07T12:00:00Z.")


def free_text_parameters(filterset: type[filters.FilterSet]) -> frozenset[str]:
    """The filters that take any text, for which an empty value is no filter (``q=``); any other
    parameter of the API needs a value (``status=`` is not a status)."""
    return frozenset(name for name, flt in filterset.base_filters.items()
                     if isinstance(flt, filters.CharFilter) and issubclass(flt.field_class, forms.CharField))


class IntegerFilter(filters.NumberFilter):
    field_class = forms.IntegerField


class FlagFilter(filters.BooleanFilter):
    """true: the sessions a ``SessionQuerySet`` flag describes; false: the others. With
    ``through``, rows whose session (that relation) is one of them."""

    field_class = StrictBooleanField

    def __init__(self, *, flag: str, through: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flag = flag
        self.through = through

    def filter(self, queryset: QuerySet, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        if self.through is None:
            return getattr(queryset, self.flag)(value)
        return queryset.filter(**{f"{self.through}__in": getattr(Session.objects, self.flag)(value)})


class CreatedBoundFilter(filters.CharFilter):
    field_class = DateOrDateTimeField

    @staticmethod
    def openapi_schema() -> dict[str, Any]:
        # A date-time is accepted too (the description says so); clients are offered the date.
        return {"type": "string", "format": "date"}

    def __init__(self, *, upper: bool, **kwargs: Any) -> None:
        super().__init__(field_name="created_at", **kwargs)
        self.upper = upper

    def filter(self, queryset: QuerySet, value: tuple[datetime, bool] | None) -> QuerySet:
        if value is None:
            return queryset
        moment, whole_day = value
        try:
            if self.upper and whole_day:  # to_date=2025-11-07 includes all of that day
                moment += timedelta(days=1)
            moment.astimezone(dt_timezone.utc)  # as the database will compare it
        except OverflowError:
            # Before year 1 or after 9999 in UTC: every session is on the same side of it.
            after_all = moment.year > 1
            return queryset if self.upper == after_all else queryset.none()
        if not self.upper:
            return queryset.filter(created_at__gte=moment)
        if whole_day:
            return queryset.filter(created_at__lt=moment)
        return queryset.filter(created_at__lte=moment)


def invalid_choice_message(choices: list[str]) -> dict[str, str]:
    """A wrong value names the right ones (Django's message does not)."""
    return {"invalid_choice": "'%(value)s' is not one of: " + ", ".join(choices) + "."}


class OneOrderField(BaseCSVField):
    """Sessions are ordered by one field at a time (each order has its index): a second field,
    or the same one twice, would be silently ignored, so it is refused."""

    def clean(self, value: Any) -> Any:
        cleaned = super().clean(value)
        if cleaned and len(cleaned) > 1:
            raise forms.ValidationError(f"Order by one field at a time, not {len(cleaned)}: {','.join(cleaned)}.")
        return cleaned


class SessionOrderingFilter(filters.OrderingFilter):
    """Sessions without a value (no manifest) sort last either way; ties by newest row. Each
    order has its index (``sessions.models.list_order``)."""

    base_field_class = OneOrderField

    def __init__(self, *, fields: tuple[str, ...], **kwargs: Any) -> None:
        self.names = [name for field in fields for name in (field, f"-{field}")]
        super().__init__(fields=fields, error_messages=invalid_choice_message(self.names), **kwargs)

    def openapi_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": self.names}

    def filter(self, queryset: QuerySet, value: list[str] | None) -> QuerySet:
        if not value:
            return queryset.order_by(*list_order("created_at", descending=True))
        # One order at a time (the first given): each has its index.
        param = value[0]
        return queryset.order_by(*list_order(self.param_map[param.lstrip("-")], descending=param.startswith("-")))


class SessionFilter(filters.FilterSet):
    liked = FlagFilter(flag="favourite", help_text="Favourite sessions (true/false/1/0).")
    test = FlagFilter(flag="test_runs", help_text="Sessions marked as tests.")
    complete = FlagFilter(
        flag="complete",
        help_text="Complete sessions: completion at or above SDGEN_COMPLETE_THRESHOLD, or marked complete.")
    seed_sweep = FlagFilter(flag="seed_sweeps", help_text="Seed-sweep runs.")
    model = filters.CharFilter(field_name="stats__sd_model", lookup_expr="icontains",
                               help_text="Case-insensitive part of the model checkpoint name.")
    from_date = CreatedBoundFilter(upper=False, help_text="Created at or after this ISO-8601 date or date-time.")
    to_date = CreatedBoundFilter(upper=True, help_text="Created at or before this date (the whole day) or date-time.")
    status = filters.ChoiceFilter(choices=SessionStatus.choices, help_text="ongoing, completed or aborted.",
                                  error_messages=invalid_choice_message(SessionStatus.values))
    tag = filters.CharFilter(field_name="metadata__tags__name", lookup_expr="iexact", help_text="Sessions with this tag.")
    q = filters.CharFilter(method="search", help_text=SEARCH_HELP)
    ordering = SessionOrderingFilter(
        fields=("created_at", "images_actual", "completion_percentage", "updated_at"),
        help_text="created_at, images_actual, completion_percentage or updated_at; '-' for descending "
                  "(default -created_at).",
    )

    class Meta:
        model = Session
        fields: list[str] = []

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return search_sessions(queryset, value)


# Name:value, a name of at least one character other than white space (as VariationsField reads it).
VARIATION_PATTERN = r"^[^:\x00]*[^:\s\x00][^:\x00]*:[^\x00]*$"


class VariationsField(forms.Field):
    """Repeated ``Name:value`` pairs, grouped by placeholder name."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> dict[str, list[str]] | None:
        if not value:
            return None
        grouped: dict[str, list[str]] = {}
        for item in value:
            name, separator, wanted = str(item).partition(":")
            if not separator or not name.strip():
                raise forms.ValidationError(f"'{item}' is not Name:value, e.g. variation=Angle:front view.")
            grouped.setdefault(name.strip(), []).append(wanted)
        return grouped


class VariationFilter(filters.Filter):
    """Images whose applied variations match: any value of one placeholder, every placeholder.
    A value matches when it holds the text asked for, in any case ("smiling" matches
    "smiling, cheerful expression")."""

    field_class = VariationsField

    @staticmethod
    def openapi_schema() -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "pattern": VARIATION_PATTERN, "example": "Angle:front view"}}

    def filter(self, queryset: QuerySet, value: dict[str, list[str]] | None) -> QuerySet:
        for placeholder, wanted in (value or {}).items():
            applied = KeyTextTransform(placeholder, "applied_variations")
            condition = Q()
            for text in wanted:
                condition |= Q(Exact(applied, text)) | Q(IContains(applied, text.strip()))
            queryset = queryset.filter(condition)
        return queryset


class ImageFilter(filters.FilterSet):
    """A session's images (``/api/sessions/{name}/images/``)."""

    variation = VariationFilter(
        help_text="Name:value, repeatable: values of one placeholder are alternatives, different placeholders "
                  "must all match.")
    seed = IntegerFilter(field_name="seed", help_text="Images made with this seed.")
    since = IntegerFilter(field_name="index", lookup_expr="gt", help_text="Images after index K (index > K).")

    class Meta:
        model = SessionImage
        fields: list[str] = []


class LibraryImageFilter(ImageFilter):
    """Images across the library (``/api/images/``)."""

    q = filters.CharFilter(method="search", help_text=SEARCH_HELP)
    session = filters.CharFilter(field_name="session__name", help_text="Images of the session with this name.")
    model = filters.CharFilter(method="filter_model", help_text="Case-insensitive part of the model checkpoint name "
                                                                "(the image's own, else its session's).")
    generator = filters.CharFilter(field_name="generator", lookup_expr="iexact",
                                   help_text="sdgen, AUTOMATIC1111, ComfyUI, InvokeAI, NovelAI or Fooocus.")
    liked = FlagFilter(flag="favourite", through="session", help_text="Images of favourite sessions.")

    class Meta:
        model = SessionImage
        fields: list[str] = []

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return search_images(queryset, value)

    def filter_model(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(params__sd_model__icontains=value)
                               | Q(params__isnull=True, session__stats__sd_model__icontains=value))
