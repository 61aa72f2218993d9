"""A mode switch applies to the request already waiting: Copilot drafts it at once, Auto answers
it at once, and leaving Auto stops the LLM. Through the operator API, then in the real window."""

from __future__ import annotations

import re
from contextlib import closing

import pytest

from human_chat_completions.config import Settings
from human_chat_completions.core import ExchangeState, Mode, Switchboard
from human_chat_completions.core.events import ConversationChanged, ExchangeChanged
from tests.copilot.test_modes import Client, log_row, running
from tests.fakes.upstream import FakeUpstream
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import open_window, screen_text, screenshot, wait_for_text
from tests.ui.conftest import browser  # noqa: F401  (the Chromium fixture)
from tests.ui.test_operator_window import conversation


@pytest.fixture
def upstream():
    with FakeUpstream() as fake:
        yield fake


def set_mode(operator: Operator, conversation_id: str, mode: str) -> None:
    operator.http.post(f"/conversations/{conversation_id}/mode", json={"mode": mode}).raise_for_status()


def waiting_exchange(operator: Operator) -> dict:
    return operator.wait_for(1)[0]


def test_the_switchboard_gives_a_waiting_exchange_the_new_mode():
    board = Switchboard()
    seen: list = []
    board.events.listen(seen.append)
    waiting = board.open({"messages": [{"role": "user", "content": "hi"}]}, stream=True, identity="p")
    replying = board.open({"messages": [{"role": "user", "content": "hello"}]}, stream=True,
                          identity="p")
    board.reply(replying.id, "Hel")
    seen.clear()
    board.set_mode(waiting.conversation_id, Mode.COPILOT)
    assert waiting.mode is Mode.COPILOT  # nothing sent yet: it is answered the new way
    assert replying.mode is Mode.HUMAN  # text already went out under the old mode
    assert [type(event) for event in seen] == [ExchangeChanged, ConversationChanged]
    assert seen[-1].previous_mode is Mode.HUMAN
    assert replying.state is ExchangeState.REPLYING


def test_switching_to_copilot_drafts_the_waiting_request(tmp_path, upstream):
    with running(tmp_path, upstream, "human") as server, closing(Operator(server.base)) as operator:
        client = Client(server.base, "what is a tide?")
        exchange = waiting_exchange(operator)
        assert upstream.requests == []  # human mode: nobody asked the LLM
        set_mode(operator, exchange["conversation"]["id"], "copilot")
        drafts = wait_until(lambda: [d for d in operator.exchange(exchange["id"])["drafts"]
                                     if d["done_at"]])
        assert drafts[0]["text"] == "Draft answer to: what is a tide?"
        assert client.contents == []  # a draft goes nowhere until the operator sends it
        operator.reply(exchange["id"], "Water rising and falling.")
        client.join()
        row = log_row(server, exchange["id"])
    assert row["mode"] == "copilot"
    assert client.text == "Water rising and falling."


def test_switching_to_auto_answers_the_waiting_request(tmp_path, upstream):
    with running(tmp_path, upstream, "human") as server, closing(Operator(server.base)) as operator:
        client = Client(server.base, "is it raining?")
        exchange = waiting_exchange(operator)
        set_mode(operator, exchange["conversation"]["id"], "auto")
        client.join()
        row = log_row(server, exchange["id"])
    assert client.text == "Draft answer to: is it raining?"
    assert row["author"] == "auto" and row["mode"] == "auto"


def test_switching_away_from_auto_stops_the_llm(tmp_path, upstream):
    upstream.behaviour.chunk_delay = 0.3
    with running(tmp_path, upstream, "auto") as server, closing(Operator(server.base)) as operator:
        client = Client(server.base, "tell me a long story about the sea")
        wait_until(lambda: len(client.contents) >= 2)
        [exchange] = operator.exchanges()
        set_mode(operator, exchange["conversation"]["id"], "human")
        assert upstream.wait_disconnected(0)  # the LLM was stopped
        record = wait_until(lambda: (found := operator.exchange(exchange["id"]))["notice_code"] and found)
        assert record["notice_code"] == "taken_over"
        operator.reply(exchange["id"], " The end.")
        client.join()
    assert client.text == record["final"] + " The end."


