"""The window from 800 × 500 to 2560 × 1440: the transcript and the editor always show; below
1000 px the conversation list is a drawer, open while nothing is chosen and from the rail's
menu button."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from human_chat_completions.config import Settings
from tests.support import Operator, RunningServer
from tests.ui.browser import open_window, screen_text, screenshot, wait_for_text
from tests.ui.test_operator_window import StreamingParticipant

QUESTION = "こんにちは 🍜🏯☔ 駅の近くでおすすめのラーメン屋さんはありますか？"
FOLLOW_UP = ("Can you summarise this article in three bullet points?\nIt is about "
             "keeping a Wizard-of-Oz study believable for a whole hour. 😀👍")
MENU = {"en": "Conversations list", "ja": "会話の一覧"}
PLACEHOLDER = {"en": "Select a conversation", "ja": "左の一覧から会話を選んでください"}


def box(page: Page, needle: str) -> dict[str, float] | None:
    """Where the smallest semantics node whose text holds `needle` is, if on screen."""
    return page.evaluate(
        """(needle) => {
        const label = e => e.getAttribute('aria-label') || e.textContent || '';
        const hit = [...document.querySelectorAll('flt-semantics-host *')]
            .filter(e => label(e).includes(needle))
            .map(e => e.getBoundingClientRect())
            .filter(r => r.width > 0 && r.height > 0)
            .sort((a, b) => a.width * a.height - b.width * b.height)[0];
        return hit ? {x: hit.x, y: hit.y, width: hit.width, height: hit.height} : null;
    }""", needle)


def settled_screenshot(page: Page, name: str) -> None:
    """A picture of a finished frame. On a busy machine the canvas lags the semantics: Flet's
    nearly blank "Working..." screen (a PNG of a few KB) can still show seconds after the
    window's nodes exist, and a frame can be one behind; so wait for a full picture, then for
    two that agree (the timers tick each second: a few tries)."""
    previous = page.screenshot()
    for _ in range(30):
        page.wait_for_timeout(300)
        current = page.screenshot()
        if current == previous and len(current) > 10_000:
            break
        previous = current
    screenshot(page, name)


def row(page: Page, label: str):
    return page.get_by_role("button", name=re.compile("^" + re.escape(label))).first


@contextmanager
def two_participants(tmp_path, language: str, theme: str) -> Iterator[RunningServer]:
    with RunningServer(tmp_path / f"data-{language}-{theme}",
                       Settings(language=language, theme=theme)) as server:
        waiting = [StreamingParticipant(server.base, "参加者-01", QUESTION),
                   StreamingParticipant(server.base, "participant-02", FOLLOW_UP)]
        yield server
        operator = Operator(server.base)
        for exchange in operator.wait_for(2):
            operator.reply(exchange["id"], "ok")
        operator.close()
        assert [p.text() for p in waiting] == ["ok", "ok"]


def choose(page: Page, language: str, label: str, other: str, expect: str, narrow: bool,
           shot: str = "", from_menu: bool = False) -> None:
    """Click `label`'s row and wait for `expect` in the transcript; when narrow, the drawer then
    closes (`other`'s row leaves the screen)."""
    if from_menu:
        assert box(page, label) is None, "the list should wait in the closed drawer"
        page.get_by_role("button", name=MENU[language]).click()
    wait_for_text(page, label)  # narrow with nothing chosen yet: the drawer is open
    if narrow and shot:
        # The first frame that draws emoji decodes their bitmaps: it can lag the semantics by a
        # second on a busy machine.
        page.wait_for_timeout(2000)
        settled_screenshot(page, shot + "-drawer")
    # The list redraws every second (its timers tick): a click can meet a row's node just as it
    # is replaced and be lost, as a tap on a reflowing page can; tap again, as a person would.
    # Chosen means: wide, the transcript's "select a conversation" prompt left; narrow, the
    # drawer closed (`other`'s row left the screen). `expect` alone can match a row's preview.
    gone = PLACEHOLDER[language] if not narrow else other
    for attempt in range(3):
        row(page, label).click()
        try:
            page.wait_for_function("(gone) => !document.querySelector('flt-semantics-host')"
                                   ".textContent.includes(gone)", arg=gone, timeout=5_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    wait_for_text(page, expect)


def assert_transcript_and_editor_show(page: Page, width: int, height: int) -> None:
    bubble = box(page, "おすすめのラーメン屋さん")
    assert bubble is not None, screen_text(page)
    assert bubble["height"] >= 14 and bubble["y"] >= 0 and bubble["y"] + bubble["height"] <= height, \
        bubble
    editor = page.get_by_role("textbox", name=re.compile("Reply|返信")).bounding_box()
    assert editor and editor["y"] + editor["height"] <= height and editor["width"] >= 300, editor


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("language", ["en", "ja"])
def test_screens_at_800_x_500_and_1920_x_1080(tmp_path, browser: Browser, language: str, theme: str):
    with two_participants(tmp_path, language, theme) as server:
        for width, height in ((800, 500), (1920, 1080)):
            page = open_window(browser, server.base, width=width, height=height)
            page.wait_for_timeout(800)  # the console measures itself, then lays out
            name = f"layout-{language}-{theme}-{width}x{height}"
            choose(page, language, "参加者-01", "participant-02", "おすすめのラーメン屋さん",
                   narrow=width < 1000, shot=name)
            page.wait_for_timeout(1200)  # the bundled fonts arrive after the first frame
            assert_transcript_and_editor_show(page, width, height)
            settled_screenshot(page, name)
            page.close()


def test_the_list_follows_the_window_size_up_to_2560_x_1440(tmp_path, browser: Browser):
    with two_participants(tmp_path, "en", "light") as server:
        page = open_window(browser, server.base, width=2560, height=1440)
        choose(page, "en", "参加者-01", "participant-02", "おすすめのラーメン屋さん", narrow=False)
        assert_transcript_and_editor_show(page, 2560, 1440)
        page.wait_for_timeout(1000)
        settled_screenshot(page, "layout-en-light-2560x1440")
        page.set_viewport_size({"width": 800, "height": 500})
        page.wait_for_function("() => !document.querySelector('flt-semantics-host')"
                               ".textContent.includes('participant-02')", timeout=10_000)
        assert_transcript_and_editor_show(page, 800, 500)  # the choice survives the resize
        choose(page, "en", "participant-02", "参加者-01", "three bullet points", narrow=True,
               from_menu=True)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.get_by_role("button", name=MENU["en"]).wait_for(state="detached", timeout=10_000)
        wait_for_text(page, "参加者-01")  # wide again: the list is back beside the transcript
        page.close()
