"""Handing freed memory back to the system after a large image.

glibc keeps large freed blocks in the process: after one 64-megapixel PNG a worker (or a web
server thread rendering on demand) would stay hundreds of megabytes larger for good.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable


def release() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc; absent from musl
    except (OSError, AttributeError):
        return None
