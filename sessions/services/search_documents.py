"""Keeping a session's search document current when its own words change outside the sync
(its tags and note; a rename). The sync writes image words itself, batch by batch."""

from __future__ import annotations

from sessions.models import Session, SessionMetadata, SessionSearch
from sessions.search.documents import own_text, session_words


def refresh_session_words(*, session: Session) -> None:
    """Recompute the session's own words (name, model, tags, note); call inside the transaction
    that changed them."""
    model = SessionSearch.objects.filter(pk=session.pk).values_list("session__stats__sd_model", flat=True).first()
    metadata = SessionMetadata.objects.filter(pk=session.pk).values_list("search_text", flat=True).first() or ""
    words = own_text(words=session_words(name=session.name, model=model), metadata=metadata)
    if not SessionSearch.objects.filter(pk=session.pk).update(own_text=words):
        SessionSearch.objects.create(session_id=session.pk, own_text=words)
