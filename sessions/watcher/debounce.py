"""Bursts of changes become one sync per session: the debouncer, and the retry policy for a
manifest caught half-written."""

from __future__ import annotations

from collections.abc import Iterable


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


class ManifestRetries:
    """A manifest that cannot be parsed is most likely caught in the middle of a rewrite: it
    is read again shortly, a little later each time, and only after ``limit`` retries is its
    error recorded."""

    def __init__(self, *, limit: int, step: float = 0.1) -> None:
        self.limit = limit
        self.step = step
        self._attempts: dict[str, int] = {}

    def next_delay(self, name: str) -> float | None:
        """Seconds until the next read of ``name``'s manifest; None once the retries are used up
        (the caller records the error; a later failure starts again from the first retry)."""
        attempt = self._attempts.get(name, 0) + 1
        if attempt <= self.limit:
            self._attempts[name] = attempt
            return self.step * attempt
        self._attempts.pop(name, None)
        return None

    def waiting(self) -> set[str]:
        """Sessions whose manifest is due to be read again."""
        return set(self._attempts)

    def read_fine(self, names: Iterable[str]) -> None:
        for name in names:
            self._attempts.pop(name, None)
