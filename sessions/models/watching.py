"""What the watcher says about itself, about a results folder that looks wrong, and what the
last whole sync left the database holding."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models


class ResultsFolderAlarm(models.Model):
    """Raised (one row) by a sync that would have marked most of the library missing: the
    results folder looks wrong, so nothing was marked (SPEC section 11)."""

    results_dir = models.CharField(max_length=1000)
    raised_at = models.DateTimeField()
    sessions_present = models.PositiveIntegerField()
    sessions_vanished = models.PositiveIntegerField()

    def __str__(self) -> str:
        return self.message()

    def message(self, *, with_path: bool = True) -> str:
        where = f"the results folder {self.results_dir}" if with_path else "the results folder"
        return (f"{where} looks wrong: {self.sessions_vanished} of the {self.sessions_present} sessions on disk "
                "are not in it, so none was marked missing. If they really are gone, run "
                "`manage.py syncsessions --accept-missing`.")


class WatcherHeartbeatManager(models.Manager["WatcherHeartbeat"]):
    """The heartbeat's writes: one row, written by the running watcher."""

    def beat(self, *, mode: str, mode_reason: str, pid: int, results_dir: str, started_at: datetime,
             beat_at: datetime, last_event_at: datetime | None, last_sync_at: datetime | None,
             sessions_watched: int) -> None:
        self.update_or_create(
            pk=1,
            defaults={
                "mode": mode, "mode_reason": mode_reason[:300], "pid": pid, "results_dir": results_dir,
                "started_at": started_at, "beat_at": beat_at, "last_event_at": last_event_at,
                "last_sync_at": last_sync_at, "sessions_watched": sessions_watched, "stopped_at": None,
            },
        )

    def record_stop(self, *, pid: int, at: datetime) -> None:
        """The watcher with ``pid`` stopped (a newer one's row is left alone)."""
        self.filter(pk=1, pid=pid).update(stopped_at=at, beat_at=at)


class WatcherHeartbeat(models.Model):
    """What the running watcher last said about itself (one row), for /api/health and the admin."""

    mode = models.CharField(max_length=16)
    mode_reason = models.CharField(max_length=300, blank=True, default="")
    pid = models.IntegerField()
    results_dir = models.CharField(max_length=1000)
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    sessions_watched = models.PositiveIntegerField(default=0)
    stopped_at = models.DateTimeField(null=True, blank=True)

    objects = WatcherHeartbeatManager()

    # A beat this old means the watcher is gone without saying so (killed, machine asleep).
    RUNNING_WITHIN = timedelta(seconds=30)

    class Meta:
        verbose_name = "watcher heartbeat"

    def __str__(self) -> str:
        return f"watcher ({self.mode}, pid {self.pid})"

    def is_running(self, *, now: datetime) -> bool:
        return self.stopped_at is None and now - self.beat_at <= self.RUNNING_WITHIN


class SyncedFolders(models.Model):
    """What the database held of the session folders after the last whole sync (one row): one
    digest of every present session's stored folder state (``sessions.services.known``), with
    the marks of the database it was read from. While the marks are the same and the folders on
    disk give the same digest, a whole sync has nothing to read and reads no session row."""

    states = models.PositiveIntegerField()  # how many folder states the digest is of
    digest = models.BigIntegerField()
    # The database then: its change counter, its newest session write and the stats version
    # (a new version reads every session again, whatever its folder shows).
    change_value = models.BigIntegerField()
    newest_update = models.DateTimeField(null=True)
    stats_version = models.PositiveIntegerField()

    class Meta:
        verbose_name_plural = "synced folders"

    def __str__(self) -> str:
        return f"{self.states} folder states"
