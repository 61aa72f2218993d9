"""The transcript shows what the client sent and got, line breaks and all; it follows the newest
message unless the operator scrolled up, and its toggles keep the place being read."""

from __future__ import annotations

import threading
from contextlib import closing

import openai
import pytest
from playwright.sync_api import Page

from human_chat_completions.config import Settings
from tests.support import Operator, RunningServer
from tests.ui.browser import open_window, screenshot, wait_for_text
from tests.ui.test_live_status import painted, wait_for
from tests.ui.test_operator_window import StreamingParticipant, conversation

SYSTEM = "You are a patient guide.\nAnswer in two sentences."


def texts(page: Page, text: str) -> list[dict]:
    """Rectangles of the semantics leaves whose text is exactly `text`, line breaks included
    (innerText would fold them; textContent keeps them)."""
    return page.evaluate("""(text) => [...document.querySelectorAll('flt-semantics-host *')]
        .filter(e => e.children.length === 0 && e.textContent === text)
        .map(e => e.getBoundingClientRect())
        .map(r => ({x: r.x, y: r.y, width: r.width, height: r.height}))""", text)


def visible(page: Page, text: str) -> bool:
    """`text` is on screen inside the transcript: below the header, above the reply box."""
    editor = page.get_by_role("textbox", name="Reply").bounding_box()
    assert editor
    return any(box["height"] > 0 and box["y"] >= 60 and box["y"] + box["height"] <= editor["y"]
               for box in texts(page, text))


class Asker:
    """A participant's app that sends a whole history and waits for the answer. What it got, or
    the error it got, is kept for the test: a test that ends the wait itself (a 503, or a cut
    connection once the 200 went out) must not leave an exception escaping a thread, which
    pytest reports as a failure of whatever runs."""

    def __init__(self, base: str, user: str, messages: list[dict]) -> None:
        self.answer: str | None = None
        self.error: openai.OpenAIError | None = None
        self._thread = threading.Thread(target=self._run, args=(base, user, messages), daemon=True)
        self._thread.start()

    def _run(self, base: str, user: str, messages: list[dict]) -> None:
        try:
            with openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0) as api:
                reply = api.chat.completions.create(model="m", user=user, messages=messages)
                self.answer = reply.choices[0].message.content
        except openai.OpenAIError as error:
            self.error = error

    def result(self, timeout: float = 10) -> str | None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the client never finished"
        if self.error is not None:
            raise self.error
        return self.answer


def history(turns: int) -> list[dict]:
    """A long conversation: numbered turns, each a few lines tall."""
    messages: list[dict] = [{"role": "system", "content": SYSTEM}]
    for number in range(1, turns + 1):
        messages.append({"role": "user", "content": f"Question {number:02d}\nsecond line\nthird line"})
        messages.append({"role": "assistant", "content": f"Answer {number:02d}\nmore\nand more"})
    return messages


def test_line_breaks_reach_the_screen_as_sent(tmp_path, browser):
    with RunningServer(tmp_path / "data", Settings(language="en")) as server, \
            closing(Operator(server.base)) as operator:
        page = open_window(browser, server.base)
        participant = StreamingParticipant(server.base, "poet", "line one\nline two")
        wait_for_text(page, "poet")
        conversation(page, "poet").click()
        wait_for(page, lambda: texts(page, "line one\nline two"))  # one text, two lines
        assert not texts(page, "line one line two")
        [exchange] = operator.exchanges("waiting")
        operator.reply(exchange["id"], "first line\nsecond line").raise_for_status()
        assert participant.text() == "first line\nsecond line"
        wait_for(page, lambda: texts(page, "first line\nsecond line"))  # the reply as sent, too
        painted(page)
        screenshot(page, "transcript-line-breaks-en-1280")
        page.close()


