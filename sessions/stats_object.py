"""The stats object (SPEC section 3) as the API answers it: built from a stored stats row and
its session, and rendered to JSON once, by the sync that writes them (``SessionStats.rendered``),
so that ``GET /api/sessions/{name}/stats`` answers a stored string."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sessions.models import Session, SessionStats

FIELDS = [
    "sd_model", "sampler_name", "scheduler", "steps", "cfg_scale", "width", "height", "template_version",
    "generation_mode", "seed_mode", "seed_base", "seed_min", "seed_max", "resolved_prompt", "negative_prompt",
    "images_expected", "images_actual", "images_recorded", "completion_percentage", "is_seed_sweep",
    "placeholders", "variations_summary", "variations_theoretical", "session_created_at",
    "manifest_generated_at", "first_image_created_at", "last_image_created_at", "stats_computed_at",
    "stats_version", "source",
]
_DATETIMES = frozenset({"manifest_generated_at", "first_image_created_at", "last_image_created_at",
                        "stats_computed_at"})
# The session's own columns (the sync writes them with the stats).
_FROM_SESSION = {"images_expected": "images_expected", "images_actual": "images_actual",
                 "completion_percentage": "completion_percentage", "session_created_at": "created_at"}


def iso8601(value: datetime | None) -> str | None:
    """A datetime as DRF writes it (UTC, 'Z'), without a field object per value."""
    if value is None:
        return None
    text = value.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def stats_object(stats: SessionStats, session: Session) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in FIELDS:
        if name in _FROM_SESSION:
            value = getattr(session, _FROM_SESSION[name])
            data[name] = iso8601(value) if name == "session_created_at" else value
        elif name in _DATETIMES:
            data[name] = iso8601(getattr(stats, name))
        else:
            data[name] = getattr(stats, name)
    return data


def render(data: dict[str, Any]) -> str | None:
    """JSON exactly as the API's renderer writes it (DRF's JSONRenderer with its default
    settings: compact, UTF-8, no NaN); None when it cannot (the answer is then built per request)."""
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
