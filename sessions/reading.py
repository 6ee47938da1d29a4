"""Reading one session folder: its listing, manifest, stats, counts and image records.

Pure with respect to the database: only the disk is read here. ``sessions.services.sync``
compares what is read with the database and writes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from sessions.manifest import MANIFEST_NAME, Manifest, ManifestError, read_manifest_file
from sessions.scanning import FolderUnreadable, list_folder, resolve_inside
from sessions.stats import (
    Counts,
    FolderListing,
    ImageRecord,
    StatsData,
    compute_counts,
    compute_stats,
    image_records,
    session_created_at,
)


@dataclass
class FolderRead:
    """One session folder as read from disk, before it is compared with the database."""

    name: str
    listing: FolderListing | None = None
    manifest: Manifest | None = None
    error: str | None = None
    manifest_unreadable: bool = False
    counts: Counts | None = None
    stats: StatsData | None = None
    records: list[ImageRecord] = field(default_factory=list)
    created_at: datetime | None = None
    # What a copy of the folder shares with it: its manifest's bytes, or its images' names and sizes.
    fingerprint: str | None = None

    @property
    def is_session(self) -> bool:
        """A folder with neither a manifest nor an image is not (or no longer) a session."""
        return self.listing is None or self.listing.has_manifest or bool(self.listing.images)


def folder_fingerprint(results_dir: Path, name: str) -> str | None:
    """The fingerprint of the folder ``name`` as the sync would record it; None when it has none
    (no readable manifest and no image)."""
    try:
        listing = list_folder(results_dir, name)
    except FolderUnreadable:
        return None
    if not listing.has_manifest:
        return images_fingerprint(listing)
    try:
        return read_manifest_file(results_dir / name / MANIFEST_NAME)[1]
    except ManifestError:
        return None


def images_fingerprint(listing: FolderListing) -> str | None:
    if not listing.images:
        return None
    names = "\n".join(f"{image.name}\t{image.size}" for image in listing.images)
    return hashlib.sha1(names.encode("utf-8", "surrogateescape")).hexdigest()


def read_session_folder(*, results_dir: Path, name: str, tz: tzinfo) -> FolderRead:
    """Everything the database keeps about the folder ``name``; never raises for bad input:
    an unreadable folder or manifest is ``error`` (and ``manifest_unreadable``)."""
    read = FolderRead(name)
    try:
        read.listing = listing = list_folder(results_dir, name)
    except FolderUnreadable as exc:
        read.error = str(exc)
        return read
    if listing.has_manifest:
        try:
            read.manifest, read.fingerprint = read_manifest_file(results_dir / name / MANIFEST_NAME)
        except ManifestError as exc:
            read.error = str(exc)
            read.manifest_unreadable = True
        else:
            read.stats = compute_stats(manifest=read.manifest, listing=listing, tz=tz)
    else:
        read.fingerprint = images_fingerprint(listing)
    read.counts = compute_counts(manifest=read.manifest, listing=listing)
    read.created_at = session_created_at(folder_name=name, manifest=read.manifest, folder_mtime_ns=listing.mtime_ns,
                                         tz=tz)
    if not read.error:
        read.records = image_records(manifest=read.manifest, listing=listing)
    return read


@dataclass(frozen=True)
class ManifestDisplay:
    """The manifest as a person reads it: laid out when it parses, as it is otherwise."""

    text: str | None  # None: no manifest on disk
    size: int = 0
    cut: bool = False  # only the beginning of a large file
    error: str | None = None

    @property
    def size_text(self) -> str:
        return f"{self.size:,}"


def manifest_for_display(*, results_dir: Path, name: str, limit: int) -> ManifestDisplay:
    path = resolve_inside(results_dir, name, MANIFEST_NAME)
    if path is None:
        return ManifestDisplay(None)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(limit + 1)
        size = path.stat().st_size
    except OSError as exc:
        return ManifestDisplay(None, error=f"{MANIFEST_NAME} cannot be read: {exc.strerror or exc}")
    try:
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        pass  # shown as it is: unreadable (the sync error says why) or nested too deep to lay out
    return ManifestDisplay(text[:limit], size=size, cut=len(text) > limit)
