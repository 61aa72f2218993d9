"""Wrong operator-token guesses slow down: after a few failures an address must wait."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_FAILURES = 10
WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000  # bounds memory when someone guesses from very many addresses


class TokenGuard:
    """Counts wrong tokens per address over a sliding minute; shared by the operator API and the
    window's token form, so guessing in one does not reset the other."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def wait_seconds(self, address: str) -> float:
        """0 when this address may try; otherwise how long until it may try again."""
        failures = self._recent(address)
        if len(failures) < self.max_failures:
            return 0.0
        return max(failures[0] + self.window - self.clock(), 0.0) or 0.001

    def failed(self, address: str) -> None:
        if address not in self._failures and len(self._failures) >= MAX_ADDRESSES:
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(address, deque()).append(self.clock())

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address)
        if failures is None:
            return deque()
        horizon = self.clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[address]
        return failures
