from __future__ import annotations

import asyncio
import time

from human_chat_completions.core import Switchboard
from human_chat_completions.core.delivery import (
    LiveTyping,
    Pace,
    paced_pieces,
    send_paced,
    stable_prefix_length,
)


def open_exchange(stream: bool = True) -> tuple[Switchboard, str]:
    board = Switchboard()
    exchange = board.open({"messages": [{"role": "user", "content": "hi"}]}, stream=stream)
    board.attach(exchange)
    return board, exchange.id


def test_stable_prefix_is_finished_words_latin_and_japanese():
    assert stable_prefix_length("Hello wor") == len("Hello ")
    assert stable_prefix_length("Hello") == 0
    assert stable_prefix_length("こんにちは、元気") == len("こんにちは、")
    assert stable_prefix_length("Done. ") == len("Done. ")


async def test_live_typing_releases_finished_words_then_idle_rest_and_locks_them():
    board, exchange_id = open_exchange()
    typing = LiveTyping(board, exchange_id, idle=0.05)
    for end in range(1, len("Hello wor") + 1):
        assert typing.update("Hello wor"[:end]) == "Hello wor"[:end]
    assert board.get(exchange_id).reply.text == "Hello "
    # The delivered part cannot be changed: an edit reaching into it is refused.
    assert typing.update("Jello wor") == "Hello wor"
    await asyncio.sleep(0.15)
    assert board.get(exchange_id).reply.text == "Hello wor"
    assert typing.committed == "Hello wor"
    typing.send("Hello world!")
    exchange = board.get(exchange_id)
    assert exchange.reply.text == "Hello world!" and exchange.state.value == "done"


async def test_live_typing_holds_everything_for_a_non_stream_client_until_send():
    board, exchange_id = open_exchange(stream=False)
    typing = LiveTyping(board, exchange_id, idle=0.01)
    typing.update("Hello there friend")
    await asyncio.sleep(0.05)
    assert board.get(exchange_id).reply.text == ""
    typing.send("Hello there friend, edited")
    assert board.get(exchange_id).reply.text == "Hello there friend, edited"


def test_paced_pieces_rejoin_to_the_text():
    text = "Hello, world! 日本語のテキスト。" * 3
    pieces = paced_pieces(text, Pace())
    assert "".join(pieces) == text and len(pieces) > 10


async def test_paced_send_streams_many_pieces_and_500_chars_take_under_5_seconds():
    board, exchange_id = open_exchange()
    text = ("word " * 100)[:500]
    started = time.perf_counter()
    deltas = []
    with board.events.subscription() as queue:
        await send_paced(board, exchange_id, text, Pace())
        while not queue.empty():
            event = queue.get_nowait()
            if event.type == "reply.delta":
                deltas.append(event.text)
    elapsed = time.perf_counter() - started
    assert "".join(deltas) == text and len(deltas) >= 100
    assert board.get(exchange_id).state.value == "done"
    # Default pace arithmetic (not a timing assertion): delay + pieces / rate.
    pace = Pace()
    assert pace.first_token_delay + len(paced_pieces(text, pace)) / pace.tokens_per_second < 5
    assert elapsed > pace.first_token_delay
