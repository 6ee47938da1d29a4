"""Links that change one thing of the page's query string (a filter, a chip, the page), so that
every view of a list is a URL someone can bookmark."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import QueryDict

from gallery.pagination import PAGE_PARAMETER


class Query:
    """The current page's parameters (empty ones left out) and the links derived from them.
    Any change but the page number goes back to page 1."""

    def __init__(self, path: str, params: QueryDict) -> None:
        self.path = path
        self._items: list[tuple[str, str]] = [(name, value) for name, values in params.lists() for value in values
                                              if value.strip() != ""]

    def get(self, name: str) -> str:
        values = self.get_all(name)
        return values[-1] if values else ""

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self._items if key == name]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def only(self, *names: str) -> Query:
        kept = Query(self.path, QueryDict())
        kept._items = [(key, value) for key, value in self._items if key in names]
        return kept

    def without(self, *names: str) -> Query:
        kept = Query(self.path, QueryDict())
        kept._items = [(key, value) for key, value in self._items if key not in names]
        return kept

    def url(self, **changes: str | None) -> str:
        """This page with each named parameter set to a value (None: removed), on page 1."""
        query = self.without(PAGE_PARAMETER, *changes)
        query._items += [(name, value) for name, value in changes.items() if value not in (None, "")]
        return query.href()

    def toggled(self, name: str, value: str) -> str:
        """This page with one value of a repeatable parameter added, or removed if present."""
        query = self.without(PAGE_PARAMETER)
        if (name, value) in query._items:
            query._items = [item for item in query._items if item != (name, value)]
        else:
            query._items.append((name, value))
        return query.href()

    def replaced(self, name: str, values: Iterable[str]) -> str:
        """This page with every value of ``name`` replaced by ``values``, on page 1."""
        query = self.without(PAGE_PARAMETER, name)
        query._items += [(name, value) for value in values]
        return query.href()

    def page(self, number: int) -> str:
        query = self.without(PAGE_PARAMETER)
        if number > 1:
            query._items.append((PAGE_PARAMETER, str(number)))
        return query.href()

    def href(self) -> str:
        return self.path + self.string()

    def string(self) -> str:
        """``?a=1&b=2`` (empty without parameters)."""
        encoded = _encode(self._items)
        return f"?{encoded}" if encoded else ""

    def __bool__(self) -> bool:
        return bool(self._items)


def _encode(items: Iterable[tuple[str, str]]) -> str:
    query = QueryDict(mutable=True)
    for name, value in items:
        query.appendlist(name, value)
    return query.urlencode()
