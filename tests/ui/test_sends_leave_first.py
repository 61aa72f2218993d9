"""A Send from the tool form, and a "Send anyway" past a study's guard phrase, reach the
participant before the window redraws (7-20 ms for a full console): every render after the press
finds the reply's first words already written, as after the editor's own Send (test_keyboard).
(Before, "Send anyway" closed its dialog first, which counted as the event's redraw, so the
console was not redrawn after it at all until something else drew it.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from typing import Any

from flet.messaging.session import Session

from human_chat_completions.config import Settings
from human_chat_completions.core import Exchange
from human_chat_completions.ui.editor import ReplyEditor
from human_chat_completions.ui.tool_form import ToolPanel
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import focus_textbox, open_window, type_text, wait_for_text
from tests.ui.test_layout import row
from tests.ui.test_study_window import ask, load_study
from tests.ui.test_tools_window import SEARCH, click, client, fill, in_thread

# The settings' pace (no first-token delay): the first piece goes in its task's first step.
PLAIN_STUDY = """
name = "plain"
participants = ["ann"]
[conditions.only]
mode = "human"
[guard]
phrases = ["language model"]
"""
SETTINGS = Settings(language="en", delivery_style="paced", first_token_delay=0, tokens_per_second=40)


@contextmanager
def renders_after(monkeypatch, owner: type, method: str, pressed_when=lambda *a, **k: True) -> Iterator[list]:
    """For each render of the window after `owner.method` ran (when `pressed_when` says it was the
    press), whether the exchange it acted on had its first byte written by then."""
    pressed: list[Exchange] = []
    written: list[bool] = []
    real, real_patch = getattr(owner, method), Session.patch_control

    def press(self: Any, *args: Any, **kwargs: Any) -> Any:
        if pressed_when(*args, **kwargs):
            pressed.append(self.exchange)
        return real(self, *args, **kwargs)

    def patch_control(session: Session, *args: Any, **kwargs: Any) -> Any:
        if pressed:
            written.append(pressed[-1].first_byte_at is not None)
        return real_patch(session, *args, **kwargs)

    monkeypatch.setattr(owner, method, press)
    monkeypatch.setattr(Session, "patch_control", patch_control)
    yield written


def test_tool_calls_sent_from_the_form_leave_before_the_window_redraws(tmp_path, browser, monkeypatch):
    results: dict[str, Any] = {}
    with RunningServer(tmp_path / "data", SETTINGS) as server, \
            renders_after(monkeypatch, ToolPanel, "_send_from_ui") as written, ExitStack() as stack:
        api = stack.enter_context(client(server.base))
        operator = stack.enter_context(closing(Operator(server.base)))
        thread = in_thread(lambda: list(api.chat.completions.create(
            model="m", user="agent-app", tools=[SEARCH], stream=True,  # type: ignore[list-item]
            messages=[{"role": "user", "content": "Find the news"}])), results)
        operator.wait_for(1)
        page = open_window(browser, server.base)
        wait_for_text(page, "agent-app")
        row(page, "agent-app").click()
        click(page, "button", re.compile("^search_web"), exact=False)
        fill(page, "query *", "news")
        click(page, "button", "Call tool")
        wait_for_text(page, "Calls to send")
        click(page, "button", "Send tool calls (1)")
        thread.join(20)
        assert "error" not in results, results.get("error")
        deltas = [c for chunk in results["value"] if chunk.choices for c in chunk.choices[0].delta.tool_calls or []]
        assert [d.function.name for d in deltas if d.function and d.function.name] == ["search_web"]
        wait_for_text(page, "Tool call: search_web")  # the window redrew
        assert written and all(written), written
        page.close()


def test_a_reply_sent_anyway_past_a_guard_phrase_leaves_before_the_window_redraws(tmp_path, browser,
                                                                                 monkeypatch):
    keys = load_study(tmp_path, PLAIN_STUDY, "plain")
    answers: dict[str, str] = {}
    forced = lambda *args, **kwargs: kwargs.get("forced", False)  # noqa: E731
    with RunningServer(tmp_path / "data", SETTINGS) as server, \
            renders_after(monkeypatch, ReplyEditor, "send", forced) as written:
        thread = ask(server.base, keys["ann"], "Who made you?", answers, "ann")
        with closing(Operator(server.base)) as operator:
            operator.wait_for(1)
        page = open_window(browser, server.base)
        wait_for_text(page, "ann")
        row(page, "ann").click()
        focus_textbox(page, "Reply")
        type_text(page, "I am a language model.")
        page.keyboard.press("Enter")
        click(page, "button", "Send anyway")
        wait_until(lambda: answers.get("ann") is not None, timeout=20)
        assert answers["ann"] == "I am a language model."
        page.get_by_role("button", name="Send anyway").wait_for(state="detached", timeout=10_000)
        assert written and all(written), written
        thread.join(20)
        page.close()
