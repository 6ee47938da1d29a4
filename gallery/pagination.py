"""Pages of a list whose cost does not grow with the library.

The API's approach (``sessions.pagination.EnvelopePagination``): the page's ids first, an
index walk in the list's order, then the details of those ids only. Unlike the API, a page
here does not count the whole list: one id more than the page says whether there is a next
page, so a grid over 100,000 sessions costs what one over 100 costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

PAGE_PARAMETER = "page"
MAX_PAGE = 1_000_000


class PageNumberError(ValueError):
    """A ``page`` parameter that is not a page number; the message says why."""


def page_number(raw: str | None) -> int:
    if raw is None or raw.strip() == "":
        return 1
    try:
        number = int(raw)
    except ValueError:
        raise PageNumberError(f"'{raw}' is not a page number: use 1, 2, 3…") from None
    if not 1 <= number <= MAX_PAGE:
        raise PageNumberError(f"{number} is out of range: pages go from 1 to {MAX_PAGE:,}.")
    return number


@dataclass(frozen=True)
class Page:
    items: list[Any] = field(default_factory=list)
    number: int = 1
    size: int = 1
    has_next: bool = False

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def page_of(queryset: QuerySet, *, number: int, size: int, details: QuerySet | None = None) -> Page:
    """Page ``number`` (from 1) of ``size`` items of ``queryset``, in its order.

    ``details``: what to read the page's rows from, the list before its filters (the ids have
    passed them already). A search's filter is costly to evaluate a second time."""
    offset = (number - 1) * size
    ids = list(queryset.prefetch_related(None).values_list("pk", flat=True)[offset:offset + size + 1])
    has_next = len(ids) > size
    ids = ids[:size]
    if not ids:
        return Page([], number, size, False)
    source = details if details is not None else queryset
    rows = {row.pk: row for row in source.order_by().filter(pk__in=ids)}
    return Page([rows[pk] for pk in ids if pk in rows], number, size, has_next)
