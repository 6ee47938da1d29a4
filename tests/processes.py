"""Finding the processes a test started, and making sure none outlives the test run (Linux)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Iterable

_PR_SET_CHILD_SUBREAPER = 36
LINUX = sys.platform.startswith("linux")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # after "pid (name) ": state, ppid, pgrp, ...


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped, does not count)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def children_of(pid: int) -> list[int]:
    return [child for child in _pids() if (fields := _stat_fields(child)) and int(fields[1]) == pid]


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children_of(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def with_environment(name: str, value: str) -> list[int]:
    """Running processes whose environment has ``name=value`` (what a test gave its children)."""
    wanted = f"{name}={value}".encode()
    found = []
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if wanted in handle.read().split(b"\0") and alive(pid):
                    found.append(pid)
        except OSError:
            continue
    return found


def wait_gone(pids: Iterable[int], *, timeout: float) -> list[int]:
    """Wait (polling /proc, with a deadline) until none of ``pids`` runs; those still running."""
    deadline = time.monotonic() + timeout
    pids = list(pids)
    while True:
        left = [pid for pid in pids if alive(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def kill(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def become_subreaper() -> bool:
    """Orphans of the processes we start are handed to us instead of init, so that the end
    of the run can tell whether any was left behind."""
    if not LINUX:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def reap() -> None:
    """Collect the exit status of every child that ended (orphans handed to us included)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
