"""The gallery's pages (SPEC section 10). Each one validates its query string with the API's
own FilterSet, reads through the selectors, and renders; nothing here decides what matches."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe
from django_filters import FilterSet

from gallery import compare, presenters
from gallery.pagination import PAGE_PARAMETER, Page, PageNumberError, page_number, page_of
from gallery.querystrings import Query
from sessions import facts, selectors
from sessions.filters import ImageFilter, LibraryImageFilter, SessionFilter
from sessions.models import Session, SessionStatus
from sessions.permissions import SessionAction, may

# The admin's log-in page serves the gallery too (SPEC section 10); ?next= brings people back.
LOGIN_URL = "admin:login"
SESSIONS_PER_PAGE = 48
IMAGES_PER_PAGE = 120
SESSION_IMAGES_PER_PAGE = 200
COMPARE_ROWS_PER_PAGE = 40
# What the live script passes on when it asks for a session's new images (it sets since itself).
LIVE_IMAGE_FILTERS = [name for name in ImageFilter.base_filters if name != "since"]
# The live updates' stream (SPEC section 10); the pages do without it while it does not answer.
STREAM_URL = "/api/stream"


def gallery_page(view: Any) -> Any:
    return require_safe(login_required(view, login_url=LOGIN_URL))


class BadQuery(Exception):
    """The query string cannot be used; ``errors`` say which parameter and why."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _filtered(filterset: FilterSet) -> Any:
    if not filterset.is_valid():
        raise BadQuery([(name, message) for name, messages in filterset.errors.items() for message in messages])
    return filterset.qs


def _page(request: HttpRequest, filterset: FilterSet, size: int) -> Page:
    """The requested page of the FilterSet's list, its rows read from the unfiltered list."""
    filtered = _filtered(filterset)
    try:
        number = page_number(request.GET.get(PAGE_PARAMETER))
    except PageNumberError as exc:
        raise BadQuery([(PAGE_PARAMETER, str(exc))]) from None
    return page_of(filtered, number=number, size=size, details=filterset.queryset)


def _render(request: HttpRequest, template: str, context: dict[str, Any], *, errors: list | None = None,
            status: int = 400) -> HttpResponse:
    """The page; with ``errors`` (parameter, message) said on it, answered with ``status``."""
    query, page = context.get("query"), context.get("page")
    pager = {}
    if isinstance(query, Query) and isinstance(page, Page):
        pager = {"number": page.number, "previous": query.page(page.number - 1) if page.has_previous else None,
                 "next": query.page(page.number + 1) if page.has_next else None}
    base = {"errors": errors or [], "stream_url": STREAM_URL, "may_edit": may(request.user, SessionAction.EDIT_METADATA),
            "search_q": request.GET.get("q", ""), "pager": pager}
    return render(request, template, {**base, **context}, status=status if errors else 200)


@gallery_page
def session_grid(request: HttpRequest) -> HttpResponse:
    """Sessions newest first (or as ordered), filtered and searched by SPEC section 8's parameters."""
    query = Query(request.path, request.GET)
    context: dict[str, Any] = {"query": query, "filters": _filter_form(query), "active": _active_filters(query, SessionFilter),
                               "cards": [], "page": Page(), "search_keep": query.without("q", PAGE_PARAMETER).items()}
    try:
        page = _page(request, SessionFilter(request.GET, queryset=selectors.sessions_with_details(), request=request),
                     SESSIONS_PER_PAGE)
    except BadQuery as bad:
        return _render(request, "gallery/grid.html", context, errors=bad.errors)
    staff = request.user.is_staff
    context.update(page=page, cards=[presenters.session_card(s, with_admin_link=staff) for s in page.items])
    return _render(request, "gallery/grid.html", context)


@gallery_page
def session_page(request: HttpRequest, name: str) -> HttpResponse:
    """A session: its images (filtered by variation chips), then its parameters and notes."""
    session = selectors.sessions_with_details().filter(name=name).first()
    if session is None:
        raise Http404(f"No session named {name!r}.")
    query = Query(request.path, request.GET)
    card = presenters.session_card(session, with_admin_link=request.user.is_staff)
    metadata = getattr(session, "metadata", None)
    context: dict[str, Any] = {
        "session": session, "card": card, "query": query, "chips": presenters.variation_chips(session, query),
        "metadata": metadata, "tags": metadata.tag_list if metadata is not None else [],
        "generation": facts.generation_facts(session), "counts": facts.count_facts(session),
        "times": facts.time_facts(session), "variations": facts.variation_facts(session),
        "events": selectors.session_events(session), "thumbs": [], "page": Page(),
        "page_data": presenters.page_data([], [session]),
    }
    try:
        page = _page(request, ImageFilter(request.GET, queryset=selectors.session_images(session), request=request),
                     SESSION_IMAGES_PER_PAGE)
    except BadQuery as bad:
        return _render(request, "gallery/session.html", context, errors=bad.errors)
    items = presenters.image_items(page.items, session=session)
    context.update(page=page, thumbs=presenters.thumbnails(items), page_data=presenters.page_data(
        items, [session], session=session.name, status=session.status, last_page=not page.has_next,
        images_api=presenters.images_api_url(session),
        # The live script asks the API for new images with the page's own filters.
        filters=query.only(*LIVE_IMAGE_FILTERS).string()))
    return _render(request, "gallery/session.html", context)


