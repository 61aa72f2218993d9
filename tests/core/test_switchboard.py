from __future__ import annotations

import pytest

from human_chat_completions.core import ExchangeClosedError, ExchangeState, Mode, Switchboard
from human_chat_completions.core.events import ExchangeClosed, ExchangeOpened


def request(*texts: str) -> dict:
    roles = ["user", "assistant"]
    return {"messages": [{"role": roles[i % 2], "content": t} for i, t in enumerate(texts)]}


async def test_a_broken_listener_does_not_stop_the_reply():
    board = Switchboard()
    seen = []
    board.events.listen(lambda event: 1 / 0)
    board.events.listen(lambda event: seen.append(type(event)))
    exchange = board.open(request("hi"), stream=True)
    board.attach(exchange)
    board.reply(exchange.id, "hello", done=True)
    assert exchange.state is ExchangeState.DONE and exchange.reply.text == "hello"
    assert ExchangeOpened in seen and ExchangeClosed in seen


async def test_last_reader_leaving_abandons_and_an_identical_request_revives():
    board = Switchboard()
    exchange = board.open(request("hi"), stream=False, fingerprint="f1")
    board.attach(exchange)
    board.detach(exchange)
    assert exchange.state is ExchangeState.ABANDONED
    with pytest.raises(ExchangeClosedError):
        board.reply(exchange.id, "late")
    again = board.open(request("hi"), stream=False, fingerprint="f1")
    assert again is exchange and exchange.state is ExchangeState.WAITING
    board.attach(again)
    board.reply(exchange.id, "now", done=True)
    assert exchange.state is ExchangeState.DONE


async def test_revive_window_closes():
    board = Switchboard(retry_window=0)
    exchange = board.open(request("hi"), stream=False, fingerprint="f1")
    board.attach(exchange)
    board.detach(exchange)
    assert board.open(request("hi"), stream=False, fingerprint="f1") is not exchange


async def test_default_mode_applies_to_new_conversations_and_fail_all_ends_open_ones():
    board = Switchboard(default_mode=Mode.COPILOT)
    first = board.open(request("a"), stream=True)
    second = board.open(request("b"), stream=True)
    assert first.mode is Mode.COPILOT
    board.reply(first.id, "partial")
    assert board.fail_all_open("bye") == 2
    assert {first.state, second.state} == {ExchangeState.FAILED}
    assert first.reply.text == "partial" and first.reply.error is not None


async def test_openings_without_identity_are_separate_threads():
    board = Switchboard()
    first = board.open(request("hi"), stream=True)
    board.reply(first.id, "hello", done=True)
    second = board.open(request("hi"), stream=True)
    assert second.conversation_id != first.conversation_id and second.regenerate_of is None
    follow = board.open(request("hi", "hello", "more"), stream=True)
    assert follow.conversation_id == first.conversation_id


def test_edit_distance_is_levenshtein_and_is_computed_once_when_done():
    from human_chat_completions.core.drafts import edit_distance

    cases = {("kitten", "sitting"): 3, ("abc", "abc"): 0, ("", "ab"): 2, ("aXbc", "abc"): 1,
             ("ab", "ba"): 2, ("aaa", "aa"): 1, ("日本語です", "日本語でした"): 2}
    assert {pair: edit_distance(*pair) for pair in cases} == cases
    board = Switchboard()
    exchange = board.open(request("hi"), stream=True)
    draft = board.drafts.start(exchange, "p", "m")
    board.drafts.grow(exchange, draft, "Hello there")
    board.drafts.choose(exchange, draft.id)
    assert exchange.edit_distance is None
    board.reply(exchange.id, "Hello there!", done=True)
    assert exchange.edit_distance == 1 and exchange.author.value == "edited"
