"""Progress for long commands: a bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from tqdm import tqdm

logger = logging.getLogger(__name__)


class ProgressReporter:
    """Callable as ``reporter(done, total)``; ``close()`` when the work ends."""

    def __init__(self, *, label: str, unit: str = "session", stream: TextIO | None = None,
                 log_every: float = 5.0) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.log_every = log_every
        self._bar: tqdm | None = None
        self._last_log = time.monotonic()
        self._interactive = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if self._interactive:
            if self._bar is None:
                self._bar = tqdm(total=total, desc=self.label, unit=self.unit, file=self.stream, leave=False)
            self._bar.total = total
            self._bar.n = done
            self._bar.refresh()
        elif time.monotonic() - self._last_log >= self.log_every and done < total:
            self._last_log = time.monotonic()
            logger.info("%s: %d of %d", self.label, done, total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
