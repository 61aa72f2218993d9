"""Once an auto answer's first words are out, the rest waits a moment before it is read: a client
on the same machine then has a CPU to show them."""

from __future__ import annotations

import asyncio

from human_chat_completions.copilot import service
from human_chat_completions.core import Mode, Switchboard

MESSAGES = [{"role": "user", "content": "hi"}]


def test_the_rest_waits_once_the_first_words_are_out_and_only_then(monkeypatch):
    monkeypatch.setattr(service, "FIRST_WORDS_PAUSE_SECONDS", 0.0005)  # what Linux and macOS wait
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    async def scenario() -> None:
        switchboard = Switchboard(default_mode=Mode.AUTO)
        streamed = switchboard.open({"messages": MESSAGES}, stream=True)

        async def response_writes_the_first_words() -> None:
            await real_sleep(0)
            await real_sleep(0)
            switchboard.note_first_byte(streamed)

        writer = asyncio.ensure_future(response_writes_the_first_words())
        monkeypatch.setattr(service.asyncio, "sleep", sleep)
        await service.Copilot._first_words_out(streamed)
        assert streamed.first_byte_at is not None
        assert slept[-1] == service.FIRST_WORDS_PAUSE_SECONDS > 0
        assert slept.count(service.FIRST_WORDS_PAUSE_SECONDS) == 1
        await writer

        slept.clear()
        stuck = switchboard.open({"messages": MESSAGES + [{"role": "user", "content": "again"}]},
                                 stream=True)
        await service.Copilot._first_words_out(stuck)  # its client never got them: no pause
        assert slept == [0] * service.FIRST_WORDS_TURNS

        slept.clear()
        whole = switchboard.open({"messages": [{"role": "user", "content": "all at once"}]},
                                 stream=False)
        await service.Copilot._first_words_out(whole)  # its client reads the answer at the end
        assert slept == []

        slept.clear()
        monkeypatch.setattr(service, "FIRST_WORDS_PAUSE_SECONDS", 0.0)  # Windows: no pause at all
        at_once = switchboard.open({"messages": [{"role": "user", "content": "on Windows"}]}, stream=True)
        switchboard.note_first_byte(at_once)
        await service.Copilot._first_words_out(at_once)
        assert slept == []

    asyncio.run(scenario())
