"""Live status in the operator window: timers that keep ticking whatever redraws, the longest
wait in amber then red, the waiting count in the title, abandoned conversations told apart from
answered ones, and a new-request notice that keeps off the editor."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable
from contextlib import closing

import httpx
import openai
from PIL import Image
from playwright.sync_api import Page

from human_chat_completions.config import Settings
from human_chat_completions.core import Switchboard
from human_chat_completions.ui import theme
from human_chat_completions.ui.conversation_list import wait_level
from human_chat_completions.ui.viewmodel import OperatorState
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import open_window, screenshot, wait_for_text
from tests.ui.test_operator_window import StreamingParticipant, conversation


def wait_for(page: Page, condition: Callable[[], object], timeout: float = 10) -> object:
    """Poll `condition` while the page keeps running; its first truthy value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"condition not met within {timeout}s")


def painted(page: Page) -> None:
    """Before a picture for the eye (never before an assertion): Flutter paints off the main
    thread, and under load the pixels trail the semantics tree by a second or more."""
    page.wait_for_timeout(1500)


def row_text(page: Page, label: str) -> str:
    return conversation(page, label).text_content() or ""


def timer(page: Page, label: str) -> int:
    """The row's waiting timer, in seconds."""
    match = re.search(r"(\d+):(\d\d)", row_text(page, label))
    assert match, row_text(page, label)
    return int(match.group(1)) * 60 + int(match.group(2))


def ticks(page: Page, label: str) -> int:
    """Read the timer twice, a tick apart: the second reading must be later."""
    first = timer(page, label)
    return wait_for(page, lambda: (now := timer(page, label)) > first and now, timeout=4)  # type: ignore[return-value]


def colour_pixels(page: Page, label: str, colour: str, tolerance: int = 24) -> int:
    """Pixels of the row drawn in (nearly) `colour`, #RRGGBB."""
    box = conversation(page, label).bounding_box()
    assert box
    target = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    image = Image.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB")
    return sum(1 for pixel in image.get_flattened_data()
               if all(abs(a - b) <= tolerance for a, b in zip(pixel, target, strict=True)))


def boxes(page: Page, text: str) -> list[dict]:
    """On-screen rectangles of the smallest semantics nodes that hold `text` (a canned reply's
    chip also names its key: "Alt+1 …")."""
    return page.evaluate("""(text) => {
        const label = e => e.getAttribute('aria-label') || e.textContent || '';
        const holding = [...document.querySelectorAll('flt-semantics-host *')]
            .filter(e => label(e).includes(text));
        return holding.filter(e => !holding.some(inner => inner !== e && e.contains(inner)))
            .map(e => e.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0)
            .map(r => ({x: r.x, y: r.y, width: r.width, height: r.height}));
    }""", text)


def overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
        a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


# -- without a browser ------------------------------------------------------------------------------


def test_wait_levels():
    assert [wait_level(s, 30, 60) for s in (0, 29.9, 30, 59, 60, 600)] == \
        ["ok", "ok", "warn", "warn", "alert", "alert"]


def test_a_conversation_whose_client_left_is_not_shown_as_answered():
    board = Switchboard()
    answered = board.open({"messages": [{"role": "user", "content": "a"}]}, stream=True, identity="a")
    left = board.open({"messages": [{"role": "user", "content": "b"}]}, stream=True, identity="b")
    board.reply(answered.id, "ok", done=True)
    board.attach(left)
    board.detach(left)  # the client went away
    rows = {row.label: row.status for row in OperatorState().rows(board)}
    assert rows == {"a": "idle", "b": "abandoned"}


# -- in the window ----------------------------------------------------------------------------------


def test_timers_tick_after_a_click_and_after_a_new_request(tmp_path, browser):
    with RunningServer(tmp_path / "data", Settings(language="en")) as server:
        page = open_window(browser, server.base)
        asked = time.monotonic()
        alice = StreamingParticipant(server.base, "alice", "Is anyone there?")
        wait_for_text(page, "alice")
        ticks(page, "alice")
        conversation(page, "alice").click()  # the click redraws the list: the timer goes on
        wait_for_text(page, "Is anyone there?")
        ticks(page, "alice")
        assert wait_for(page, lambda: "(1)" in page.title())
        bob = StreamingParticipant(server.base, "bob", "Hello?")
        wait_for_text(page, "bob")  # a new request redraws it again
        assert ticks(page, "alice") >= int(time.monotonic() - asked) - 2  # never back to 0:00
        ticks(page, "bob")
        assert wait_for(page, lambda: "(2)" in page.title())  # the waiting count in the title
        painted(page)
        screenshot(page, "live-status-timers-en-1280")
        with closing(Operator(server.base)) as operator:
            for exchange in operator.exchanges("waiting"):
                operator.reply(exchange["id"], "Yes.")
        assert alice.text() == bob.text() == "Yes."
        assert wait_for(page, lambda: page.title() == "Human Chat Completions")
        page.close()


