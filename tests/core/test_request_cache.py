"""Finished exchanges' request bodies: a bounded few in memory, the rest read back from the log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from human_chat_completions.core import Switchboard
from human_chat_completions.core.exchange import Exchange
from human_chat_completions.core.request_cache import RequestCache, approximate_size
from human_chat_completions.store.log import ExchangeLog
from human_chat_completions.ui.viewmodel import OperatorState


def request(text: str) -> dict:
    return {"model": "m", "messages": [{"role": "system", "content": "Be kind."},
                                       {"role": "user", "content": text}]}


def logged_switchboard(path: Path, cache: RequestCache | None = None) -> tuple[Switchboard, ExchangeLog]:
    """A switchboard wired to a real log file, as `build_runtime` wires them."""
    switchboard = Switchboard()
    if cache is not None:
        switchboard.requests = cache
    exchange_log = ExchangeLog(path)
    switchboard.events.listen(exchange_log.on_event)
    switchboard.requests.archive = exchange_log
    return switchboard, exchange_log


def answered(switchboard: Switchboard, text: str, **open_args) -> Exchange:
    exchange = switchboard.open(request(text), stream=False, **open_args)
    switchboard.reply(exchange.id, "answer to " + text, done=True)
    return exchange


def held(exchanges: list[Exchange]) -> list[bool]:
    return [exchange.held_request is not None for exchange in exchanges]


def test_only_the_most_recent_bodies_stay_and_the_others_come_back_from_the_log(tmp_path):
    switchboard, exchange_log = logged_switchboard(tmp_path / "log.sqlite3", RequestCache(max_items=2))
    finished = [answered(switchboard, f"question {n}") for n in range(4)]
    assert held(finished) == [False, False, True, True]
    assert finished[0].request == request("question 0")  # read back from the file
    assert finished[0].user_input == "question 0" and finished[0].model == "m"
    # Read back means used: it is the most recent now, the least recently used went instead.
    assert held(finished) == [True, False, False, True]
    exchange_log.close()


def test_a_byte_budget_bounds_big_bodies_but_the_latest_is_always_kept(tmp_path):
    big = "x" * 100_000
    cache = RequestCache(max_bytes=250_000)
    switchboard, exchange_log = logged_switchboard(tmp_path / "log.sqlite3", cache)
    finished = [answered(switchboard, f"{n} {big}") for n in range(3)]
    assert held(finished) == [False, True, True] and cache.held_bytes <= cache.max_bytes
    huge = answered(switchboard, "x" * 300_000)
    assert held([*finished, huge]) == [False, False, False, True]
    assert cache.held_bytes == approximate_size(huge.held_request) > cache.max_bytes
    assert finished[1].user_input == f"1 {big}"  # read back; the huge one makes room
    assert held([*finished, huge]) == [False, True, False, False]
    exchange_log.close()


def test_open_exchanges_keep_their_bodies(tmp_path):
    switchboard, exchange_log = logged_switchboard(tmp_path / "log.sqlite3", RequestCache(max_items=1))
    waiting = switchboard.open(request("still waiting"), stream=False)
    finished = [answered(switchboard, f"question {n}") for n in range(3)]
    assert waiting.held_request is not None and held(finished) == [False, False, True]
    exchange_log.close()


def test_a_retry_of_an_abandoned_exchange_holds_its_body_again(tmp_path):
    switchboard, exchange_log = logged_switchboard(tmp_path / "log.sqlite3", RequestCache(max_items=1))
    left = switchboard.open(request("are you there?"), stream=True, fingerprint="same body")
    switchboard.attach(left)
    switchboard.detach(left)  # the client hung up: abandoned
    answered(switchboard, "someone else")
    assert left.held_request is None
    retried = switchboard.open(request("are you there?"), stream=True, fingerprint="same body",
                               is_retry=True)
    assert retried is left and left.state.open and left.held_request == request("are you there?")
    answered(switchboard, "and another one")
    assert left.held_request is not None  # open again: not the cache's to drop
    exchange_log.close()


def test_without_a_log_nothing_is_dropped():
    switchboard = Switchboard()
    switchboard.requests.max_items = 1
    finished = [answered(switchboard, f"question {n}") for n in range(3)]
    assert held(finished) == [True, True, True]


def test_a_request_the_log_refused_stays_in_memory(tmp_path):
    switchboard, exchange_log = logged_switchboard(tmp_path / "log.sqlite3", RequestCache(max_items=1))
    logged = answered(switchboard, "logged")
    pages = exchange_log.db.execute("PRAGMA page_count").fetchone()[0]
    exchange_log.db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from now on
    refused = answered(switchboard, "not logged " + "x" * 200_000)
    answered(switchboard, "the latest")
    assert exchange_log.failure is not None
    assert logged.held_request is None  # the file has it
    assert refused.held_request is not None  # memory is the only copy left
    exchange_log.close()


def test_a_body_gone_from_memory_and_log_is_an_error_not_an_empty_request(tmp_path):
    switchboard, exchange_log = logged_switchboard(tmp_path / "log.sqlite3", RequestCache(max_items=1))
    first = answered(switchboard, "first")
    answered(switchboard, "second")
    exchange_log.db.execute("DELETE FROM requests WHERE exchange_id = ?", (first.id,))
    with pytest.raises(LookupError):
        _ = first.request
    exchange_log.close()


def test_the_conversation_list_previews_without_reading_the_log(tmp_path):
    switchboard, exchange_log = logged_switchboard(tmp_path / "log.sqlite3", RequestCache(max_items=1))
    finished = [answered(switchboard, f"question {n}", identity=f"p{n}") for n in range(3)]
    reads = []
    exchange_log.db.set_trace_callback(reads.append)
    previews = sorted(row.preview for row in OperatorState().rows(switchboard))
    assert previews == ["question 0", "question 1", "question 2"]
    assert held(finished) == [False, False, True] and reads == []
    exchange_log.close()


def test_restored_history_is_read_row_by_row(tmp_path):
    """A restart still continues an answered thread (restore reads the log without fetchall)."""
    switchboard, exchange_log = logged_switchboard(tmp_path / "log.sqlite3")
    first = answered(switchboard, "hello")
    exchange_log.close()
    restarted, exchange_log = logged_switchboard(tmp_path / "log.sqlite3")
    exchange_log.restore_into(restarted)
    follow_up = {"model": "m", "messages": [*request("hello")["messages"],
                                            {"role": "assistant", "content": "answer to hello"},
                                            {"role": "user", "content": "and then?"}]}
    assert restarted.open(follow_up, stream=False).conversation_id == first.conversation_id
    exchange_log.close()
    with sqlite3.connect(tmp_path / "log.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM exchanges").fetchone() == (2,)
