"""Child processes that do not outlive their parent.

Nothing here imports Django: the thumbnail workers use it.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
import threading
import time

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

