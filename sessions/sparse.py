"""Sparse answers (``fields=``): a client names the item fields it wants, and gets only those.

The names are an item's top-level fields, comma-separated (``fields=session_id,status``); an
unknown one, or an empty one, is a 400 that lists the allowed names, as every other parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

PARAMETER = "fields"


def requested_fields(request: Request, allowed: Sequence[str]) -> frozenset[str] | None:
    """The fields asked for, or None when ``fields`` is not given (every field)."""
    values = request.query_params.getlist(PARAMETER)
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",")]
    choices = ", ".join(allowed)
    if any(not name for name in names):
        raise ValidationError({PARAMETER: [f"An empty field name; choose from: {choices}."]})
    unknown = [name for name in dict.fromkeys(names) if name not in allowed]
    if unknown:
        raise ValidationError({PARAMETER: [f"Unknown field {', '.join(repr(n) for n in unknown)}; choose from: "
                                           f"{choices}."]})
    return frozenset(names)


def fields_parameter(allowed: Sequence[str]) -> OpenApiParameter:
    """``fields`` in the OpenAPI document: an array of the item's field names, comma-separated."""
    return OpenApiParameter(
        PARAMETER, {"type": "array", "items": {"type": "string", "enum": list(allowed)}, "minItems": 1},
        OpenApiParameter.QUERY, style="form", explode=False,
        description="Only these fields of each item, comma-separated (default: all of them), e.g. "
                    f"fields={','.join(allowed[:2])}. An unknown name is a 400.")
