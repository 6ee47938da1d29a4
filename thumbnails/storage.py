"""Where thumbnails are kept (SPEC section 11): the one module that knows the storage.

Thumbnails live in ``django.core.files.storage.storages["thumbnails"]``: by default a
``FileSystemStorage`` on ``SDGEN_THUMBNAILS_DIR``, or an S3-compatible bucket
(``SDGEN_THUMBNAIL_STORAGE=s3``). The local folder stays either way: it holds what is this
machine's own (failure records, temporary files, the on-demand locks).

On the local folder the fast path of old is kept: one ``scandir`` per session, folder mtimes
to tell that nothing changed, the worker writing the thumbnail itself (temporary file and
rename). On any other storage the worker hands the WebP back and this process stores it
(``settle``); a PUT is atomic (the object appears whole or not at all).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage, storages

from sessions.image_files import IMAGE_EXTENSIONS
from thumbnails.failures import is_temporary
from thumbnails.rendering import Outcome, Status

logger = logging.getLogger(__name__)

THUMBNAIL_SUFFIX = ".webp"
# S3 keeps modification times to the second: a thumbnail stored at 12:00:00.9 says 12:00:00,
# older than a source written at 12:00:00.5. The latest moment it may have been written is used.
S3_TIME_RESOLUTION_NS = 10**9 - 1


def thumbnail_name(filename: str) -> str:
    """The thumbnail's file name for the source ``filename`` (SPEC section 7: ``<stem>.webp``).

    ``x.png`` gives ``x.webp`` as it always has. Any other source keeps its whole name
    (``x.jpg`` gives ``x.jpg.webp``, ``x.webp`` gives ``x.webp.webp``), and so does a PNG
    whose stem itself ends in an image extension (``x.jpg.png`` gives ``x.jpg.png.webp``):
    a name ending in an image extension before ``.webp`` only ever comes from the second rule,
    so ``x.png`` and ``x.jpg`` in one folder can never share a thumbnail.
    """
    stem, extension = os.path.splitext(filename)
    if extension == ".png" and os.path.splitext(stem)[1].lower() not in IMAGE_EXTENSIONS:
        return stem + THUMBNAIL_SUFFIX
    return filename + THUMBNAIL_SUFFIX


def is_thumbnail_file(name: str) -> bool:
    return name.endswith(THUMBNAIL_SUFFIX) and not is_temporary(name)


class ThumbnailStore:
    """The thumbnails of every session, in the local folder ``root`` (``local``) or in a
    storage elsewhere; names given are a session's name and a thumbnail's file name."""

    local = True

    def __init__(self, root: Path) -> None:
        self.root = root

    def local_path(self, session: str, name: str) -> Path:
        """Where the file is (or would be) in the local folder: the thumbnail itself when
        ``local``, its failure record and temporary files in any case."""
        return self.root / session / name

    def listing(self, session: str) -> dict[str, int]:
        """The session's thumbnails and their modification times (ns); {} when there are none."""
        return {name: mtime for name, mtime in local_listing(self.root / session).items() if is_thumbnail_file(name)}

    def stamp(self, session: str, name: str) -> tuple[int, int] | None:
        """(size, modification time in ns) of a thumbnail; None when there is none."""
        try:
            info = os.stat(self.local_path(session, name))
        except OSError:
            return None
        return info.st_size, info.st_mtime_ns

    def folder_stamp(self, session: str) -> int | None:
        """Changes whenever a thumbnail of the session is added, removed or renamed (None: no
        thumbnails), so that a catch-up can tell, cheaply, that nothing changed since it counted."""
        try:
            return os.stat(self.root / session).st_mtime_ns
        except OSError:
            return None

    def open(self, session: str, name: str) -> File:
        return File(open(self.local_path(session, name), "rb"))

    def save(self, session: str, name: str, data: bytes) -> None:
        raise NotImplementedError("the rendering worker writes local thumbnails itself")

    def delete(self, session: str, names: Iterable[str]) -> int:
        return unlink_all(self.local_path(session, name) for name in names)

    def sessions(self) -> list[str]:
        """The sessions that have a thumbnail folder (hidden folders are ours, never sessions)."""
        return _local_sessions(self.root)

    def remove_session(self, session: str) -> bool:
        removed = _remove_local_folder(self.root, session)
        if removed:
            logger.info("%s: the folder is gone; its thumbnails are removed", session)
        return removed

    def move_session(self, old: str, new: str) -> int:
        """Give the thumbnails of ``old`` to ``new``; the number of files moved."""
        return _move_local_folder(self.root, old, new)

    def settle(self, outcome: Outcome) -> Outcome:
        """Store what a worker handed back (nothing to do here: it wrote the file)."""
        return outcome


