"""The CPU is given away once a reply's first words are written, so a local client reads them."""

from __future__ import annotations

import asyncio

from human_chat_completions.api import responses
from human_chat_completions.core import Mode, Switchboard


def test_the_cpu_is_given_away_once_after_the_turn_that_writes_the_first_words(monkeypatch):
    given: list[float | None] = []

    async def scenario() -> None:
        switchboard = Switchboard(default_mode=Mode.AUTO)
        exchange = switchboard.open({"messages": [{"role": "user", "content": "hi"}]}, stream=True)
        monkeypatch.setattr(responses, "_GIVE_WAY", lambda: given.append(exchange.first_byte_at))
        responses.note_first_words(switchboard, exchange)
        assert given == []  # not before the write, which comes later in this turn
        await asyncio.sleep(0)
        responses.note_first_words(switchboard, exchange)  # later pieces: nothing more
        await asyncio.sleep(0)
        assert given == [exchange.first_byte_at] and exchange.first_byte_at is not None

    asyncio.run(scenario())
