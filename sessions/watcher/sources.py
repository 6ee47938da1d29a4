"""Where changes come from: watchdog's native observers (whose handler only enqueues paths) and
a poller that stats the root and the active folders. Both only name what changed."""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from sessions.scanning import FolderStamp, is_session_folder_name, stamp_session_folder

if TYPE_CHECKING:
    from watchdog.observers.api import ObservedWatch

logger = logging.getLogger(__name__)


def folder_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode): a folder made again at the same path is another folder."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class FolderPoller:
    """Polling without snapshots of the library: per tick, one ``stat`` of the root (its
    listing is read again only when it changed) and two per active folder."""

    def __init__(self, results_dir: Path) -> None:
        self.results_dir = results_dir
        self._root_mtime: int | None = None
        self._names: set[str] = set()
        self._stamps: dict[str, FolderStamp | None] = {}

    def changed(self, folders: Iterable[str], *, root: bool = True) -> set[str]:
        """Names whose folder changed since the last call: among ``folders``, and with
        ``root``, any that appeared in or disappeared from the root."""
        changed: set[str] = set()
        if root:
            try:
                root_mtime = os.stat(self.results_dir).st_mtime_ns
            except OSError:
                root_mtime = None
            if root_mtime != self._root_mtime:
                names = self._list_root()
                if self._root_mtime is not None:
                    changed |= names ^ self._names
                self._root_mtime, self._names = root_mtime, names
        folders = set(folders)
        for name in folders:
            stamp = stamp_session_folder(self.results_dir, name)
            # A folder seen for the first time counts as changed: it may have changed since it
            # was synced, and a sync of an unchanged folder costs only its stamp.
            if self._stamps.get(name, ...) != stamp:
                changed.add(name)
            self._stamps[name] = stamp
        for name in set(self._stamps) - folders:
            del self._stamps[name]
        return changed

    def _list_root(self) -> set[str]:
        try:
            with os.scandir(self.results_dir) as entries:
                return {entry.name for entry in entries if is_session_folder_name(entry.name)}
        except OSError:
            return set()


class NativeEvents:
    """watchdog observers on the root and on active folders; events go to ``paths``."""

    def __init__(self, results_dir: Path, paths: queue.SimpleQueue[tuple[str, str]], *, limit: int) -> None:
        from watchdog.events import (
            DirCreatedEvent,
            DirDeletedEvent,
            DirMovedEvent,
            FileClosedEvent,
            FileCreatedEvent,
            FileDeletedEvent,
            FileModifiedEvent,
            FileMovedEvent,
            FileSystemEvent,
            FileSystemEventHandler,
        )
        from watchdog.observers import Observer

        class EnqueuePaths(FileSystemEventHandler):
            # Runs on watchdog's thread: only hand the paths over.
            def on_any_event(self, event: FileSystemEvent) -> None:
                paths.put((os.fsdecode(event.src_path), os.fsdecode(getattr(event, "dest_path", "") or "")))

        self.results_dir = results_dir
        self.limit = limit
        self._handler = EnqueuePaths()
        # Opening, reading and closing without writing are not changes.
        self._filter = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent,
                        DirCreatedEvent, DirDeletedEvent, DirMovedEvent]
        self._observer = Observer()
        self._root_watch = self._observer.schedule(self._handler, str(results_dir), recursive=False,
                                                   event_filter=self._filter)
        self._watches: dict[str, ObservedWatch] = {}

    def start(self) -> None:
        self._observer.start()

    def rewatch_root(self) -> bool:
        """Watch the folder now at the results path (the old watch follows the old folder)."""
        try:
            self._observer.unschedule(self._root_watch)
        except (KeyError, OSError):
            pass  # its folder was deleted and watchdog already dropped it
        try:
            self._root_watch = self._observer.schedule(self._handler, str(self.results_dir), recursive=False,
                                                       event_filter=self._filter)
        except OSError as exc:
            logger.debug("cannot watch the results folder: %s", exc)
            return False
        return True

    def watch(self, name: str) -> bool:
        """Watch a session folder; False when at the limit (the caller polls it instead)."""
        if name in self._watches:
            return True
        if len(self._watches) >= self.limit:
            return False
        try:
            self._watches[name] = self._observer.schedule(
                self._handler, str(self.results_dir / name), recursive=False, event_filter=self._filter)
        except OSError as exc:  # gone already, or out of inotify instances
            logger.debug("%s: cannot watch the folder: %s", name, exc)
            return False
        return True

    def unwatch(self, name: str) -> None:
        watch = self._watches.pop(name, None)
        if watch is not None:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError):
                pass  # its folder is gone and watchdog already dropped it

    def watched(self) -> set[str]:
        return set(self._watches)

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=1.0)
