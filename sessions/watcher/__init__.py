"""The live watcher behind ``manage.py runwatchdog``.

Layout of the work:

- File system events (watchdog's native observer) or the poller only produce paths; the
  watchdog handler puts them on a queue and returns (``sources``).
- One thread, the one that calls ``Watcher.run`` (``loop``), turns paths into session names,
  waits for a burst to settle (``debounce``), and syncs the sessions through
  ``sessions.services`` (``syncing``).
- Only the results root and the folders of *active* sessions (ongoing, or new folders that
  are not sessions yet) are watched (``folders``); a session that completes or aborts stops
  costing anything. A sweep of every folder's stamp once a minute picks up a finished session
  that changes again (a resumed run) and anything the events missed.
- Whether to use native events or polling is decided once, from the mount table (``modes``).
"""

from __future__ import annotations

from sessions.watcher.debounce import Debouncer, ManifestRetries
from sessions.watcher.folders import WatchedFolders
from sessions.watcher.loop import Watcher
from sessions.watcher.modes import REMOTE_FILESYSTEMS, WATCH_MODES, ModeChoice, choose_watch_mode, read_proc
from sessions.watcher.sources import FolderPoller, NativeEvents
from sessions.watcher.stats import WatcherStats

__all__ = [
    "REMOTE_FILESYSTEMS", "WATCH_MODES", "Debouncer", "FolderPoller", "ManifestRetries", "ModeChoice", "NativeEvents",
    "WatchedFolders", "Watcher", "WatcherStats", "choose_watch_mode", "read_proc",
]
