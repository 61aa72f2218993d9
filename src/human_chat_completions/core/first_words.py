"""Which streamed replies have first words on their way to their clients.

Windows and feeds wait while any has (up to SUBSCRIBER_HOLD_LIMIT): waking them then would put
their work between those words and the client. Words are on their way from when an auto answer's
upstream is asked, or a person's text is written, until the first byte goes out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from human_chat_completions.core.events import SUBSCRIBER_HOLD_LIMIT
from human_chat_completions.core.exchange import Exchange, ExchangeState


class FirstWords:
    def __init__(self, exchanges: Mapping[str, Exchange]) -> None:
        self._exchanges = exchanges
        self._since: dict[str, float] = {}

    def expect(self, exchange: Exchange) -> None:
        if exchange.stream and exchange.first_byte_at is None:
            self._since.setdefault(exchange.id, time.monotonic())

    def pending(self) -> bool:
        """True while some reply's first words are on their way (and not for longer than a
        subscriber would wait for them anyway)."""
        oldest = time.monotonic() - SUBSCRIBER_HOLD_LIMIT
        for exchange_id, since in list(self._since.items()):
            exchange = self._exchanges.get(exchange_id)
            if exchange is None or exchange.first_byte_at is not None or since < oldest \
                    or exchange.state in (ExchangeState.ABANDONED, ExchangeState.FAILED):
                del self._since[exchange_id]
        return bool(self._since)