class RemoteStore(ThumbnailStore):
    """Thumbnails in any other Django storage (S3 and friends), through its API."""

    local = False

    def __init__(self, root: Path, storage: Storage) -> None:
        super().__init__(root)
        self.storage = storage

    def _key(self, session: str, name: str = "") -> str:
        return f"{session}/{name}"

    def listing(self, session: str) -> dict[str, int]:
        bucket = getattr(self.storage, "bucket", None)
        if bucket is not None:  # S3: one request per thousand objects, times included
            prefix = _s3_prefix(self.storage, self._key(session))
            return {obj.key[len(prefix):]: int(obj.last_modified.timestamp()) * 10**9 + S3_TIME_RESOLUTION_NS
                    for obj in bucket.objects.filter(Prefix=prefix)
                    if "/" not in obj.key[len(prefix):] and is_thumbnail_file(obj.key[len(prefix):])}
        try:
            _, files = self.storage.listdir(session)
        except FileNotFoundError:
            return {}
        return {name: _ns(self.storage.get_modified_time(self._key(session, name)))
                for name in files if is_thumbnail_file(name)}

    def stamp(self, session: str, name: str) -> tuple[int, int] | None:
        key = self._key(session, name)
        bucket = getattr(self.storage, "bucket", None)
        try:
            if bucket is not None:  # one HEAD for both
                head = bucket.meta.client.head_object(Bucket=bucket.name, Key=_s3_prefix(self.storage, key))
                return head["ContentLength"], int(head["LastModified"].timestamp()) * 10**9 + S3_TIME_RESOLUTION_NS
            return self.storage.size(key), _ns(self.storage.get_modified_time(key))
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise

    def folder_stamp(self, session: str) -> int | None:
        # A bucket has no folder times; asking would mean a listing per session. The counts
        # recorded are trusted instead: ``catchupthumbnails --full`` looks at every session.
        return None

    def open(self, session: str, name: str) -> File:
        return self.storage.open(self._key(session, name), "rb")

    def save(self, session: str, name: str, data: bytes) -> None:
        key = self._key(session, name)
        saved = self.storage.save(key, ContentFile(data))
        if saved != key:  # a storage that renames instead of replacing: undo, and say so
            self.storage.delete(saved)
            raise OSError(f"the thumbnail storage would not replace {key} (it offered {saved})")

    def delete(self, session: str, names: Iterable[str]) -> int:
        removed = 0
        for name in names:
            try:
                self.storage.delete(self._key(session, name))
                removed += 1
            except Exception as exc:
                logger.warning("%s/%s: cannot remove the thumbnail: %s", session, name, exc)
        return removed

    def _files(self, session: str) -> list[str]:
        try:
            return self.storage.listdir(session)[1]
        except FileNotFoundError:
            return []

    def sessions(self) -> list[str]:
        try:
            folders = self.storage.listdir("")[0]
        except FileNotFoundError:
            return []
        return [name for name in folders if not name.startswith(".")]

    def remove_session(self, session: str) -> bool:
        names = self._files(session)
        removed = self.delete(session, names) > 0
        local = _remove_local_folder(self.root, session)  # its failure records
        if removed:
            logger.info("%s: the folder is gone; its thumbnails are removed", session)
        return removed or local

    def move_session(self, old: str, new: str) -> int:
        """Copy each object to its new key, then delete the old one (object stores have no
        rename). A thumbnail the new name already has is kept: it is at least as recent."""
        present = set(self._files(new))
        moved = 0
        for name in self._files(old):
            if name not in present:
                with self.open(old, name) as handle:
                    self.save(new, name, handle.read())
                moved += 1
            self.storage.delete(self._key(old, name))
        _move_local_folder(self.root, old, new)
        return moved

    def settle(self, outcome: Outcome) -> Outcome:
        """Store the WebP a worker handed back (or delete the thumbnail of a source that is
        gone). A thumbnail that cannot be stored is a failure, tried again next time."""
        job = outcome.job
        if not job.store_as:
            return outcome
        session, _, name = job.store_as.partition("/")
        if outcome.status is Status.REMOVED:
            self.delete(session, [name])
            return outcome
        if outcome.data is None:
            return outcome
        try:
            self.save(session, name, outcome.data)
        except Exception as exc:
            return Outcome(job, Status.FAILED, f"cannot store the thumbnail: {exc}", outcome.source_stamp)
        return replace(outcome, data=None)


