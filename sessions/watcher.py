"""The live watcher behind ``manage.py runwatchdog``.

Layout of the work:

- File system events (watchdog's native observer) or the poller only produce paths; the
  watchdog handler puts them on a queue and returns.
- One thread, the one that calls ``Watcher.run``, turns paths into session names, waits for a
  burst to settle (debounce), and syncs the sessions through ``sessions.services``.
- Only the results root and the folders of *active* sessions (ongoing, or new folders that
  are not sessions yet) are watched; a session that completes or aborts stops costing
  anything. A sweep of every folder's stamp once a minute picks up a finished session that
  changes again (a resumed run) and anything the events missed.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from sessions.models import Session, SessionStatus, WatcherHeartbeat
from sessions.scanning import FolderStamp, is_session_folder_name, stamp_session_folder
from sessions.services import SyncReport, mark_stale_sessions, sync_sessions
from sessions.stats import is_image_name
from thumbnails.live import LiveThumbnails

if TYPE_CHECKING:
    from watchdog.observers.api import ObservedWatch

logger = logging.getLogger(__name__)

WATCH_MODES = ("auto", "native", "polling")
# File systems on which inotify and friends do not report changes made elsewhere.
REMOTE_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "9p", "drvfs", "afs", "ceph", "glusterfs",
    "lustre", "gpfs", "davfs", "vboxsf", "vmhgfs", "prl_fs", "virtiofs", "sshfs",
})


@dataclass(frozen=True)
class ModeChoice:
    mode: str  # "native" or "polling"
    reason: str


def choose_watch_mode(
    *, requested: str, results_dir: Path, proc_version: str | None, proc_mounts: str | None
) -> ModeChoice:
    """Native events, except where they are known not to arrive (then polling).

    ``proc_version`` and ``proc_mounts`` are the texts of /proc/version and /proc/mounts
    (None where there is no /proc, e.g. macOS: native events work there).
    """
    if requested not in WATCH_MODES:
        raise ValueError(f"unknown watch mode {requested!r}")
    if requested != "auto":
        return ModeChoice(requested, f"{requested} mode was asked for")
    mount = _mount_of(results_dir, proc_mounts) if proc_mounts else None
    if mount is None:
        return ModeChoice("native", "native events (no mount table to suggest otherwise)")
    mount_point, fstype = mount
    on_wsl = proc_version is not None and "microsoft" in proc_version.lower()
    if on_wsl and fstype in ("9p", "drvfs"):
        return ModeChoice("polling", f"WSL with the results on a Windows drive ({fstype} at {mount_point}): "
                                     "Windows does not deliver change events there")
    if fstype in REMOTE_FILESYSTEMS or fstype.startswith("fuse"):
        return ModeChoice("polling", f"the results are on a {fstype} file system ({mount_point}), "
                                     "where change events are not reliable")
    return ModeChoice("native", f"native events on a local {fstype} file system ({mount_point})")


def _mount_of(path: Path, proc_mounts: str) -> tuple[str, str] | None:
    """The (mount point, file system type) holding ``path``: the longest matching mount point."""
    best: tuple[str, str] | None = None
    target = str(path)
    for line in proc_mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts escapes spaces, tabs and newlines as octal sequences.
        mount_point = fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) >= len(best[0])):
            best = (mount_point, fields[2])
    return best


def read_proc(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode): a folder made again at the same path is another folder."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _refresh_connections() -> None:
    """Drop database connections that are broken or past CONN_MAX_AGE, between units of work
    (never inside a transaction a caller holds open)."""
    if not connection.in_atomic_block:
        close_old_connections()


class Debouncer:
    """Coalesces bursts: a name is due ``quiet`` seconds after its last touch, at most
    ``max_delay`` after its first, so a steady stream is still synced regularly."""

    def __init__(self, *, quiet: float, max_delay: float) -> None:
        self.quiet = quiet
        self.max_delay = max_delay
        self._pending: dict[str, tuple[float, float]] = {}  # name → (first touch, due at)

    def touch(self, name: str, now: float, *, delay: float | None = None) -> None:
        first, _ = self._pending.get(name, (now, now))
        due = min(now + (self.quiet if delay is None else delay), first + max(self.max_delay, delay or 0.0))
        self._pending[name] = (first, due)

    def pop_due(self, now: float) -> list[str]:
        due = [name for name, (_, at) in self._pending.items() if at <= now]
        for name in due:
            del self._pending[name]
        return due

    def pop_all(self) -> list[str]:
        names = list(self._pending)
        self._pending.clear()
        return names

    def next_due(self) -> float | None:
        return min((at for _, at in self._pending.values()), default=None)

    def __len__(self) -> int:
        return len(self._pending)


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


@dataclass
class WatcherStats:
    """Counters for the periodic summary line."""

    events: int = 0
    syncs: int = 0
    sessions_synced: int = 0
    retries: int = 0
    failures: int = 0

    def reset(self) -> WatcherStats:
        current = WatcherStats(**self.__dict__)
        self.events = self.syncs = self.sessions_synced = self.retries = self.failures = 0
        return current


@dataclass
class _Schedule:
    """When each periodic task runs next (monotonic seconds)."""

    poll: float = 0.0
    heartbeat: float = 0.0
    stale: float = 0.0
    sweep: float = 0.0
    summary: float = 0.0
    root: float = 0.0


class Watcher:
    """Keeps the database in step with the results folder until asked to stop."""

    HEARTBEAT_EVERY = 5.0
    SWEEP_EVERY = 60.0
    SUMMARY_EVERY = 60.0
    NATIVE_WATCH_LIMIT = 64  # inotify instances are scarce (128 per user by default)
    MANIFEST_RETRIES = 5
    LONGEST_WAIT = 0.5  # the loop checks its stop flag at least this often
    ROOT_CHECK_EVERY = 1.0  # seconds between two looks at whether the results folder was replaced

    def __init__(
        self,
        *,
        results_dir: Path,
        mode: ModeChoice,
        poll_interval: float | None = None,
        stale_after: timedelta | None = None,
        quiet: float = 0.1,
        max_delay: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = timezone.now,
        thumbnails: LiveThumbnails | None = None,
    ) -> None:
        self.results_dir = results_dir
        self.mode = mode
        self.poll_interval = poll_interval if poll_interval is not None else settings.SDGEN_POLL_INTERVAL
        self.stale_after = stale_after if stale_after is not None else timedelta(minutes=settings.SDGEN_STALE_AFTER)
        # Check often enough that a run is closed soon after it goes stale, at most once a minute.
        self.stale_every = min(60.0, max(0.2, self.stale_after.total_seconds() / 4))
        self.monotonic = monotonic
        self.now = now
        self.thumbnails = thumbnails
        self.paths: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self.debouncer = Debouncer(quiet=quiet, max_delay=max_delay)
        self.poller = FolderPoller(results_dir)
        self.native: NativeEvents | None = None
        self.active: set[str] = set()
        self.stats = WatcherStats()
        self.started_at = now()
        self.last_event_at: datetime | None = None
        self.last_sync_at: datetime | None = None
        self._attempts: dict[str, int] = {}
        self._root_identity: tuple[int, int] | None = None
        self._root_lost = False  # the results folder itself was deleted: its watch is gone
        self._schedule = self._fresh_schedule()
        self._stop_requested = False

    # --- life cycle ---------------------------------------------------------------------

    def catch_up(self, *, progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Sync what changed while nobody watched, start the thumbnail catch-up (it runs in the
        background, behind live images), then close runs that went stale. A stop request
        ends it between two batches."""
        report = sync_sessions(results_dir=self.results_dir, progress=progress,
                               should_stop=lambda: self._stop_requested)
        if report.interrupted:
            return report
        if self.thumbnails is not None:
            self.thumbnails.start_catch_up()
        stale = mark_stale_sessions(now=self.now(), stale_after=self.stale_after)
        self.last_sync_at = self.now()
        logger.info("catch-up: %s; %d stale sessions marked aborted", report.summary(), stale)
        return report

    def start(self) -> None:
        """Begin watching: the root, then every ongoing session from the first second."""
        self._root_identity = _identity(self.results_dir)
        if self.mode.mode == "native":
            self.native = NativeEvents(self.results_dir, self.paths, limit=self.NATIVE_WATCH_LIMIT)
            self.native.start()
        self.poller.changed(())  # remember the root's listing
        ongoing = set(Session.objects.present().ongoing().values_list("name", flat=True))
        self._set_active(ongoing)
        # Anything written between the catch-up and the watches being in place:
        if ongoing:
            self._sync(sorted(ongoing))
        self._schedule = self._fresh_schedule()
        logger.info("watching %s in %s mode (%s): %d ongoing sessions", self.results_dir, self.mode.mode,
                    self.mode.reason, len(ongoing))
        self._beat()

    def _fresh_schedule(self) -> _Schedule:
        start = self.monotonic()
        return _Schedule(poll=start + self.poll_interval, heartbeat=start + self.HEARTBEAT_EVERY,
                         stale=start + self.stale_every, sweep=start + self.SWEEP_EVERY,
                         summary=start + self.SUMMARY_EVERY, root=start + self.ROOT_CHECK_EVERY)

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    def request_stop(self) -> None:
        """Safe from a signal handler: only sets a flag the loop reads."""
        self._stop_requested = True

    def run(self) -> None:
        """Apply changes until ``request_stop``; then flush pending work and stop."""
        try:
            while not self._stop_requested:
                try:
                    self.step(wait=True)
                except Exception:
                    # A database that went away, a folder that cannot be written: log it and go
                    # on; what was not done is picked up by the next event or sweep.
                    self.stats.failures += 1
                    logger.exception("the watcher hit an error; it carries on")
                    time.sleep(self.LONGEST_WAIT)
        finally:
            self.close()

    def close(self) -> None:
        pending = self.debouncer.pop_all()
        try:
            if pending:
                self._sync(pending)
        except Exception:
            logger.exception("could not sync what was pending: %s", ", ".join(pending))
        if self.native is not None:
            self.native.stop()
            self.native = None
        if self.thumbnails is not None:
            self.thumbnails.close()
        try:
            _refresh_connections()
            WatcherHeartbeat.objects.filter(pk=1, pid=os.getpid()).update(stopped_at=self.now(), beat_at=self.now())
        except Exception:
            logger.exception("could not record the stop in the heartbeat")
        logger.info("stopped")

    # --- one turn of the loop -------------------------------------------------------------

    def step(self, *, wait: bool) -> None:
        """Take the queued paths (waiting for one if ``wait``), then do whatever is due."""
        if wait:
            self._take(self._wait_time())
        self._drain()
        now = self.monotonic()
        if now >= self._schedule.poll:
            self._schedule.poll = now + self.poll_interval
            self._poll()
        due = self.debouncer.pop_due(now)
        if due:
            self._sync(due)
        if self.thumbnails is not None:
            self.thumbnails.pump()
        self._periodic(now)

    def _wait_time(self) -> float:
        deadlines = [self._schedule.heartbeat, self._schedule.stale, self._schedule.sweep, self._schedule.root]
        if self.native is None or self._polled():
            deadlines.append(self._schedule.poll)
        due = self.debouncer.next_due()
        if due is not None:
            deadlines.append(due)
        wait = min(min(deadlines) - self.monotonic(), self.LONGEST_WAIT)
        if self.thumbnails is not None:
            # While thumbnails are being made, come back soon enough to keep the workers fed.
            within = self.thumbnails.pump_within()
            if within is not None:
                wait = min(wait, within)
        return max(0.0, wait)

    def _take(self, timeout: float) -> None:
        try:
            self._path_changed(*self.paths.get(timeout=timeout))
        except queue.Empty:
            pass

    def _drain(self) -> None:
        while True:
            try:
                self._path_changed(*self.paths.get_nowait())
            except queue.Empty:
                return

    def _path_changed(self, src: str, dest: str) -> None:
        """Map a changed path to its session and schedule a sync of it."""
        now = self.monotonic()
        self.stats.events += 1
        self.last_event_at = self.now()
        for path in (src, dest):
            if not path:
                continue
            parts = os.path.relpath(path, self.results_dir).split(os.sep)
            name = parts[0]
            if name == ".":
                # The results folder itself was deleted (the only event about it watched): a
                # new one may reuse its inode number, so do not wait for the number to change.
                self._root_lost = True
                self._schedule.root = now
            if name in (".", "..") or not is_session_folder_name(name) or len(parts) > 2:
                continue  # outside the root, dry runs, hidden or nested folders
            self.debouncer.touch(name, now)
            if len(parts) == 2 and self.thumbnails is not None and is_image_name(parts[1]):
                self.thumbnails.image_changed(Path(path))

    def _polled(self) -> set[str]:
        """Active folders followed by polling: all in polling mode, else those without a native watch."""
        return set(self.active) if self.native is None else self.active - self.native.watched()

    def _poll(self) -> None:
        polled = self._polled()
        if self.native is not None and not polled:
            return  # everything is watched natively, the root included
        for name in self.poller.changed(polled, root=self.native is None):
            self.stats.events += 1
            self.last_event_at = self.now()
            self.debouncer.touch(name, self.monotonic())

    def _periodic(self, now: float) -> None:
        schedule = self._schedule
        if now >= schedule.root:
            schedule.root = now + self.ROOT_CHECK_EVERY
            self._check_root()
        if now >= schedule.sweep:
            schedule.sweep = now + self.SWEEP_EVERY
            self._sweep()
        if now >= schedule.stale:
            schedule.stale = now + self.stale_every
            self._close_stale()
        if now >= schedule.heartbeat:
            schedule.heartbeat = now + self.HEARTBEAT_EVERY
            self._beat()
        if now >= schedule.summary:
            schedule.summary = now + self.SUMMARY_EVERY
            last = self.stats.reset()
            logger.info("watching %d sessions (%s); last %.0fs: %d events, %d syncs of %d sessions, %d retries, "
                        "%d failures", len(self.active), self.mode.mode, self.SUMMARY_EVERY, last.events, last.syncs,
                        last.sessions_synced, last.retries, last.failures)

    # --- database work ------------------------------------------------------------------

    def _sync(self, names: list[str]) -> None:
        _refresh_connections()
        try:
            report = sync_sessions(results_dir=self.results_dir, names=names, defer_manifest_errors=True)
        except Exception:
            if len(names) == 1:
                self._record_failure(names[0])
                return
            # One bad session must not hold back the others: sync them one by one.
            for name in names:
                self._sync([name])
            return
        self.stats.syncs += 1
        self.stats.sessions_synced += len(names)
        self.last_sync_at = self.now()
        recorded = self._retry_or_record(report, names)
        self._after_sync([name for name in names if name not in report.deferred] + recorded)

    def _retry_or_record(self, report: SyncReport, synced: Iterable[str] | None) -> list[str]:
        """Schedule another read of the manifests that could not be parsed; after the last
        retry record the error. Returns the sessions recorded that way. ``synced``: the names
        this sync covered (None: all)."""
        recorded = []
        for name in report.deferred:
            attempt = self._attempts.get(name, 0) + 1
            if attempt <= self.MANIFEST_RETRIES:
                # Most likely caught in the middle of a rewrite: read it again shortly.
                self._attempts[name] = attempt
                self.stats.retries += 1
                self.debouncer.touch(name, self.monotonic(), delay=0.1 * attempt)
            else:
                self._attempts.pop(name, None)
                result = sync_sessions(results_dir=self.results_dir, names=[name])
                logger.warning("%s: %s", name, result.errors.get(name, report.deferred[name]))
                recorded.append(name)
        covered = set(self._attempts) if synced is None else set(synced)
        for name in covered - set(report.deferred):
            self._attempts.pop(name, None)  # read fine this time
        return recorded

    def _record_failure(self, name: str) -> None:
        self.stats.failures += 1
        logger.exception("%s: sync failed; the watcher carries on", name)
        try:
            _refresh_connections()
            Session.objects.filter(name=name).update(sync_error="internal error while syncing; see the watcher's log")
        except Exception:
            logger.exception("%s: could not record the failure", name)

    def _after_sync(self, names: Iterable[str]) -> None:
        """Log each synced session and watch exactly those that are still running."""
        rows = Session.objects.filter(name__in=list(names)).values_list(
            "name", "status", "is_missing", "images_actual", "images_expected")
        known = set()
        for name, status, is_missing, actual, expected in rows:
            known.add(name)
            logger.info("%s: %s, %d/%s images%s", name, status, actual, expected if expected is not None else "?",
                        " (folder missing)" if is_missing else "")
            if status == SessionStatus.ONGOING and not is_missing:
                self._activate(name)
            else:
                self._deactivate(name)
            if self.thumbnails is not None:
                self.thumbnails.session_synced(name)  # a missing one loses its thumbnails
        for name in set(names) - known:
            # Not a session (yet): a new folder is watched until its first manifest or image.
            if (self.results_dir / name).is_dir():
                self._activate(name)
            else:
                self._deactivate(name)

    def _sweep(self) -> None:
        """Re-stamp every folder: finished sessions that changed again, events that were lost."""
        _refresh_connections()
        try:
            report = sync_sessions(results_dir=self.results_dir, defer_manifest_errors=True)
        except Exception:
            logger.exception("sweep failed; it runs again in %.0fs", self.SWEEP_EVERY)
            return
        recorded = self._retry_or_record(report, None)
        if report.sessions_read or report.missing:
            logger.info("sweep: %s", report.summary())
        # What the events missed gets what a sync after an event gets (thumbnails included).
        changed = [name for name in report.changed if name not in report.deferred] + recorded
        for start in range(0, len(changed), 500):  # a whole library, after a restore: one query per 500
            self._after_sync(changed[start:start + 500])
        self._reconcile()

    def _check_root(self) -> None:
        """A results folder replaced by another (deleted and made again, a new one moved in) is
        watched again at once, and read in full: nothing waits for the next sweep."""
        identity = _identity(self.results_dir)
        if self._root_identity is None:
            self._root_identity = identity  # not started: nothing is watched yet
            return
        if identity is None or (identity == self._root_identity and not self._root_lost):
            return  # unchanged, or gone for now (looked at again shortly)
        if self.native is not None and not self.native.rewatch_root():
            return
        logger.warning("the results folder %s was replaced; watching the new one", self.results_dir)
        self._root_identity = identity
        self._root_lost = False
        self._set_active(set())  # the old folders' watches follow the old folders
        self.poller = FolderPoller(self.results_dir)
        self.poller.changed(())
        self._schedule.sweep = self.monotonic() + self.SWEEP_EVERY
        self._sweep()

    def _close_stale(self) -> None:
        _refresh_connections()
        try:
            if mark_stale_sessions(now=self.now(), stale_after=self.stale_after):
                self._reconcile()
        except Exception:
            logger.exception("stale check failed")

    def _reconcile(self) -> None:
        ongoing = set(Session.objects.present().ongoing().values_list("name", flat=True))
        candidates = {name for name in self.active - ongoing if not Session.objects.filter(name=name).exists()}
        self._set_active(ongoing | candidates)

    def _beat(self) -> None:
        _refresh_connections()
        try:
            now = self.now()
            WatcherHeartbeat.objects.update_or_create(
                pk=1,
                defaults={
                    "mode": self.mode.mode, "mode_reason": self.mode.reason[:300], "pid": os.getpid(),
                    "results_dir": str(self.results_dir), "started_at": self.started_at, "beat_at": now,
                    "last_event_at": self.last_event_at, "last_sync_at": self.last_sync_at,
                    "sessions_watched": len(self.active), "stopped_at": None,
                },
            )
        except Exception:
            logger.exception("could not record the heartbeat")

    # --- what is watched ----------------------------------------------------------------

    def _set_active(self, names: set[str]) -> None:
        for name in self.active - names:
            self._deactivate(name)
        for name in names - self.active:
            self._activate(name)

    def _activate(self, name: str) -> None:
        if name in self.active:
            return
        self.active.add(name)
        if self.native is not None and not self.native.watch(name):
            logger.info("%s: polled every %.1fs (no native watch available)", name, self.poll_interval)
        logger.debug("%s: watching", name)

    def _deactivate(self, name: str) -> None:
        if name not in self.active:
            return
        self.active.discard(name)
        if self.native is not None:
            self.native.unwatch(name)
        logger.debug("%s: no longer watched", name)

