"""The session list's filters: each flag is a rule of ``SessionQuerySet``."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from sessions.models import SessionStats


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
