"""Failures remembered by request so that a client's automatic retry meets the same one, as it
would from a provider that is rate limiting or down, or that refused."""

from __future__ import annotations

import time
from dataclasses import dataclass

from human_chat_completions.core.stream import StreamError

# What the retry's record says, by whether the first failure was injected: (notice, its code).
RETRY_NOTICES = {
    True: ("A client's retry of a request that got an injected error: it got the same.", "injected_retry"),
    False: ("A client's retry of a request the operator declined: it got the same.", "declined_retry"),
}


@dataclass(frozen=True)
class Remembered:
    error: StreamError
    injected: bool  # the operator injected it to study a failure (the record names it), or declined
    at: float


class FailuresForRetry:
    """Fingerprint → the failure and when, for `window` seconds (a retry comes sooner)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._by_fingerprint: dict[str, Remembered] = {}

    def remember(self, fingerprint: str, error: StreamError, injected: bool) -> None:
        now = time.time()
        # Failures are rare; forgetting the expired ones here keeps a long session's map small.
        self._by_fingerprint = {key: value for key, value in self._by_fingerprint.items()
                                if now - value.at < self.window}
        self._by_fingerprint[fingerprint] = Remembered(error, injected, now)

    def for_retry(self, fingerprint: str) -> Remembered | None:
        found = self._by_fingerprint.get(fingerprint)
        return found if found is not None and time.time() - found.at < self.window else None
