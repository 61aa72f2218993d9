"""Windows and feeds wait while a reply's first words are on their way, and no longer than a bound."""

from __future__ import annotations

import asyncio

from human_chat_completions.core import Switchboard
from human_chat_completions.core.events import SUBSCRIBER_DELAY, SUBSCRIBER_HOLD_LIMIT
from human_chat_completions.core.exchange import Author, Mode

REQUEST = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


async def woken_after(switchboard: Switchboard, act) -> tuple[float, object]:
    """Seconds until a subscriber already waiting is woken by what `act` publishes."""
    loop = asyncio.get_running_loop()
    with switchboard.events.subscription() as queue:
        reader = asyncio.ensure_future(queue.get())
        await asyncio.sleep(0)
        started = loop.time()
        result = act()
        await reader
        return loop.time() - started, result


async def test_an_auto_request_holds_subscribers_until_its_first_words_went_out():
    switchboard = Switchboard(Mode.AUTO)
    loop = asyncio.get_running_loop()

    def open_and_answer_soon():
        exchange = switchboard.open(REQUEST, stream=True)
        loop.call_later(SUBSCRIBER_DELAY * 5, switchboard.note_first_byte, exchange)
        return exchange

    waited, _ = await woken_after(switchboard, open_and_answer_soon)
    assert SUBSCRIBER_DELAY * 5 <= waited < SUBSCRIBER_HOLD_LIMIT


async def test_a_person_s_text_holds_them_until_sent_and_a_slow_upstream_not_beyond_the_limit():
    switchboard = Switchboard(Mode.HUMAN)
    waited, exchange = await woken_after(switchboard, lambda: switchboard.open(REQUEST, stream=True))
    assert waited < SUBSCRIBER_HOLD_LIMIT / 2  # nothing on its way: the usual short wait
    waited, _ = await woken_after(
        switchboard, lambda: switchboard.reply(exchange.id, "Hi", author=Author.HUMAN))
    assert waited >= SUBSCRIBER_HOLD_LIMIT * 0.9  # never sent (no client here): held to the limit
    slow = Switchboard(Mode.AUTO)
    waited, _ = await woken_after(slow, lambda: slow.open(REQUEST, stream=True))
    assert SUBSCRIBER_HOLD_LIMIT * 0.9 <= waited < SUBSCRIBER_HOLD_LIMIT * 4