def test_the_longest_wait_turns_amber_then_red(tmp_path, browser):
    settings = Settings(language="en", wait_warn_seconds=2, wait_alert_seconds=5)
    with RunningServer(tmp_path / "data", settings) as server:
        page = open_window(browser, server.base)
        StreamingParticipant(server.base, "early", "First!")
        wait_for_text(page, "early")
        amber = theme.LIGHT.tertiary
        wait_for(page, lambda: "waiting long" in row_text(page, "early"), timeout=6)
        wait_for(page, lambda: colour_pixels(page, "early", amber) > 300)  # the row's amber border
        StreamingParticipant(server.base, "late", "Second.")
        wait_for_text(page, "late")
        painted(page)
        screenshot(page, "live-status-amber-en-1280")
        wait_for(page, lambda: "waiting too long" in row_text(page, "early"), timeout=6)
        wait_for(page, lambda: colour_pixels(page, "early", theme.LIGHT.error) > 300)  # now red
        assert colour_pixels(page, "early", amber) < 100
        # Only the longest wait is marked: the later participant waits plainly for now.
        assert "waiting long" not in row_text(page, "late")
        assert colour_pixels(page, "late", amber) < 100
        screenshot(page, "live-status-red-en-1280")
        server.on_loop(lambda: server.runtime.switchboard.fail_all_open("test over"))
        page.close()


def test_a_new_request_notice_keeps_off_the_editor_and_the_canned_replies(tmp_path, browser):
    settings = Settings(language="en")
    with RunningServer(tmp_path / "data", settings) as server:
        page = open_window(browser, server.base)
        StreamingParticipant(server.base, "alice", "Question one")
        wait_for_text(page, "alice")
        conversation(page, "alice").click()
        wait_for_text(page, "Question one")
        StreamingParticipant(server.base, "bob", "Question two")
        notice = "New request from bob"
        [box] = wait_for(page, lambda: boxes(page, notice))  # type: ignore[misc]
        painted(page)
        screenshot(page, "live-status-notice-en-1280")
        editor = page.get_by_role("textbox", name="Reply").bounding_box()
        assert editor
        covered = [editor] + [found for text in settings.canned_replies for found in boxes(page, text)]
        assert len(covered) > len(settings.canned_replies)  # the canned replies were found
        assert not any(overlap(box, other) for other in covered)
        page.get_by_role("button", name=notice).click()  # the notice leads to the conversation
        wait_for_text(page, "Question two")
        wait_for(page, lambda: not boxes(page, notice), timeout=10)  # and it does not stay
        server.on_loop(lambda: server.runtime.switchboard.fail_all_open("test over"))
        page.close()


def test_abandoned_and_answered_conversations_look_different(tmp_path, browser):
    with RunningServer(tmp_path / "data", Settings(language="en")) as server, \
            closing(Operator(server.base)) as operator:
        page = open_window(browser, server.base)
        answered = StreamingParticipant(server.base, "answered", "Please reply")
        leaver = threading.Thread(target=leave_early, args=(server.base,))
        leaver.start()
        wait_for_text(page, "leaver")
        exchange = wait_until(lambda: next((e for e in operator.exchanges("waiting")
                                            if e["conversation"]["label"] == "answered"), None))
        operator.reply(exchange["id"], "Done.")
        assert answered.text() == "Done."
        leaver.join(10)
        wait_for(page, lambda: "client left" in row_text(page, "leaver"))
        assert "idle" in row_text(page, "answered") and "client left" not in row_text(page, "answered")
        painted(page)
        screenshot(page, "live-status-abandoned-en-1280")
        page.close()


def leave_early(base: str) -> None:
    """A participant whose app gives up waiting after a second."""
    with openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0,
                       timeout=httpx.Timeout(1.0)) as api:
        try:
            api.chat.completions.create(model="m", user="leaver",
                                        messages=[{"role": "user", "content": "Hello?"}])
        except openai.APITimeoutError:
            pass


def test_off_the_console_a_new_request_is_still_announced(tmp_path, browser):
    with RunningServer(tmp_path / "data", Settings(language="en")) as server:
        page = open_window(browser, server.base)
        wait_for_text(page, "Conversations")
        page.get_by_role("button", name="Logs").click()
        wait_for_text(page, "Exchange log")
        StreamingParticipant(server.base, "carol", "Hello from carol")
        wait_for_text(page, "New request from carol")  # a snack bar: the Logs page has no editor
        server.on_loop(lambda: server.runtime.switchboard.fail_all_open("test over"))
        page.close()