def test_switching_to_auto_without_a_profile_tells_the_operator(tmp_path):
    with RunningServer(tmp_path / "data", Settings()) as server, closing(Operator(server.base)) as operator:
        client = Client(server.base, "anyone?")
        exchange = waiting_exchange(operator)
        set_mode(operator, exchange["conversation"]["id"], "auto")
        record = wait_until(lambda: (found := operator.exchange(exchange["id"]))["notice_code"] and found)
        assert record["notice_code"] == "auto_needs_profile" and record["outcome"] == "waiting"
        operator.reply(exchange["id"], "Here.")
        client.join()


# -- in the window ----------------------------------------------------------------------------------


def click_mode(page, name: str) -> None:
    """The mode selector's segment (the list row also names the mode, inside a longer label)."""
    page.get_by_role("button", name=re.compile(f"^{name}$")).first.click()


@pytest.mark.browser  # outside tests/ui the marker is not added for us
def test_copilot_clicked_in_the_window_drafts_the_waiting_request(tmp_path, upstream, browser):  # noqa: F811
    with running(tmp_path, upstream, "human", language="en") as server, \
            closing(Operator(server.base)) as operator:
        page = open_window(browser, server.base)
        client = Client(server.base, "recommend a film", user="film-fan")
        wait_for_text(page, "film-fan")
        conversation(page, "film-fan").click()
        click_mode(page, "Copilot")
        wait_for_text(page, "Draft answer to: recommend a film")
        # The delivery control tells the truth: a draft goes out paced, whatever was picked.
        page.get_by_role("button", name="With drafts, the reply is delivered at the LLM's pace.").wait_for()
        screenshot(page, "mode-switch-copilot-draft-en-1280")
        exchange = waiting_exchange(operator)
        assert exchange["mode"] == "copilot" and exchange["drafts"]
        operator.reply(exchange["id"], "Try a classic.")
        client.join()
        page.close()


@pytest.mark.browser
def test_auto_clicked_in_the_window_answers_the_waiting_request(tmp_path, upstream, browser):  # noqa: F811
    with running(tmp_path, upstream, "human", language="en") as server, \
            closing(Operator(server.base)) as operator:
        page = open_window(browser, server.base)
        client = Client(server.base, "what time is it", user="clock-watcher")
        wait_for_text(page, "clock-watcher")
        conversation(page, "clock-watcher").click()
        click_mode(page, "Auto")
        client.join()
        assert client.text == "Draft answer to: what time is it"
        [exchange] = operator.exchanges()
        assert exchange["author"] == "auto" and exchange["outcome"] == "done"
        page.close()


@pytest.mark.browser
def test_human_clicked_during_an_auto_answer_hands_it_to_the_operator(tmp_path, upstream,
                                                                     browser):  # noqa: F811
    upstream.behaviour.chunk_delay = 0.5
    upstream.behaviour.text = " ".join(["The moon keeps turning."] * 20)  # long: still going
    with running(tmp_path, upstream, "auto", language="en") as server:
        page = open_window(browser, server.base)
        client = Client(server.base, "explain the moon in detail", user="stargazer")
        wait_for_text(page, "stargazer")
        conversation(page, "stargazer").click()
        wait_until(lambda: len(client.contents) >= 2, timeout=15)
        wait_for_text(page, "Auto answer")  # an auto answer, not "Copilot drafts"
        assert "Copilot drafts" not in screen_text(page)
        click_mode(page, "Human")
        assert upstream.wait_disconnected(0)
        wait_for_text(page, "Taken over")
        wait_until(lambda: "The LLM is answering" not in screen_text(page), timeout=10)
        screenshot(page, "mode-switch-taken-over-en-1280")
        with closing(Operator(server.base)) as operator:
            [exchange] = operator.exchanges()
            operator.reply(exchange["id"], " The end.")
        client.join()
        assert client.text.endswith(" The end.")
        page.close()

