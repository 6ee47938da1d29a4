"""Values that must fit their column: the integer range and the length a field holds."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations


@cache
def _column_limits(model: type[models.Model], field_name: str) -> tuple[int | None, tuple[int, int] | None]:
    field = model._meta.get_field(field_name)
    length = field.max_length if isinstance(field, models.CharField) else None
    bounds = None
    if isinstance(field, models.IntegerField):
        bounds = BaseDatabaseOperations.integer_field_ranges.get(field.get_internal_type())
    return length, bounds


def integer_range(model: type[models.Model], field_name: str) -> tuple[int, int]:
    bounds = _column_limits(model, field_name)[1]
    if bounds is None:
        raise ValueError(f"{model.__name__}.{field_name} is not an integer column")
    return bounds


def fit_to_column(model: type[models.Model], field_name: str, value: Any) -> Any:
    """``value`` made storable in the column: text cut to its length, numbers outside its range
    dropped (None). Manifests can hold anything; one odd value must not fail a whole batch."""
    if value is None:
        return None
    length, bounds = _column_limits(model, field_name)
    if length is not None and isinstance(value, str) and len(value) > length:
        return value[: length - 1] + "…"
    if bounds is not None and isinstance(value, int) and not bounds[0] <= value <= bounds[1]:
        return None
    return value
