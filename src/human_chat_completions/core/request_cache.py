"""Request bodies of finished exchanges: the recent few in memory, the rest read back from the log.

An open exchange always holds its request (the operator is answering it). Once finished, its body
joins this cache; past the budget the least recently used body is dropped from memory, and asking
the exchange for its request reads it back from the archive (the exchange log) and makes it the
most recent again. Without an archive nothing is dropped: there would be no way back.

Default budget: 200 bodies or 32 MB, whichever comes first. 32 MB is the default largest request
(`max_body_bytes`), so the body the window shows always fits; 200 covers the latest exchange of
every conversation of a large session, so the window's transcript and the operator API rarely
touch the disk. Chat bodies are usually a few KB, which makes the item count the usual bound and
the byte bound the guard against a few huge ones.
"""

from __future__ import annotations

import itertools
import sys
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from human_chat_completions.core.exchange import Exchange

MAX_BYTES = 32 * 1024 * 1024
MAX_ITEMS = 200


class RequestArchive(Protocol):
    """Where a request, once logged, can be read back."""

    def has_request(self, exchange_id: str) -> bool:
        """True if the request is stored, so memory may let it go."""

    def load_request(self, exchange_id: str) -> dict[str, Any] | None:
        """The stored request, or None if it is not there (anymore)."""


def approximate_size(value: Any) -> int:
    """Roughly the bytes a parsed JSON body holds. Iterative: a body may be nested deeply."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.values())  # keys are short and mostly shared
        elif isinstance(item, list):
            stack.extend(item)
    return total


class RequestCache:
    """Bounded by `max_items` and `max_bytes`; the most recently used body is always kept, even
    alone over the byte bound, so that the one being shown is not read from disk on every look."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_items: int = MAX_ITEMS) -> None:
        self.archive: RequestArchive | None = None
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._held: OrderedDict[str, tuple[Exchange, int]] = OrderedDict()
        self.held_bytes = 0

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, exchange: Exchange) -> bool:
        return exchange.id in self._held

    def admit(self, exchange: Exchange) -> None:
        """A finished exchange: its body may be dropped later, least recently used first."""
        if exchange.id in self._held or exchange.held_request is None:
            return
        size = approximate_size(exchange.held_request)
        self._held[exchange.id] = (exchange, size)
        self.held_bytes += size
        self._trim()

    def pin(self, exchange: Exchange) -> dict[str, Any]:
        """The exchange is open again (a client's retry): hold its body until it finishes."""
        request = self.request_of(exchange)
        self._forget(exchange.id)
        return request

    def request_of(self, exchange: Exchange) -> dict[str, Any]:
        """The body, from memory or the archive; either way now the most recently used."""
        if exchange.held_request is not None:
            if exchange.id in self._held:
                self._held.move_to_end(exchange.id)
            return exchange.held_request
        loaded = self.archive.load_request(exchange.id) if self.archive is not None else None
        if loaded is None:
            raise LookupError(f"the request of exchange {exchange.id} is no longer available")
        exchange.held_request = loaded
        self.admit(exchange)
        return loaded

    def _trim(self) -> None:
        while len(self._held) > 1 and (
            len(self._held) > self.max_items or self.held_bytes > self.max_bytes
        ):
            if not self._drop_oldest():
                return

    def _drop_oldest(self) -> bool:
        """Drop the least recently used body the archive has; False if it has none of them."""
        archive = self.archive
        if archive is None:
            return False
        # Never the most recent one; and no copy of all the others (one per finished exchange).
        candidates = itertools.islice(self._held.items(), len(self._held) - 1)
        dropped = next((entry for entry in candidates if archive.has_request(entry[0])), None)
        if dropped is None:
            return False
        exchange_id, (exchange, _size) = dropped
        self._forget(exchange_id)
        exchange.held_request = None
        return True

    def _forget(self, exchange_id: str) -> None:
        entry = self._held.pop(exchange_id, None)
        if entry is not None:
            self.held_bytes -= entry[1]
