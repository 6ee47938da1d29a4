"""Child processes that do not outlive their parent, and process groups stopped as a whole.

Nothing here imports Django: the thumbnail workers use it.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_PR_SET_PDEATHSIG = 1
PARENT_CHECK_EVERY = 0.5  # seconds


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Linux: have the kernel send ``sig`` to this process when its parent dies. False where
    that is not available. Safe between fork and exec (``preexec_fn``): one system call.

    The kernel means the parent *thread*: only for processes started by a thread that lives
    as long as its process (a command's main thread). A process pool starts its workers from
    whichever thread submits, and that thread may end first: workers use ``die_with_parent``.
    """
    prctl = _prctl()
    return prctl is not None and prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Receive ``sig`` within ``PARENT_CHECK_EVERY`` seconds once the process ``parent_pid``
    that started this one is gone, however it ended (a thread looks at the parent)."""
    threading.Thread(target=_watch_parent, args=(parent_pid, sig), name="parent-watch", daemon=True).start()


def _watch_parent(parent_pid: int, sig: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_EVERY)
    os.kill(os.getpid(), sig)


@functools.cache
def _prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to every process of the group; False when none is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ChildProcesses:
    """Named child processes, each the leader of its own process group, stopped as a whole.

    In their own groups, the children do not get the terminal's Ctrl+C along with us (a
    web server worker hit by both Ctrl+C and its parent's quit signal could hang for good): we
    decide when and how they stop. Each dies with us if we are killed, and ``stop`` leaves
    nothing behind, their own children (the web server's workers, the watcher's) included.
    """

    def __init__(self) -> None:
        self.processes: dict[str, subprocess.Popen] = {}
        _prctl()  # looked up here: between fork and exec the child only makes the call

    def start(self, name: str, args: list[str], **options: Any) -> subprocess.Popen:
        process = subprocess.Popen(args, start_new_session=True, preexec_fn=set_parent_death_signal, **options)
        self.processes[name] = process
        return process

    def first_ended(self) -> str | None:
        return next((name for name, process in self.processes.items() if process.poll() is not None), None)

    def stop(self, *, within: float, hurry: Callable[[], bool] = lambda: False) -> None:
        """SIGTERM to each child (it stops its own children); SIGKILL to whatever is left in
        their groups after ``within`` seconds (or at once when ``hurry()`` turns true: a second
        Ctrl+C)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + within
        for process in self.processes.values():
            while process.poll() is None and time.monotonic() < deadline and not hurry():
                try:
                    process.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
        for process in self.processes.values():
            # Whatever is left in the group: a child that would not stop, or a grandchild its
            # parent left behind.
            signal_group(process.pid, signal.SIGKILL)
            process.wait()
