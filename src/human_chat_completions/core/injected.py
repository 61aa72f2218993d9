"""Errors the operator injected, remembered by request so that a client's automatic retry meets
the same one, as it would from a provider that is rate limiting or down."""

from __future__ import annotations

import time

from human_chat_completions.core.stream import StreamError


class InjectedErrors:
    """Fingerprint → the injected error and when, for `window` seconds (a retry comes sooner)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._by_fingerprint: dict[str, tuple[StreamError, float]] = {}

    def remember(self, fingerprint: str, error: StreamError) -> None:
        now = time.time()
        # Injections are rare; forgetting the expired ones here keeps a long session's map small.
        self._by_fingerprint = {key: value for key, value in self._by_fingerprint.items()
                                if now - value[1] < self.window}
        self._by_fingerprint[fingerprint] = (error, now)

    def for_retry(self, fingerprint: str) -> StreamError | None:
        found = self._by_fingerprint.get(fingerprint)
        return found[0] if found is not None and time.time() - found[1] < self.window else None
