"""What is watched: the results root and the folders of active sessions (ongoing ones, and new
folders that are not sessions yet), natively where a watch is available, else polled."""

from __future__ import annotations

import logging
import queue
from pathlib import Path

from sessions.watcher.sources import FolderPoller, NativeEvents, folder_identity

logger = logging.getLogger(__name__)


class WatchedFolders:
    """The active folders and the event sources that follow them."""

    def __init__(self, *, results_dir: Path, poll_interval: float) -> None:
        self.results_dir = results_dir
        self.poll_interval = poll_interval
        self.poller = FolderPoller(results_dir)
        self.native: NativeEvents | None = None
        self.active: set[str] = set()
        self._root_identity: tuple[int, int] | None = None
        self._root_lost = False  # the results folder itself was deleted: its watch is gone

    def remember_root(self) -> None:
        self._root_identity = folder_identity(self.results_dir)

    def root_deleted(self) -> None:
        """The deletion of the results folder was reported: a new one may reuse its inode
        number, so do not wait for the number to change."""
        self._root_lost = True

    def follow_replaced_root(self) -> bool:
        """A results folder replaced by another (deleted and made again, a new one moved in) is
        watched again, its old folders forgotten. True when that happened (then read it in full)."""
        identity = folder_identity(self.results_dir)
        if self._root_identity is None:
            self._root_identity = identity  # not started: nothing is watched yet
            return False
        if identity is None or (identity == self._root_identity and not self._root_lost):
            return False  # unchanged, or gone for now (looked at again shortly)
        if self.native is not None and not self.native.rewatch_root():
            return False
        logger.warning("the results folder %s was replaced; watching the new one", self.results_dir)
        self._root_identity = identity
        self._root_lost = False
        self.set_active(set())  # the old folders' watches follow the old folders
        self.poller = FolderPoller(self.results_dir)
        self.poller.changed(())
        return True

    def start_native(self, paths: queue.SimpleQueue[tuple[str, str]], *, limit: int) -> None:
        self.native = NativeEvents(self.results_dir, paths, limit=limit)
        self.native.start()

    def stop_native(self) -> None:
        if self.native is not None:
            self.native.stop()
            self.native = None

    def polled(self) -> set[str]:
        """Active folders followed by polling: all in polling mode, else those without a native watch."""
        return set(self.active) if self.native is None else self.active - self.native.watched()

    def poll(self) -> set[str]:
        """Names whose folder changed since the last poll (the root's listing too, without native events)."""
        polled = self.polled()
        if self.native is not None and not polled:
            return set()  # everything is watched natively, the root included
        return self.poller.changed(polled, root=self.native is None)

    def set_active(self, names: set[str]) -> None:
        for name in self.active - names:
            self.deactivate(name)
        for name in names - self.active:
            self.activate(name)

    def activate(self, name: str) -> bool:
        """Follow the folder; True when it was not followed until now."""
        if name in self.active:
            return False
        self.active.add(name)
        if self.native is not None and not self.native.watch(name):
            logger.info("%s: polled every %.1fs (no native watch available)", name, self.poll_interval)
        logger.debug("%s: watching", name)
        return True

    def deactivate(self, name: str) -> None:
        if name not in self.active:
            return
        self.active.discard(name)
        if self.native is not None:
            self.native.unwatch(name)
        logger.debug("%s: no longer watched", name)
