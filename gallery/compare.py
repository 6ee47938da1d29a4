"""Two sessions side by side: their facts aligned by label with the differences marked, and
their images paired row by row (the n-th image of each)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest
from typing import Any

from django.utils import timezone

from gallery import presenters
from sessions import facts, selectors
from sessions.models import Session


@dataclass(frozen=True)
class Row:
    label: str
    a: str
    b: str

    @property
    def differs(self) -> bool:
        return self.a != self.b


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[Row]

    @property
    def differences(self) -> int:
        return sum(row.differs for row in self.rows)


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}"
    return str(value)


def _variation_rows(session: Session) -> facts.Rows:
    """Per placeholder, its values; the count of values used goes with the values (not in the
    label as sessions.facts puts it) so that two sessions' placeholders line up."""
    stats = getattr(session, "stats", None)
    if stats is None:
        return []
    rows: facts.Rows = [("seed sweep", "yes" if stats.is_seed_sweep else "no"),
                        ("combinations", stats.variations_theoretical)]
    for name, values in stats.variations_summary.items():
        used = stats.placeholders.get(name, len(values))
        rows.append((name, f"{', '.join(str(value) for value in values)} ({used} used)"))
    return rows


def _note_rows(session: Session) -> facts.Rows:
    metadata = getattr(session, "metadata", None)
    if metadata is None:
        return [("favourite", "no"), ("rating", None), ("tags", None)]
    return [("favourite", "yes" if metadata.is_favorite else "no"), ("rating", metadata.user_rating),
            ("tags", ", ".join(metadata.tag_list))]


_SECTIONS: list[tuple[str, Callable[[Session], facts.Rows | None]]] = [
    ("Generation", facts.generation_facts),
    ("Images", facts.count_facts),
    ("Variations", _variation_rows),
    ("Your notes", _note_rows),
]


def sections(a: Session, b: Session) -> list[Section]:
    result = []
    for title, rows_of in _SECTIONS:
        rows_a, rows_b = dict(rows_of(a) or []), dict(rows_of(b) or [])
        labels = [*rows_a, *(label for label in rows_b if label not in rows_a)]
        result.append(Section(title, [Row(label, _text(rows_a.get(label)), _text(rows_b.get(label)))
                                      for label in labels]))
    return result


@dataclass(frozen=True)
class ImageRow:
    number: int  # from 1, across pages
    a: presenters.Thumbnail | None
    b: presenters.Thumbnail | None


@dataclass(frozen=True)
class ImageRows:
    rows: list[ImageRow]
    items: list[dict[str, Any]]  # the rows' images in the viewer's order: a's, then b's, row by row
    has_next: bool


def image_rows(a: Session, b: Session, *, number: int, size: int) -> ImageRows:
    """Page ``number`` of rows: the images of each session in their order, paired by position.
    Each session's slice is a walk of its own (session, index) index: one query per side."""
    offset = (number - 1) * size
    side_a = list(selectors.session_images(a)[offset:offset + size + 1])
    side_b = list(selectors.session_images(b)[offset:offset + size + 1])
    has_next = len(side_a) > size or len(side_b) > size
    pairs = zip_longest(presenters.image_items(side_a[:size], session=a),
                        presenters.image_items(side_b[:size], session=b))
    rows: list[ImageRow] = []
    items: list[dict[str, Any]] = []
    for row, pair in enumerate(pairs, start=offset + 1):
        cells = []
        for item in pair:
            cells.append(presenters.thumbnails([item], start=len(items))[0] if item is not None else None)
            if item is not None:
                items.append(item)
        rows.append(ImageRow(row, cells[0], cells[1]))
    return ImageRows(rows, items, has_next)
