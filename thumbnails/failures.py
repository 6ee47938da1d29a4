"""What the thumbnail folder remembers besides thumbnails: failures, and temporary files.

A source that cannot have a thumbnail (corrupt, truncated, too large, not a regular file)
leaves ``<stem>.webp.failed`` where its thumbnail would be, holding the reason. Like a
thumbnail, the record counts only while it is newer than its source: a file that changes is
tried again, and one that does not costs a ``stat`` instead of a decode, in every process
(the watcher's workers, ``catchupthumbnails``, the web server).

Nothing here imports Django: the rendering workers use it.
"""

from __future__ import annotations

import os
import time

FAILED_SUFFIX = ".failed"  # appended to the thumbnail's name: "<stem>.webp.failed"
TEMPORARY_SUFFIX = ".webp.tmp"
MAX_REASON = 1000  # characters kept of a reason
# A temporary file whose writer cannot be identified is stale after this long (a thumbnail is
# written in well under a second).
TEMPORARY_LIFETIME_NS = 10 * 60 * 10**9


def record_path(target: str) -> str:
    return target + FAILED_SUFFIX


def remember(target: str, reason: str) -> bool:
    """Record that the source of ``target`` failed. Best effort: False when the record could
    not be written (the failure is then found again next time)."""
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(record_path(target), "w", encoding="utf-8") as handle:
            handle.write(reason[:MAX_REASON])
    except OSError:
        return False
    return True


def recalled(target: str, *, newer_than_ns: int) -> str | None:
    """The reason recorded for ``target``'s source, if recorded after ``newer_than_ns`` (the
    source's mtime); None when there is no record or the source changed since."""
    path = record_path(target)
    try:
        if os.stat(path).st_mtime_ns <= newer_than_ns:
            return None
        with open(path, encoding="utf-8", errors="replace") as handle:
            reason = handle.read(MAX_REASON)
    except OSError:
        return None
    return reason or "failed before"


def forget(target: str) -> None:
    try:
        os.unlink(record_path(target))
    except OSError:
        pass


def is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)


def is_stale_temporary(name: str, mtime_ns: int, *, now_ns: int | None = None) -> bool:
    """A temporary thumbnail left behind by a writer that is gone (killed in the middle of a
    write). Names carry the writer's process id (``.<pid>-<random>.webp.tmp``)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    if now_ns - mtime_ns > TEMPORARY_LIFETIME_NS:
        return True
    pid_text = name[1:].partition("-")[0]
    if not pid_text.isdigit():
        return False  # an older name without a writer: only its age tells
    return not _alive(int(pid_text))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
