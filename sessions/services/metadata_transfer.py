"""User metadata out of one library and into another (``exportmetadata``, ``importmetadata``):
favourites, ratings, tags, notes and flags survive a move to a new machine or database.

The file is JSON: ``{"format": "sdgen-site-metadata", "version": 1, "exported_at", "sessions":
[{"uuid", "session_id", "fingerprint", "is_favorite", "is_test", "is_complete", "user_rating",
"user_note", "tags", "updated_at"}, ...]}``. An import matches each entry to a session by UUID,
then by folder name, then by fingerprint (what a copied folder shares); it changes only what
differs, keeps a session's metadata when it changed here after the export, never deletes
anything, and so can run again with the same result.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Prefetch
from django.utils.dateparse import parse_datetime

from sessions.models import Session, SessionMetadata, SessionTag, UserRating
from sessions.serializers import iso8601
from sessions.services.metadata import MAX_NOTE_LENGTH, normalize_tags, update_metadata

logger = logging.getLogger(__name__)

FORMAT = "sdgen-site-metadata"
VERSION = 1
FLAGS = ("is_favorite", "is_test", "is_complete")


class MetadataFileError(ValueError):
    """The file is not a metadata export this version can read; ``str()`` says why."""


def export_metadata(*, now: datetime) -> dict[str, Any]:
    """Every session's metadata (missing and forgotten ones included: their folders may return)."""
    metadata = (SessionMetadata.objects.select_related("session").order_by("session__name")
                .prefetch_related(Prefetch("tags", queryset=SessionTag.objects.order_by("position"))))
    return {
        "format": FORMAT, "version": VERSION, "exported_at": iso8601(now),
        "sessions": [{
            "uuid": str(entry.session.uuid), "session_id": entry.session.name, "fingerprint": entry.session.fingerprint,
            **{flag: getattr(entry, flag) for flag in FLAGS},
            "user_rating": entry.user_rating, "user_note": entry.user_note, "tags": entry.tag_list,
            "updated_at": iso8601(entry.updated_at),
        } for entry in metadata],
    }


@dataclass
class ImportReport:
    matched: dict[str, int] = field(default_factory=lambda: {"uuid": 0, "name": 0, "fingerprint": 0})
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # changed here after the export: left as they are
    unmatched: dict[str, str] = field(default_factory=dict)  # entry's name → why


def import_metadata(document: Any) -> ImportReport:
    entries = _entries(document)
    report = ImportReport()
    for entry in entries:
        session, how = _match(entry)
        if session is None:
            report.unmatched[entry["session_id"]] = how
            continue
        report.matched[how] += 1
        changes = _changes(session, entry)
        current = SessionMetadata.objects.filter(session=session).first()
        if not changes:
            report.unchanged.append(session.name)
        elif current is not None and entry["updated_at"] is not None and current.updated_at > entry["updated_at"]:
            report.kept.append(session.name)
        else:
            update_metadata(session=session, changes=changes)
            report.updated.append(session.name)
    logger.info("metadata import: %d updated, %d unchanged, %d kept, %d unmatched", len(report.updated),
                len(report.unchanged), len(report.kept), len(report.unmatched))
    return report


def _match(entry: Mapping[str, Any]) -> tuple[Session | None, str]:
    session = Session.objects.filter(uuid=entry["uuid"]).first() if entry["uuid"] else None
    if session is not None:
        return session, "uuid"
    session = Session.objects.filter(name=entry["session_id"]).first()
    if session is not None:
        return session, "name"
    if entry["fingerprint"]:
        found = list(Session.objects.filter(fingerprint=entry["fingerprint"])[:2])
        if len(found) == 1:
            return found[0], "fingerprint"
        if found:
            return None, "several sessions share its fingerprint"
    return None, "no session with its UUID, name or fingerprint"


def _changes(session: Session, entry: Mapping[str, Any]) -> dict[str, Any]:
    current = SessionMetadata.objects.filter(session=session).first()
    wanted = {**{flag: entry[flag] for flag in FLAGS}, "user_rating": entry["user_rating"],
              "user_note": entry["user_note"], "tags": entry["tags"]}
    if current is None:
        defaults: dict[str, Any] = {flag: False for flag in FLAGS} | {"user_rating": None, "user_note": "", "tags": []}
        return wanted if wanted != defaults else {}
    have = {**{flag: getattr(current, flag) for flag in FLAGS}, "user_rating": current.user_rating,
            "user_note": current.user_note, "tags": current.tag_list}
    return {name: value for name, value in wanted.items() if have[name] != value}


def _entries(document: Any) -> list[dict[str, Any]]:
    """The file's entries, checked and brought to their types; MetadataFileError names the first fault."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise MetadataFileError(f"not a metadata export (its 'format' must be {FORMAT!r})")
    if document.get("version") != VERSION:
        raise MetadataFileError(f"version {document.get('version')!r} of the format is not known here "
                                f"(this version reads {VERSION})")
    sessions = document.get("sessions")
    if not isinstance(sessions, list):
        raise MetadataFileError('"sessions" must be a list')
    return [_entry(position, raw) for position, raw in enumerate(sessions)]


def _entry(position: int, raw: Any) -> dict[str, Any]:
    where = f"sessions[{position}]"
    if not isinstance(raw, dict):
        raise MetadataFileError(f"{where} must be an object")
    name = raw.get("session_id")
    if not isinstance(name, str) or not name:
        raise MetadataFileError(f"{where}.session_id must be a folder name")
    entry: dict[str, Any] = {"session_id": name, "uuid": None, "fingerprint": raw.get("fingerprint") or None}
    if raw.get("uuid"):
        try:
            entry["uuid"] = str(uuid.UUID(str(raw["uuid"])))
        except ValueError:
            raise MetadataFileError(f"{where}.uuid is not a UUID") from None
    for flag in FLAGS:
        value = raw.get(flag, False)
        if not isinstance(value, bool):
            raise MetadataFileError(f"{where}.{flag} must be true or false")
        entry[flag] = value
    rating = raw.get("user_rating")
    if rating not in (None, *UserRating.values):
        raise MetadataFileError(f"{where}.user_rating must be one of: {', '.join(UserRating.values)}, or null")
    entry["user_rating"] = rating
    note = raw.get("user_note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH:
        raise MetadataFileError(f"{where}.user_note must be text of at most {MAX_NOTE_LENGTH} characters")
    entry["user_note"] = note
    tags = raw.get("tags", [])
    try:
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise ValueError("it must be a list of texts")
        entry["tags"] = normalize_tags(tags)
    except ValueError as exc:
        raise MetadataFileError(f"{where}.tags: {exc}") from None
    updated = raw.get("updated_at")
    entry["updated_at"] = parse_datetime(updated) if isinstance(updated, str) else None
    return entry
