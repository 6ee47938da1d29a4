"""A session's facts as labelled rows, for the admin's session page and the gallery's."""

from __future__ import annotations

from typing import Any

from sessions.models import Session

Rows = list[tuple[str, Any]]


def _stats(session: Session) -> Any:
    # A missing one-to-one row raises RelatedObjectDoesNotExist, an AttributeError: None.
    return getattr(session, "stats", None)


def generation_facts(session: Session) -> Rows | None:
    """The generation settings; None without readable stats."""
    stats = _stats(session)
    if stats is None:
        return None
    size = f"{stats.width}×{stats.height}" if stats.width and stats.height else None
    return [
        ("model", stats.sd_model), ("sampler", stats.sampler_name), ("scheduler", stats.scheduler),
        ("steps", stats.steps), ("CFG scale", stats.cfg_scale), ("size", size),
        ("mode", stats.generation_mode), ("seed mode", stats.seed_mode), ("base seed", stats.seed_base),
        ("seeds", f"{stats.seed_min} – {stats.seed_max}" if stats.seed_min is not None else None),
        ("template version", stats.template_version), ("prompt", stats.resolved_prompt),
        ("negative prompt", stats.negative_prompt),
    ]


def count_facts(session: Session) -> Rows:
    stats = _stats(session)
    completion = f"{session.completion_percentage:.2f} %" if session.completion_percentage is not None else None
    return [
        ("images on disk", session.images_actual), ("images expected", session.images_expected),
        ("images in the manifest", stats.images_recorded if stats else None), ("completion", completion),
    ]


def time_facts(session: Session) -> Rows:
    stats = _stats(session)
    return [
        ("run started", session.created_at), ("manifest written", stats.manifest_generated_at if stats else None),
        ("first image", stats.first_image_created_at if stats else None),
        ("last image", stats.last_image_created_at if stats else None),
        ("last change seen", session.last_activity_at), ("first seen", session.first_seen_at),
        ("last synced", session.synced_at), ("stats computed", stats.stats_computed_at if stats else None),
    ]


def variation_facts(session: Session) -> Rows | None:
    stats = _stats(session)
    if stats is None:
        return None
    rows: Rows = [("seed sweep", "yes" if stats.is_seed_sweep else "no"),
                  ("combinations", stats.variations_theoretical)]
    for name, values in stats.variations_summary.items():
        used = stats.placeholders.get(name, len(values))
        rows.append((f"{name} ({used} used)", ", ".join(str(value) for value in values)))
    return rows
