"""The words each search document holds (SPEC section 9), folded by ``sessions.search.text``.

- An image text (``ImageText``, shared by every image generated from it): the prompt, the
  negative prompt, the variation values the prompt does not already hold, and the model an
  image of another generator names itself.
- A session (``SessionSearch``): its own words (name, model, tags, note) and the words of
  every distinct text of its images.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from sessions.search.text import fold, fold_all

# A session of tens of thousands of distinct prompts must still fit PostgreSQL's tsvector (1 MB):
# its image words are cut there (each image keeps its own text, whatever its session's size).
MAX_IMAGES_TEXT = 200_000


class TextFolder:
    """Folds texts, each distinct text once: a run repeats a few prompts and variation values
    over thousands of images."""

    def __init__(self) -> None:
        self._folded: dict[str, str] = {}

    def fold(self, text: str | None) -> str:
        if not text:
            return ""
        folded = self._folded.get(text)
        if folded is None:
            if len(self._folded) > 50_000:
                self._folded.clear()  # memory stays flat on a library of unique prompts
            folded = self._folded[text] = fold(text)
        return folded

    def image_text(self, *, prompt: str | None, negative_prompt: str | None, variations: Mapping[str, Any],
                   model: str | None = None) -> str:
        """An image's words: prompt, negative prompt, the variation values the prompt does not
        hold already (sdgen's prompts hold theirs), and the model it names itself, if any."""
        words = self.fold(prompt)
        parts = [words, self.fold(negative_prompt)]
        for value in variations.values():
            folded = self.fold(str(value)) if value is not None else ""
            if folded and f" {folded} " not in f" {words} ":
                parts.append(folded)
        parts.append(self.fold(model))
        return " ".join(part for part in parts if part)


def text_digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def session_words(*, name: str, model: str | None) -> str:
    """The words of a session's own that search finds it by, besides its tags and note."""
    return fold_all([name, model])


def images_text(texts: Iterable[str]) -> str:
    """The distinct texts of a session's images (already folded), as one capped text."""
    return " ".join(dict.fromkeys(text for text in texts if text))[:MAX_IMAGES_TEXT]


def metadata_text(*, tags: Iterable[str], note: str | None) -> str:
    return fold_all([*tags, note])


def own_text(*, words: str, metadata: str) -> str:
    return f"{words} {metadata}".strip()