def test_markdown_is_the_operators_choice(tmp_path, browser):
    with RunningServer(tmp_path / "data", Settings(language="en")) as server:
        page = open_window(browser, server.base)
        StreamingParticipant(server.base, "writer", "**bold** and\nnext")
        wait_for_text(page, "writer")
        conversation(page, "writer").click()
        wait_for(page, lambda: texts(page, "**bold** and\nnext"))  # as sent: the asterisks too
        page.get_by_role("switch", name="Markdown").click()
        wait_for(page, lambda: texts(page, "bold and next"))  # rendered: Markdown joins the lines
        page.get_by_role("switch", name="Markdown").click()
        wait_for(page, lambda: texts(page, "**bold** and\nnext"))
        server.on_loop(lambda: server.runtime.switchboard.fail_all_open("test over"))
        page.close()


def test_the_view_follows_the_newest_message_unless_scrolled_up(tmp_path, browser):
    with RunningServer(tmp_path / "data", Settings(language="en")) as server, \
            closing(Operator(server.base)) as operator:
        page = open_window(browser, server.base)
        messages = history(12)
        messages.append({"role": "user", "content": "Question 13\nthe newest"})
        client = Asker(server.base, "reader", messages)
        wait_for_text(page, "reader")
        conversation(page, "reader").click()
        wait_for(page, lambda: visible(page, "Question 13\nthe newest"))  # opens at the newest
        painted(page)
        screenshot(page, "transcript-follows-en-1280")

        # Scrolled up to read, the operator stays where they are when something new arrives.
        box = texts(page, "Question 13\nthe newest")[0]
        page.mouse.move(box["x"] + 20, box["y"])
        page.mouse.wheel(0, -900)
        wait_for(page, lambda: not visible(page, "Question 13\nthe newest"))
        reading = next(text for number in range(1, 13)
                       if visible(page, text := f"Answer {number:02d}\nmore\nand more"))
        [exchange] = operator.exchanges("waiting")
        operator.reply(exchange["id"], "Answer 13\nthe newest reply").raise_for_status()
        assert client.result() == "Answer 13\nthe newest reply"
        chip = page.get_by_role("button", name="New message ↓")
        chip.wait_for(timeout=10_000)
        assert visible(page, reading) and not visible(page, "Answer 13\nthe newest reply")
        painted(page)
        screenshot(page, "transcript-new-message-chip-en-1280")
        chip.click()
        wait_for(page, lambda: visible(page, "Answer 13\nthe newest reply"))
        chip.wait_for(state="detached", timeout=10_000)
        page.close()


def test_showing_the_system_prompt_keeps_the_place(tmp_path, browser):
    with RunningServer(tmp_path / "data", Settings(language="en")) as server:
        page = open_window(browser, server.base)
        messages = history(10)
        messages.append({"role": "user", "content": "Question 11\nthe last"})
        asker = Asker(server.base, "prompted", messages)
        wait_for_text(page, "prompted")
        conversation(page, "prompted").click()
        wait_for(page, lambda: visible(page, "Question 11\nthe last"))
        prompt = page.get_by_role("switch", name="Show system prompt")

        # At the newest message: the system prompt appears far above, the view stays at the end.
        prompt.click()
        wait_for(page, lambda: texts(page, SYSTEM))
        assert wait_for(page, lambda: visible(page, "Question 11\nthe last"))
        prompt.click()
        wait_for(page, lambda: not texts(page, SYSTEM))

        # Scrolled up: the message being read does not move.
        box = texts(page, "Question 11\nthe last")[0]
        page.mouse.move(box["x"] + 20, box["y"])
        page.mouse.wheel(0, -700)
        wait_for(page, lambda: not visible(page, "Question 11\nthe last"))
        reading = next(text for number in range(1, 11)
                       if visible(page, text := f"Answer {number:02d}\nmore\nand more"))
        before = texts(page, reading)[0]["y"]
        prompt.click()
        wait_for(page, lambda: texts(page, SYSTEM))
        wait_for(page, lambda: abs(texts(page, reading)[0]["y"] - before) < 4)
        painted(page)
        screenshot(page, "transcript-prompt-kept-place-en-1280")
        server.on_loop(lambda: server.runtime.switchboard.fail_all_open("test over"))
        # The test's own end of the wait: a 503, or a cut connection once the 200 went out (3 s).
        with pytest.raises((openai.InternalServerError, openai.APIConnectionError)):
            asker.result()
        page.close()
