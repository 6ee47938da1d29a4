"""Parsing what a person types into the search box (SPEC section 9).

Words must all match (AND), ``-word`` excludes, ``"two words"`` is a phrase (``-"two words"``
excludes one). Bare words match as prefixes (``smil`` finds ``smiling``) once they are at
least two characters long; a quoted phrase matches as written. Case and accents never matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sessions.search.text import words

# A quoted phrase (possibly unterminated at the end), or a run of non-space characters; either
# may start with "-".
_PART = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')
MIN_PREFIX = 2


@dataclass(frozen=True)
class Term:
    """One word or phrase: its folded words, in order; ``prefix``: the last may be a prefix."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class SearchQuery:
    include: tuple[Term, ...] = ()
    exclude: tuple[Term, ...] = ()
    raw: str = field(default="", compare=False)

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)


def parse_query(text: str | None) -> SearchQuery:
    """``text`` as terms; an empty or blank text is an empty query (no filter)."""
    include: list[Term] = []
    exclude: list[Term] = []
    for match in _PART.finditer(text or ""):
        quoted_minus, quoted, bare_minus, bare = match.groups()
        if quoted is not None:
            found = words(quoted)
            term = Term(tuple(found)) if found else None
            negative = bool(quoted_minus)
        else:
            found = words(bare)
            # "v1-5" typed as one word is the phrase "v1 5"; its last word may be a prefix.
            term = Term(tuple(found), prefix=len(found[-1]) >= MIN_PREFIX) if found else None
            negative = bool(bare_minus)
        if term is not None and term not in include and term not in exclude:
            (exclude if negative else include).append(term)
    return SearchQuery(tuple(include), tuple(exclude), raw=text or "")
