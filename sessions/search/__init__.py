"""Search (SPEC section 9): the one selector every list filters with, and what it stands on.

- ``search_sessions``: a session matches when its own words (name, model, tags, note) and the
  words of its images, together, hold every included term and none of the excluded ones.
- ``search_images``: an image matches when its words (prompt, negative prompt, variation
  values) and its session's own words, together, hold every included term and none of the
  excluded ones.

Terms are parsed by ``sessions.search.query``; the database's full-text index answers
(``sessions.search.engines``); documents are written with the rows they describe, in the same
transaction (the sync writes image texts and session documents, the metadata service a
session's own words).
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models import Q, QuerySet

from sessions.models import IN_LIBRARY, Session, SessionQuerySet
from sessions.search import engines
from sessions.search.query import SearchQuery, parse_query

__all__ = ["SearchQuery", "parse_query", "rebuild_indexes", "search_images", "search_sessions"]

# A search matching more distinct image texts than this is dense whatever their images.
MANY_TEXTS = 500


def search_sessions(sessions: QuerySet, text: str | SearchQuery | None) -> QuerySet:
    query = text if isinstance(text, SearchQuery) else parse_query(text)
    if not query:
        return sessions
    matching = engines.matching_ids(engines.SESSIONS, include=query.include, exclude=query.exclude)
    if not query.include:
        return sessions.exclude(pk__in=matching)
    ids = engines.few_ids(matching)
    searched = sessions.filter(engines.Within("id", ids if ids is not None else matching, walk=ids is None))
    if ids is None and isinstance(sessions, SessionQuerySet) and _is_the_library(sessions):
        # Many matches, no other filter: counted in the index rather than session by session.
        return searched.counted_as(lambda: _library_matches(query))
    return searched


def _is_the_library(sessions: SessionQuerySet) -> bool:
    """Whether ``sessions`` are all the sessions of the library, unfiltered."""
    try:
        return sessions.ids_sql() == Session.objects.in_library().ids_sql()
    except EmptyResultSet:  # none(): a filter left no row possible
        return False


def _library_matches(query: SearchQuery) -> int:
    """How many sessions of the library match ``query`` (with an included term): the index's
    count of matching documents, less the forgotten sessions among them (every document is a
    session's, and forgotten sessions are few: their own index finds them)."""
    matching = engines.matching_ids(engines.SESSIONS, include=query.include, exclude=query.exclude)
    # The forgotten sessions, in their own index's order, each tested against the matches
    # (rather than every match looked up among the sessions: the cost this count avoids).
    forgotten = (Session.objects.exclude(IN_LIBRARY).filter(engines.Within("id", matching, walk=True))
                 .order_by("pk").values_list("pk", flat=True))
    return engines.count_matches(engines.SESSIONS, include=query.include, exclude=query.exclude) - len(forgotten)


def search_images(images: QuerySet, text: str | SearchQuery | None) -> QuerySet:
    query = text if isinstance(text, SearchQuery) else parse_query(text)
    if not query:
        return images
    # Most terms are words of image texts: one look-up of that index for all of them. A term some
    # session's own words hold (its name, model, tags or note) also matches that session's images.
    by_session = {term for term in (*query.include, *query.exclude)
                  if engines.any_match(engines.SESSION_OWN_WORDS, term)}
    in_texts = [term for term in query.include if term not in by_session]
    if in_texts:
        texts = engines.matching_ids(engines.IMAGE_TEXTS, include=in_texts, exclude=query.exclude)
        text_ids = engines.few_ids(texts, fewer_than=MANY_TEXTS)
        if text_ids is None:
            images = images.filter(engines.Within("text_id", texts, walk=True))
        else:
            dense = engines.rows_reach("gen_sessions_sessionimage", "text_id", text_ids)
            images = images.filter(engines.Within("text_id", text_ids, walk=dense))
    elif query.exclude:
        images = images.exclude(text_id__in=engines.matching_ids(engines.IMAGE_TEXTS, include=(),
                                                                 exclude=query.exclude))
    for term in query.include:
        if term in by_session:
            images = images.filter(Q(text_id__in=engines.matching_ids(engines.IMAGE_TEXTS, include=[term]))
                                   | Q(session_id__in=engines.matching_ids(engines.SESSION_OWN_WORDS, include=[term])))
    for term in query.exclude:
        if term in by_session:
            images = images.exclude(session_id__in=engines.matching_ids(engines.SESSION_OWN_WORDS, include=[term]))
    return images


def rebuild_indexes() -> None:
    engines.rebuild()
