"""Writing a session's user metadata (and its tags) in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from sessions.models import Session, SessionMetadata, SessionTag
from sessions.search.documents import metadata_text
from sessions.services.search_documents import refresh_session_words

EDITABLE_FIELDS = frozenset({"is_test", "is_complete", "is_favorite", "user_rating", "user_note", "tags"})
MAX_TAGS = 50
MAX_TAG_LENGTH = 64
MAX_NOTE_LENGTH = 10_000


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Trimmed, duplicates (ignoring case) dropped, order kept; ValueError says what is wrong."""
    kept: dict[str, str] = {}
    for raw in tags:
        tag = raw.strip()
        if not tag:
            raise ValueError("a tag cannot be empty")
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"'{tag[:20]}…' is longer than {MAX_TAG_LENGTH} characters")
        kept.setdefault(tag.casefold(), tag)
    if len(kept) > MAX_TAGS:
        raise ValueError(f"{len(kept)} tags: at most {MAX_TAGS} are allowed")
    return list(kept.values())


def update_metadata(*, session: Session, changes: dict[str, Any]) -> SessionMetadata:
    """Apply ``changes`` (validated) to the session's metadata, creating it on first use.

    Only the given fields change; ``tags`` replaces the whole list, in the order given.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    fields = {name: value for name, value in changes.items() if name != "tags"}
    with transaction.atomic():
        metadata, created = SessionMetadata.objects.select_for_update().get_or_create(session=session,
                                                                                     defaults=fields)
        if not created:
            for name, value in fields.items():
                setattr(metadata, name, value)
            metadata.save()  # also moves updated_at, even when only the tags change
        if "tags" in changes:
            metadata.tags.all().delete()
            SessionTag.objects.bulk_create(
                SessionTag(metadata=metadata, name=name, position=position)
                for position, name in enumerate(changes["tags"])
            )
        if "tags" in changes or "user_note" in changes:
            tags = changes["tags"] if "tags" in changes else metadata.tag_list
            metadata.search_text = metadata_text(tags=tags, note=metadata.user_note)
            SessionMetadata.objects.filter(pk=metadata.pk).update(search_text=metadata.search_text)
            refresh_session_words(session=session)
    return metadata
