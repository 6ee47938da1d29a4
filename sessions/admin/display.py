"""How a session shows in the admin: list columns, read-only fields, the thumbnail grid."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from sessions import facts, selectors
from sessions.image_files import is_thumbnail_source
from sessions.links import image_url, session_images_url
from sessions.models import Session, SessionStatus
from sessions.reading import manifest_for_display

STATUS_COLOURS = {SessionStatus.ONGOING: "#1f6feb", SessionStatus.COMPLETED: "#1a7f37",
                  SessionStatus.ABORTED: "#cf222e"}
IMAGES_SHOWN = 300
MANIFEST_SHOWN = 200_000  # characters
# Quiet marks for the list's flags, not Django's boolean icons: most sessions are neither, and
# a column of red error icons reads as a list of failures.
FAVOURITE_MARK = mark_safe('<span class="sdgen-mark" title="favourite" style="color:#d4a017">★</span>')
TEST_MARK = mark_safe('<span class="sdgen-mark" title="a test run">test</span>')
NO_MARK = mark_safe('<span class="sdgen-muted" title="no">·</span>')


class SessionColumns:
    """The session list's columns and the session page's read-only fields."""

    # --- list columns -----------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, session: Session) -> SafeString:
        return format_html('<span class="sdgen-badge" style="background:{}">{}</span>',
                           STATUS_COLOURS.get(session.status, "#6e7781"), session.status)

    @admin.display(description="model", ordering="stats__sd_model")
    def sd_model(self, session: Session) -> str:
        stats = getattr(session, "stats", None)
        return (stats.sd_model or "—") if stats is not None else "—"

    @admin.display(description="images", ordering="completion_percentage")
    def images(self, session: Session) -> SafeString:
        percentage = session.completion_percentage
        expected = session.images_expected if session.images_expected is not None else "?"
        width = max(0.0, min(100.0, percentage or 0.0))
        return format_html(
            '<div class="sdgen-count">{} / {}</div><div class="sdgen-bar" title="{}"><span style="width:{}%"></span>'
            "</div>", session.images_actual, expected,
            f"{percentage:.2f}%" if percentage is not None else "no manifest", f"{width:.0f}")

    @admin.display(description="favourite")
    def favourite(self, session: Session) -> SafeString:
        metadata = getattr(session, "metadata", None)
        return FAVOURITE_MARK if metadata and metadata.is_favorite else NO_MARK

    @admin.display(description="test")
    def test_run(self, session: Session) -> SafeString:
        metadata = getattr(session, "metadata", None)
        return TEST_MARK if metadata and metadata.is_test else NO_MARK

    @admin.display(description="first image")
    def thumbnail(self, session: Session) -> SafeString | str:
        cover = getattr(session, "cover_image", None)
        if not cover:
            return ""
        return format_html('<img class="sdgen-thumb" src="{}" alt="" loading="lazy" height="60">',
                           image_url(session.name, cover, thumbnail=True))

    # --- the session page -------------------------------------------------------------------

    @admin.display(description="UUID")
    def identity(self, session: Session) -> str:
        return str(session.uuid)

    @admin.display(description="status set")
    def status_set(self, session: Session) -> str:
        return f"by {session.status_source}, {timezone.localtime(session.status_changed_at):%Y-%m-%d %H:%M:%S}"

    @admin.display(description="folder")
    def location(self, session: Session) -> str:
        return "missing from the results folder" if session.is_missing else f"results/{session.name}"

    @admin.display(description="sync error")
    def sync_error_text(self, session: Session) -> SafeString | str:
        if not session.sync_error:
            return "—"
        return format_html('<span class="sdgen-error">{}</span>', session.sync_error)

    @admin.display(description="settings")
    def generation(self, session: Session) -> SafeString | str:
        rows = facts.generation_facts(session)
        return _table(rows) if rows is not None else "No readable manifest."

    @admin.display(description="images")
    def counts(self, session: Session) -> SafeString:
        return _table(facts.count_facts(session))

    @admin.display(description="times")
    def timing(self, session: Session) -> SafeString:
        return _table(facts.time_facts(session))

    @admin.display(description="placeholders")
    def variations(self, session: Session) -> SafeString | str:
        rows = facts.variation_facts(session)
        return _table(rows) if rows is not None else "—"

    @admin.display(description="thumbnails")
    def image_grid(self, session: Session) -> SafeString:
        images = list(selectors.session_images(session).filter(file_size__isnull=False)[:IMAGES_SHOWN + 1])
        cells = [{"url": image_url(session.name, image.filename), "title": _variation_text(image),
                  "src": _thumbnail_src(session, image), "filename": image.filename}
                 for image in images[:IMAGES_SHOWN]]
        more_url = session_images_url(session.name) if len(images) > IMAGES_SHOWN else None
        return render_to_string("gen_sessions/includes/image_grid.html", {"images": cells, "more_url": more_url})

    @admin.display(description="events")
    def event_log(self, session: Session) -> SafeString:
        return render_to_string("gen_sessions/includes/event_log.html",
                                {"events": selectors.session_events(session)})

    @admin.display(description="on disk")
    def raw_manifest(self, session: Session) -> SafeString:
        manifest = manifest_for_display(results_dir=settings.SDGEN_RESULTS_DIR, name=session.name,
                                        limit=MANIFEST_SHOWN)
        return render_to_string("gen_sessions/includes/raw_manifest.html", {"manifest": manifest})


def _table(rows: facts.Rows) -> SafeString:
    return render_to_string("gen_sessions/includes/facts_table.html", {"rows": rows})


def _variation_text(image) -> str:
    lines = [f"{name}: {value}" for name, value in (image.applied_variations or {}).items()]
    if image.seed is not None:
        lines.append(f"seed: {image.seed}")
    return "\n".join(lines) or image.filename


def _thumbnail_src(session: Session, image) -> str:
    if is_thumbnail_source(image.filename):
        return image_url(session.name, image.filename, thumbnail=True)
    return image_url(session.name, image.filename)
