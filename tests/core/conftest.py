"""A fake clock for the core's timers: the running loop's time moves only when a test says so."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest


class LoopClock:
    """asyncio schedules `call_later` and `wait_for` by `loop.time()`; with it frozen here, a
    pause or a keep-alive interval passes when the test advances it, however busy the machine."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.now = loop.time()
        loop.time = lambda: self.now  # type: ignore[method-assign]

    async def advance(self, seconds: float) -> None:
        """Let `seconds` pass, then let the loop run what became due (and what that woke)."""
        self.now += seconds
        for _ in range(20):  # a timeout's cancel and the waiter's wake take a few turns each
            await asyncio.sleep(0)

    def restore(self) -> None:
        del self.loop.time  # the instance attribute hid the loop's own method


@pytest.fixture
async def clock() -> Iterator[LoopClock]:
    fake = LoopClock(asyncio.get_running_loop())
    yield fake
    fake.restore()
