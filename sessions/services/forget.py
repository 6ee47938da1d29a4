"""Forgetting missing sessions (SPEC section 11): out of every list, count and search, with
their event log kept; a forgotten session whose folder comes back returns with its metadata."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import transaction

from sessions.lifecycle import EventSpec, record_events
from sessions.models import EventKind, Session
from sessions.scanning import stamp_session_folder

logger = logging.getLogger(__name__)


@dataclass
class ForgetReport:
    forgotten: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # name → why not


def forget_sessions(*, names: Sequence[str], results_dir: Path, source: str, performer: str,
                    now: datetime) -> ForgetReport:
    """Forget the named sessions that are missing; refuse (and say why) for the others.

    A session's folder is looked for on disk as well: one that came back since the last sync
    is present, whatever the database last recorded.
    """
    report = ForgetReport()
    with transaction.atomic():
        sessions = {s.name: s for s in Session.objects.select_for_update().filter(name__in=list(names))}
        to_forget = []
        for name in dict.fromkeys(names):
            session = sessions.get(name)
            if session is None or session.forgotten_at is not None:
                report.refused[name] = "no such session in the library"
            elif not session.is_missing or stamp_session_folder(results_dir, name) is not None:
                report.refused[name] = "its folder is in the results folder: only missing sessions can be forgotten"
            else:
                to_forget.append(session)
        Session.objects.filter(pk__in=[s.pk for s in to_forget]).update(forgotten_at=now, updated_at=now)
        record_events([EventSpec(session_id=s.pk, kind=EventKind.FORGOTTEN, source=source, from_status=s.status,
                                 to_status=s.status, performer_id=performer) for s in to_forget], now=now)
    for session in to_forget:
        report.forgotten.append(session.name)
        logger.info("%s: forgotten by %s (%s)", session.name, performer, source)
    return report
