"""What the pages show, built from the selectors' rows: session cards, thumbnails, the viewer's
data and the variation chips. Plain values only; the templates escape every one of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from gallery.querystrings import Query
from sessions import facts
from sessions.links import image_url, session_images_url
from sessions.models import Session, SessionImage
from sessions.serializers import ImageSerializer

# Rows of sessions.facts.generation_facts that belong to one image (the viewer shows the
# image's own) or that say nothing about how an image looks.
_NOT_IMAGE_PARAMETERS = frozenset({"prompt", "negative prompt", "seeds", "base seed", "template version"})
DEFAULT_ASPECT = 2 / 3  # SD's usual portrait, for images whose size is unknown


def gallery_session_url(name: str) -> str:
    return reverse("gallery:session", kwargs={"name": name})


def admin_session_url(session: Session) -> str:
    return reverse("admin:gen_sessions_session_change", args=[session.pk])


def count_text(images_actual: int, images_expected: int | None) -> str:
    """"12 / 60", or "12" without a manifest's count (the live script writes the same)."""
    return f"{images_actual} / {images_expected}" if images_expected is not None else str(images_actual)


def bar_width(completion: float | None) -> str:
    return f"{max(0.0, min(100.0, completion or 0.0)):.1f}"


@dataclass(frozen=True)
class SessionCard:
    name: str
    url: str
    admin_url: str | None
    metadata_url: str
    cover_url: str | None
    status: str
    model: str | None
    images_actual: int
    images_expected: int | None
    completion: float | None
    is_favorite: bool
    tags: list[str]
    created_at: Any
    is_missing: bool

    @property
    def count(self) -> str:
        return count_text(self.images_actual, self.images_expected)

    @property
    def bar(self) -> str:
        return bar_width(self.completion)


def session_card(session: Session, *, with_admin_link: bool) -> SessionCard:
    stats = getattr(session, "stats", None)
    metadata = getattr(session, "metadata", None)
    cover = session.cover_image
    return SessionCard(
        name=session.name,
        url=gallery_session_url(session.name),
        admin_url=admin_session_url(session) if with_admin_link else None,
        metadata_url=reverse("session-metadata", kwargs={"name": session.name}),
        cover_url=image_url(session.name, cover, thumbnail=True) if cover else None,
        status=session.status,
        model=stats.sd_model if stats is not None else None,
        images_actual=session.images_actual,
        images_expected=session.images_expected,
        completion=session.completion_percentage,
        is_favorite=bool(metadata and metadata.is_favorite),
        tags=metadata.tag_list if metadata is not None else [],
        created_at=session.created_at,
        is_missing=session.is_missing,
    )


@dataclass(frozen=True)
class Thumbnail:
    """One cell of a thumbnail grid; ``position`` is the image's place in the viewer's list."""

    position: int
    filename: str
    session_name: str
    session_url: str
    url: str | None
    src: str | None
    aspect: str
    title: str


def thumbnails(items: Sequence[dict[str, Any]], *, start: int = 0) -> list[Thumbnail]:
    """Cells for image items (``ImageSerializer`` output), numbered from ``start``."""
    cells = []
    session_urls: dict[str, str] = {}
    for position, item in enumerate(items, start=start):
        name = item["session_id"]
        if name not in session_urls:
            session_urls[name] = gallery_session_url(name)
        width, height = item.get("width"), item.get("height")
        aspect = width / height if width and height else DEFAULT_ASPECT
        lines = [f"{name}: {value}" for name, value in (item.get("applied_variations") or {}).items()]
        if item.get("seed") is not None:
            lines.append(f"seed: {item['seed']}")
        cells.append(Thumbnail(
            position=position, filename=item["filename"], session_name=name, session_url=session_urls[name],
            url=item["url"],
            # Only PNGs have thumbnails; other images are shown as they are.
            src=item["thumbnail_url"] or item["url"], aspect=f"{aspect:.4f}",
            title="\n".join(lines) or item["filename"],
        ))
    return cells


def image_items(images: Iterable[SessionImage], *, session: Session | None = None) -> list[dict[str, Any]]:
    """The API's image items (the viewer and the live script read the same JSON); ``session``
    when they all belong to it (its stats give an sdgen image's parameters)."""
    context = {"session": session} if session is not None else {}
    return list(ImageSerializer(list(images), many=True, context=context).data)


def image_parameters(session: Session) -> list[tuple[str, str]]:
    """How the session's images were made (model, sampler, steps…), for the viewer."""
    rows = facts.generation_facts(session) or []
    return [(label, str(value)) for label, value in rows
            if label not in _NOT_IMAGE_PARAMETERS and value is not None and value != ""]


def viewer_sessions(sessions: Iterable[Session]) -> dict[str, dict[str, Any]]:
    """Per session shown in the viewer: its page and its parameters."""
    return {session.name: {"url": gallery_session_url(session.name), "parameters": image_parameters(session)}
            for session in sessions}


def page_data(items: list[dict[str, Any]], sessions: Iterable[Session], **extra: Any) -> dict[str, Any]:
    """What the page's scripts read (``json_script``: escaped for a script element)."""
    return {"images": items, "sessions": viewer_sessions(sessions), **extra}


# --- variation chips ------------------------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    label: str
    href: str
    active: bool


@dataclass(frozen=True)
class ChipGroup:
    placeholder: str
    chips: list[Chip]
    more: int  # values used that the summary does not list
    clear_href: str | None


def variation_chips(session: Session, query: Query) -> list[ChipGroup]:
    """One group per placeholder: each value a chip that adds or removes ``variation=Name:value``
    (values of one placeholder are alternatives, placeholders all apply: ImageFilter's rule).
    Values asked for in the URL are shown too, so that each can be removed."""
    stats = getattr(session, "stats", None)
    summary: dict[str, list[Any]] = dict(stats.variations_summary) if stats is not None else {}
    used: dict[str, int] = dict(stats.placeholders) if stats is not None else {}
    selected: dict[str, list[str]] = {}
    for item in query.get_all("variation"):
        name, _, value = item.partition(":")
        selected.setdefault(name.strip(), []).append(value)
    groups = []
    for placeholder in [*summary, *(name for name in selected if name not in summary)]:
        values = [str(value) for value in summary.get(placeholder, [])]
        values += [value for value in selected.get(placeholder, []) if value not in values]
        chips = [Chip(value, query.toggled("variation", f"{placeholder}:{value}"),
                      value in selected.get(placeholder, [])) for value in values]
        clear = None
        if placeholder in selected:
            clear = query.replaced("variation", [item for item in query.get_all("variation")
                                                 if item.partition(":")[0].strip() != placeholder])
        groups.append(ChipGroup(placeholder, chips, max(0, used.get(placeholder, len(values)) - len(values)), clear))
    return groups


def images_api_url(session: Session) -> str:
    """Where the live script asks for a session's new images."""
    return session_images_url(session.name)
