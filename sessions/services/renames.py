"""Renamed and moved session folders (SPEC section 11): the same session under a new name.

A folder that appears while a session's folder is gone is that session when it is the same file
system object (device and inode: a rename, a move within the results folder, two folders
swapped) or, when it was copied, when it holds the same content (the session's fingerprint: its
manifest's bytes, or its images' names and sizes). ``sessions.lifecycle.rename_sessions``
records the outcome.

File systems hand a deleted folder's inode number to the next folder made, so the same device
and inode is only taken for the same run when something else agrees: the folder is untouched
since (same mtime), holds the same content, or its manifest gives the same run start (a run
renamed while it still writes).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from sessions.manifest import MANIFEST_NAME, ManifestError, read_manifest_file
from sessions.models import SessionStats
from sessions.reading import folder_fingerprint
from sessions.scanning import FolderSeen
from sessions.services.known import Known
from sessions.stats import parse_timestamp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rename:
    session_id: int
    old_name: str
    new_name: str
    how: str  # "same folder" or "same content"


def departures_and_arrivals(*, folders: Mapping[str, FolderSeen], known: Mapping[str, Known],
                            ) -> tuple[dict[str, Known], dict[str, FolderSeen]]:
    """The present sessions no longer at their name (their folder is gone, or another folder
    holds the name), and the folders at a name that is not (or no longer) a present session's
    own. One pass over each side: a no-change sync of a large library runs this every time."""
    left: dict[str, Known] = {}
    arrived: dict[str, FolderSeen] = {}
    for name, entry in known.items():
        seen = folders.get(name)
        if seen is None:
            if not entry.is_missing:
                left[name] = entry
            continue
        elsewhere = (entry.folder_inode is not None and entry.folder_device is not None
                     and (entry.folder_inode != seen.inode or entry.folder_device != seen.device))
        if elsewhere and not entry.is_missing:
            left[name] = entry
        if elsewhere or entry.is_missing:
            arrived[name] = seen
    for name, seen in folders.items():
        if name not in known:
            arrived[name] = seen
    return left, arrived


def find_renames(*, results_dir: Path, folders: Mapping[str, FolderSeen], known: Mapping[str, Known],
                 tz: tzinfo) -> list[Rename]:
    """The sessions whose folder now has another name, among ``folders`` (what is on disk) and
    ``known`` (what the database holds about the same names and the ones that vanished); ``tz``
    reads manifests' times as the sync does."""
    left, arrived = departures_and_arrivals(folders=folders, known=known)
    if not left or not arrived:
        return []
    renames = []
    by_identity = {entry.identity: name for name, entry in left.items() if entry.identity is not None}
    for name, seen in sorted(arrived.items()):
        old = by_identity.get((seen.device, seen.inode))
        if old is not None and old != name and _same_run(results_dir, name, seen, left[old], tz):
            del by_identity[(seen.device, seen.inode)]
            renames.append(Rename(left.pop(old).pk, old, name, "same folder"))
    # Copied, then the original deleted: only a folder that vanished can have been copied away.
    by_content: dict[str, str | None] = {}
    for name, entry in left.items():
        if name not in folders and entry.fingerprint:
            by_content[entry.fingerprint] = None if entry.fingerprint in by_content else name  # None: ambiguous
    taken = {rename.new_name for rename in renames}
    for name in sorted(arrived):
        if not by_content or name in taken or (name in known and not known[name].is_missing):
            continue
        old_name = by_content.pop(folder_fingerprint(results_dir, name) or "", None)
        if old_name is not None:
            renames.append(Rename(left[old_name].pk, old_name, name, "same content"))
    return renames


def _same_run(results_dir: Path, name: str, seen: FolderSeen, entry: Known, tz: tzinfo) -> bool:
    """Whether the folder ``name``, the same file system object as ``entry``'s was, still holds
    that run (and not a new one in a reused inode)."""
    if entry.folder_mtime_ns == seen.mtime_ns:
        return True
    if entry.fingerprint is not None and folder_fingerprint(results_dir, name) == entry.fingerprint:
        return True
    started = SessionStats.objects.filter(session_id=entry.pk).values_list("manifest_generated_at", flat=True).first()
    if started is None:
        return False
    try:
        manifest, _ = read_manifest_file(results_dir / name / MANIFEST_NAME)
    except ManifestError:
        return False
    return parse_timestamp(manifest.snapshot.timestamp, tz) == started