def thumbnail_store(thumbnails_dir: Path | None = None) -> ThumbnailStore:
    """The store for ``STORAGES["thumbnails"]``; ``thumbnails_dir`` is the local folder
    (default ``SDGEN_THUMBNAILS_DIR``, the file system storage's own)."""
    root = Path(thumbnails_dir if thumbnails_dir is not None else settings.SDGEN_THUMBNAILS_DIR)
    storage = storages["thumbnails"]
    if isinstance(storage, FileSystemStorage):
        return ThumbnailStore(root)
    return RemoteStore(root, storage)


# --- the local folder -----------------------------------------------------------------------


def local_listing(folder: Path) -> dict[str, int]:
    """The regular files (not symlinks, FIFOs or folders) in ``folder`` and their mtimes; {}
    when it does not exist."""
    try:
        with os.scandir(folder) as entries:
            return {entry.name: entry.stat(follow_symlinks=False).st_mtime_ns
                    for entry in entries if entry.is_file(follow_symlinks=False)}
    except OSError:
        return {}


def unlink_all(paths: Iterable[Path]) -> int:
    """Delete ``paths`` (local files), the ones already gone included; how many were deleted."""
    removed = 0
    for path in paths:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.warning("%s: cannot remove: %s", path, exc.strerror or exc)
    return removed


def _local_sessions(root: Path) -> list[str]:
    try:
        with os.scandir(root) as entries:
            return [entry.name for entry in entries
                    if entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".")]
    except OSError:
        return []


def _inside(root: Path, session: str) -> Path | None:
    """The session's folder under ``root``, if it is a real folder right there (not a symlink
    nor a name that climbs out)."""
    folder = root / session
    if not folder.is_dir() or folder.is_symlink() or folder.resolve().parent != root.resolve():
        return None
    return folder


def _remove_local_folder(root: Path, session: str) -> bool:
    folder = _inside(root, session)
    if folder is None:
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def _move_local_folder(root: Path, old: str, new: str) -> int:
    """One rename when ``new`` has no folder yet; otherwise file by file, keeping what ``new``
    already has (made since the rename: at least as recent)."""
    source = _inside(root, old)
    if source is None or os.sep in new or new in ("", ".", ".."):
        return 0
    target = root / new
    names = os.listdir(source)
    try:
        os.rename(source, target)
        return len(names)
    except OSError:
        if not target.is_dir() or target.is_symlink():
            raise
    moved = 0
    for name in names:
        if not (target / name).exists():
            os.replace(source / name, target / name)
            moved += 1
    shutil.rmtree(source, ignore_errors=True)
    return moved


def _s3_prefix(storage: Storage, key: str) -> str:
    location = getattr(storage, "location", "") or ""
    return f"{location.strip('/')}/{key}" if location.strip("/") else key


def _ns(moment) -> int:
    return int(moment.timestamp() * 10**6) * 1000


def _is_missing(exc: Exception) -> bool:
    if isinstance(exc, FileNotFoundError):
        return True
    response = getattr(exc, "response", None)  # botocore's ClientError
    code = str((response or {}).get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
    return code in ("404", "NoSuchKey", "NotFound")
