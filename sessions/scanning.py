"""Reading the results folder: which sub-folders are sessions, and what each one holds.

Only directory listings and ``stat`` calls happen here, plus the 24-byte PNG header read for
image dimensions; manifests are parsed by ``sessions.manifest``.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import NamedTuple

from sessions.image_files import is_image_name
from sessions.manifest import MANIFEST_NAME
from sessions.stats import FolderListing, ImageFile

logger = logging.getLogger(__name__)

DRYRUN_FOLDER = "dryrun"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ResultsDirError(Exception):
    """The results root cannot be used (missing, not a folder, unreadable)."""


class FolderUnreadable(Exception):
    """A session folder cannot be listed; ``str(error)`` says why."""


@dataclass(frozen=True)
class FolderStamp:
    """The cheap fingerprint of a session folder: its mtime and its manifest's stat."""

    name: str
    mtime_ns: int
    manifest_mtime_ns: int | None
    manifest_size: int | None


def check_results_dir(results_dir: Path) -> Path:
    if not results_dir.exists():
        raise ResultsDirError(f"results folder {results_dir} does not exist")
    if not results_dir.is_dir():
        raise ResultsDirError(f"results folder {results_dir} is not a folder")
    if not os.access(results_dir, os.R_OK | os.X_OK):
        raise ResultsDirError(f"results folder {results_dir} cannot be read: permission denied")
    return results_dir


def is_session_folder_name(name: str) -> bool:
    """Folder names that are never sessions: dry runs and hidden folders."""
    return name != DRYRUN_FOLDER and not name.startswith(".")


class FolderSeen(NamedTuple):
    """A candidate session folder as one ``stat`` sees it: its mtime and its identity."""

    mtime_ns: int
    device: int
    inode: int


# A folder as a whole-library sync compares it with what it stored: (name, folder mtime, device,
# inode, manifest mtime, manifest size), the last two None without a manifest. Plain tuples, as
# the database's rows are (sessions.services.known.StoredState), so that a library's worth of
# them is compared as two sets.
FolderState = tuple[str, int, int, int, "int | None", "int | None"]

# Listing the root by a descriptor lets each folder and manifest be looked at relative to it
# (fstatat), which costs the kernel a path of one or two names instead of the whole one: at
# 100,000 folders, 0.78 s instead of 1.31 s here. Where descriptors cannot be used, paths are.
_BY_DESCRIPTOR = os.scandir in os.supports_fd and os.stat in os.supports_dir_fd


def iter_folder_states(results_dir: Path) -> Iterator[FolderState]:
    """The state of every candidate session folder under the root: one ``stat`` of the folder,
    one of its manifest (rewritten in place, a manifest leaves its folder's mtime alone)."""
    try:
        root: int | str = os.open(results_dir, os.O_RDONLY | os.O_DIRECTORY) if _BY_DESCRIPTOR else str(results_dir)
    except OSError as exc:
        raise ResultsDirError(f"results folder {results_dir} cannot be listed: {exc.strerror or exc}") from None
    # Names bound locally, the checks cheapest first: this loop runs once per folder of the
    # library at every whole sync, and a no-change re-sync is mostly this loop.
    stat, suffix = os.stat, f"/{MANIFEST_NAME}"
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                try:
                    # Symlinked folders are not followed: files must resolve inside the root.
                    if not entry.is_dir(follow_symlinks=False):
                        continue
                    name = entry.name
                    if not is_session_folder_name(name) or not _is_storable(name):
                        continue
                    folder = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed while listing
                try:
                    manifest = stat(name + suffix, dir_fd=root) if isinstance(root, int) else stat(entry.path + suffix)
                except OSError:
                    yield name, folder.st_mtime_ns, folder.st_dev, folder.st_ino, None, None
                else:
                    yield (name, folder.st_mtime_ns, folder.st_dev, folder.st_ino, manifest.st_mtime_ns,
                           manifest.st_size)
    except OSError as exc:
        raise ResultsDirError(f"results folder {results_dir} cannot be listed: {exc.strerror or exc}") from None
    finally:
        if isinstance(root, int):
            os.close(root)


def see_folder(results_dir: Path, name: str) -> FolderSeen | None:
    """One named session folder as ``iter_folder_states`` sees it; None when it is not (or no longer) one."""
    if not is_session_folder_name(name) or not _is_storable(name) or "/" in name or name in ("", ".."):
        return None
    try:
        stat = os.stat(os.path.join(results_dir, name), follow_symlinks=False)
    except OSError:
        return None
    if not S_ISDIR(stat.st_mode):  # symlinks (lstat) and files are not session folders
        return None
    return FolderSeen(stat.st_mtime_ns, stat.st_dev, stat.st_ino)


