"""Search text: what the index holds and what a query is compared with, the same way on SQLite
and PostgreSQL.

Both engines get text that is already folded here: lower case, accents removed, every run of
letters and digits one word, everything else a space. Each engine's own tokenizer then only
splits on spaces, so a word means the same thing on both (``v1-5-pruned`` is three words,
``Café`` is ``cafe``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Letters and digits of any script; "_" is punctuation here, as in both engines' tokenizers.
_WORD = re.compile(r"[^\W_]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return _WORD.findall("".join(char for char in decomposed if not unicodedata.combining(char)))


def fold(text: str | None) -> str:
    """``text`` as the index holds it: its folded words, separated by single spaces."""
    return " ".join(words(text)) if text else ""


def fold_all(parts: Iterable[str | None]) -> str:
    """Several texts as one document, empty ones left out."""
    return " ".join(folded for folded in map(fold, parts) if folded)