@gallery_page
def image_search(request: HttpRequest) -> HttpResponse:
    """Images across the library, newest first: ``q`` searches them (SPEC section 9)."""
    query = Query(request.path, request.GET)
    context: dict[str, Any] = {"query": query, "thumbs": [], "page": Page(), "page_data": presenters.page_data([], []),
                               "active": _active_filters(query, LibraryImageFilter), "search_target": "images",
                               "search_keep": query.without("q", PAGE_PARAMETER).items()}
    try:
        page = _page(request, LibraryImageFilter(request.GET, queryset=selectors.library_images(), request=request),
                     IMAGES_PER_PAGE)
    except BadQuery as bad:
        return _render(request, "gallery/images.html", context, errors=bad.errors)
    items = presenters.image_items(page.items)
    names = {item["session_id"] for item in items}
    sessions = Session.objects.filter(name__in=names).select_related("stats") if names else []
    context.update(page=page, thumbs=presenters.thumbnails(items), page_data=presenters.page_data(items, sessions))
    return _render(request, "gallery/images.html", context)


@gallery_page
def compare_sessions(request: HttpRequest) -> HttpResponse:
    """Two sessions' parameters side by side, differences marked, and their images row by row."""
    query = Query(request.path, request.GET)
    wanted = {"a": request.GET.get("a", "").strip(), "b": request.GET.get("b", "").strip()}
    context: dict[str, Any] = {"query": query, "wanted": wanted, "recent": _recent_names(), "page": Page(),
                               "page_data": presenters.page_data([], [])}
    if not wanted["a"] or not wanted["b"]:
        return _render(request, "gallery/compare.html", context)
    found = {s.name: s for s in selectors.sessions_with_details().filter(name__in=set(wanted.values()))}
    missing = [(side, f"No session named '{name}'.") for side, name in wanted.items() if name not in found]
    if missing:
        return _render(request, "gallery/compare.html", context, errors=missing, status=404)
    a, b = found[wanted["a"]], found[wanted["b"]]
    try:
        number = page_number(request.GET.get(PAGE_PARAMETER))
    except PageNumberError as exc:
        return _render(request, "gallery/compare.html", context, errors=[(PAGE_PARAMETER, str(exc))])
    images = compare.image_rows(a, b, number=number, size=COMPARE_ROWS_PER_PAGE)
    staff = request.user.is_staff
    context.update(
        a=presenters.session_card(a, with_admin_link=staff), b=presenters.session_card(b, with_admin_link=staff),
        sections=compare.sections(a, b), rows=images.rows, swap_url=query.url(a=b.name, b=a.name),
        page=Page([], number, COMPARE_ROWS_PER_PAGE, images.has_next),
        page_data=presenters.page_data(images.items, [a, b]),
    )
    return _render(request, "gallery/compare.html", context)


def _recent_names() -> list[str]:
    """Names to pick from when comparing: the newest sessions (a bounded list)."""
    return list(Session.objects.in_library().order_by("-created_at", "-id").values_list("name", flat=True)[:30])


# --- the grid's filter bar ------------------------------------------------------------------

FLAG_FILTERS = [("liked", "Favourites"), ("complete", "Complete"), ("test", "Test runs"), ("seed_sweep", "Seed sweeps")]
ORDERINGS = [("", "newest first"), ("created_at", "oldest first"), ("-updated_at", "recently changed"),
             ("-images_actual", "most images"), ("images_actual", "fewest images"),
             ("-completion_percentage", "most complete"), ("completion_percentage", "least complete")]


def _filter_form(query: Query) -> dict[str, Any]:
    """The filter bar's fields with their current values (the FilterSet validates them)."""
    return {
        "statuses": [(value, label.lower()) for value, label in SessionStatus.choices],
        "flags": [(name, label, _boolean_text(query.get(name))) for name, label in FLAG_FILTERS],
        "orderings": ORDERINGS,
        "values": {name: query.get(name) for name in ("status", "model", "tag", "from_date", "to_date", "ordering")},
        # A date-time from a bookmark stays editable as it is; a date gets the date picker.
        "date_inputs": {name: "text" if "T" in query.get(name) else "date" for name in ("from_date", "to_date")},
    }


def _boolean_text(value: str) -> str:
    lowered = value.strip().lower()
    return {"1": "true", "0": "false"}.get(lowered, lowered)


_LABELS = {"q": "search", "liked": "favourite", "seed_sweep": "seed sweep", "from_date": "from", "to_date": "to",
           "ordering": "order"}


def _active_filters(query: Query, filterset: type[FilterSet]) -> list[tuple[str, str, str]]:
    """(label, value, link without it) for each value of the FilterSet's parameters in use."""
    active = []
    for name in filterset.base_filters:
        for value in query.get_all(name):
            others = [other for other in query.get_all(name) if other != value]
            active.append((_LABELS.get(name, name), value, query.replaced(name, others)))
    return active