def manifest_stamp(results_dir: Path, name: str) -> tuple[int | None, int | None]:
    """(mtime, size) of a session folder's manifest, (None, None) without one."""
    try:
        stat = os.stat(f"{results_dir}/{name}/{MANIFEST_NAME}")
    except OSError:
        return None, None
    return stat.st_mtime_ns, stat.st_size


def stamp_session_folder(results_dir: Path, name: str) -> FolderStamp | None:
    """The stamp of one named folder, or None when it is not (or no longer) a folder."""
    if not is_session_folder_name(name) or not _is_storable(name) or "/" in name or name in ("", ".."):
        return None
    path = os.path.join(results_dir, name)
    try:
        stat = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not os.path.isdir(path) or os.path.islink(path):
        return None
    return _stamp(name, path, stat.st_mtime_ns)


def _stamp(name: str, path: str, mtime_ns: int) -> FolderStamp:
    try:
        manifest = os.stat(os.path.join(path, MANIFEST_NAME))
    except OSError:
        return FolderStamp(name, mtime_ns, None, None)
    return FolderStamp(name, mtime_ns, manifest.st_mtime_ns, manifest.st_size)


def list_folder(results_dir: Path, name: str) -> FolderListing:
    """List a session folder's images and manifest (not recursive, symlinks ignored)."""
    path = os.path.join(results_dir, name)
    images = []
    manifest_size = manifest_mtime_ns = None
    try:
        folder = os.stat(path, follow_symlinks=False)
        with os.scandir(path) as entries:
            for entry in entries:
                entry_name = entry.name
                is_manifest = entry_name == MANIFEST_NAME
                if not is_manifest and not is_image_name(entry_name):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted while listing
                if is_manifest:
                    manifest_size, manifest_mtime_ns = stat.st_size, stat.st_mtime_ns
                elif _is_storable(entry_name):
                    images.append(ImageFile(entry_name, stat.st_size, stat.st_mtime_ns))
                else:
                    logger.warning("%s: skipping %r: its name is not valid UTF-8", name, entry_name)
    except FileNotFoundError:
        raise FolderUnreadable("the folder disappeared while being read") from None
    except PermissionError:
        raise FolderUnreadable("the folder cannot be read: permission denied") from None
    except OSError as exc:
        raise FolderUnreadable(f"the folder cannot be read: {exc.strerror or exc}") from None
    images.sort(key=lambda image: image.name)
    return FolderListing(name, folder.st_mtime_ns, images, manifest_size, manifest_mtime_ns, folder.st_dev,
                         folder.st_ino)


def read_image_size(path: str) -> tuple[int, int] | None:
    """Width and height of an image, or None when the file is not (yet) a readable image.

    PNGs, nearly every file here, are read from their 24-byte header with plain ``os``
    calls, far cheaper than opening them with Pillow.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        head = os.read(fd, 24)
    except OSError:
        return None
    finally:
        os.close(fd)
    if head.startswith(_PNG_SIGNATURE):
        if len(head) < 24 or head[12:16] != b"IHDR":
            return None
        return struct.unpack(">II", head[16:24])
    return _size_with_pillow(path)


def _size_with_pillow(path: str) -> tuple[int, int] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


def _is_storable(name: str) -> bool:
    # Names with bytes that are not UTF-8 arrive as surrogate escapes no database can store.
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def resolve_inside(root: Path, *parts: str) -> Path | None:
    """``root/part/...`` if it is an existing file that really lies under ``root``, else None.

    Each part is one plain name (no separators, no ``..``, no NUL); symlinks are followed
    and must not lead outside the root.
    """
    for part in parts:
        if not part or part in (".", "..") or "/" in part or "\\" in part or "\x00" in part:
            return None
    # Nearly always every name below the root is a plain folder or file, not a symlink: the path
    # then lies under the root as given, found by one lstat a name (resolving the root's own
    # ancestors as well cost 60 µs a call, for each image file and manifest served or read).
    try:
        for depth in range(1, len(parts) + 1):
            mode = os.lstat(os.path.join(root, *parts[:depth])).st_mode
            if S_ISLNK(mode):
                break  # followed below, and checked to stay under the root
            if depth == len(parts):
                return Path(os.path.join(root, *parts)) if S_ISREG(mode) else None
            if not S_ISDIR(mode):
                return None
    except OSError:
        return None
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, *parts))
    if not real.startswith(real_root + os.sep) or not os.path.isfile(real):
        return None
    return Path(real)
