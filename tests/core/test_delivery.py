from __future__ import annotations

import time

from human_chat_completions.config import Settings
from human_chat_completions.core import Switchboard
from human_chat_completions.core.delivery import (
    LiveTyping,
    Pace,
    paced_pieces,
    releasable_length,
    send_paced,
    stable_prefix_length,
)
from tests.support import eventually


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


def test_paced_on_send_is_the_default_and_a_saved_live_choice_stays():
    assert Settings().delivery_style == "paced"
    assert Settings.model_validate_json('{"delivery_style": "live"}').delivery_style == "live"
    assert Settings().send_key == "enter"


def test_only_finished_words_are_releasable_and_nothing_an_input_method_may_be_composing():
    assert releasable_length("Good mornign") == len("Good ")  # the last word may still change
    assert releasable_length("Good morning ") == len("Good morning ")
    # Kana or kanji at the end may be an open composition, punctuation included ("、").
    for composing in ("Hello えいち", "きょうは、いい", "今日は、いい天気", "Hi ｈｃｃ", "안녕하"):
        assert releasable_length(composing) == 0, composing
    # Once something an input method does not compose follows, the text before it can go.
    assert releasable_length("今日は、いい天気\nまた") == 0
    assert releasable_length("今日は、いい天気\n") == len("今日は、いい天気\n")
    assert releasable_length("HCC と H") == len("HCC と ")


async def test_live_typing_releases_finished_words_after_the_pause_and_hands_them_back():
    board, exchange_id = open_exchange()
    released: list[str] = []
    typing = LiveTyping(board, exchange_id, idle=0.05, on_release=released.append)
    for end in range(1, len("Good mornign ") + 1):
        typing.update("Good mornign "[:end])
    assert board.get(exchange_id).reply.text == ""  # nothing while typing goes on
    typing.update("Good morni")  # corrected before the pause: the typo never leaves
    typing.update("Good morning wor")
    await eventually(lambda: board.get(exchange_id).reply.text)
    assert board.get(exchange_id).reply.text == "Good morning "
    assert released == ["Good morning "] and typing.unsent == "wor"
    typing.update("world")  # the editor now holds only what was not sent
    typing.send("world!")
    exchange = board.get(exchange_id)
    assert exchange.reply.text == "Good morning world!" and exchange.state.value == "done"


async def test_live_typing_never_releases_an_open_composition(clock):
    board, exchange_id = open_exchange()
    typing = LiveTyping(board, exchange_id, idle=0.8)
    typing.update("Hello えいち")  # the operator pauses to pick a conversion
    await clock.advance(5)
    assert board.get(exchange_id).reply.text == ""
    typing.update("Hello HCC ")
    await clock.advance(0.7)
    assert board.get(exchange_id).reply.text == ""  # not paused long enough yet
    await clock.advance(0.1)
    assert board.get(exchange_id).reply.text == "Hello HCC "


async def test_live_typing_stops_when_the_exchange_closes(clock):
    board, exchange_id = open_exchange()
    typing = LiveTyping(board, exchange_id, idle=0.8)
    typing.update("Too late now ")
    board.detach(board.get(exchange_id))  # the client went away
    await clock.advance(1)
    assert board.get(exchange_id).reply.text == ""
    typing.send("Too late now")  # nothing to write to, and no error


async def test_live_typing_holds_everything_for_a_non_stream_client_until_send(clock):
    board, exchange_id = open_exchange(stream=False)
    typing = LiveTyping(board, exchange_id, idle=0.8)
    typing.update("Hello there friend ")
    await clock.advance(5)
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
    quick = Pace(first_token_delay=0.02, tokens_per_second=5000)  # the same steps, sooner
    started = time.perf_counter()
    deltas = []
    with board.events.subscription() as queue:
        await send_paced(board, exchange_id, text, quick)
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
    assert elapsed > quick.first_token_delay  # the first piece waited for its delay
