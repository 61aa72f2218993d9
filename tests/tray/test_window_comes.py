"""The window comes to the operator: a request opens it when none is open; with one open (a real
Chromium page on /ui) nothing more opens, and a click on the notification brings that one forward."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from human_chat_completions.config import Settings
from human_chat_completions.tray.controller import ServerController
from tests.support import OPERATOR_TOKEN, free_port, wait_until
from tests.tray.conftest import Recorder
from tests.tray.test_menu import ask
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, open_window, wait_for_text


@pytest.fixture
def controller(tmp_path: Path, browser: Recorder) -> Iterator[ServerController]:
    controller = ServerController(Settings(port=free_port(), language="en"),
                                  data_path=tmp_path / "data", token=OPERATOR_TOKEN)
    controller.launch()
    assert controller.start()
    yield controller
    controller.shutdown()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_a_request_opens_the_window_when_none_is_open(controller: ServerController,
                                                      browser: Recorder):
    assert Settings().open_window_on_request  # on by default
    results: list = []
    ask(controller, "is anyone there?", results)
    ask(controller, "hello?", results)
    wait_until(lambda: controller.waiting == 2, timeout=15)
    wait_until(lambda: browser.lines() == [controller.window_url], timeout=10)
    assert controller.runtime.windows.count == 0  # the recording browser opened nothing real


def test_a_click_on_the_notification_opens_a_window_only_when_none_is_open(
        controller: ServerController, browser: Recorder):
    controller.change_settings(open_window_on_request=False).result(10)
    results: list = []
    ask(controller, "hello?", results)
    wait_until(lambda: controller.waiting == 1, timeout=15)
    assert browser.lines() == []  # the setting turns the opening off
    exchange = controller.runtime.switchboard.waiting()[0]
    controller._on_notification_clicked(exchange.conversation_id)
    wait_until(lambda: browser.lines() == [controller.window_url], timeout=10)


@pytest.mark.browser
def test_with_a_window_open_a_request_opens_none_and_a_click_brings_it_forward(
        controller: ServerController, browser: Recorder, chromium: Browser):
    page = open_window(chromium, controller.base_url)
    try:
        wait_until(lambda: controller.runtime.windows.count == 1, timeout=15)
        results: list = []
        ask(controller, "first", results)
        ask(controller, "second question here", results)
        wait_until(lambda: controller.waiting == 2, timeout=15)
        wait_for_text(page, "second question here")
        page.wait_for_timeout(500)
        assert browser.lines() == []  # no second window
        newest = controller.runtime.switchboard.waiting()[-1]
        controller._on_notification_clicked(newest.conversation_id)
        page.wait_for_timeout(1000)
        assert browser.lines() == []  # the open one came forward instead
        # ... showing the conversation the notification was about.
        selected = controller.call(_selected(controller), 10)
        assert selected == [newest.conversation_id]
    finally:
        page.close()
    # Once the tab is closed, the window no longer counts: the next request opens one.
    wait_until(lambda: controller.runtime.windows.count == 0, timeout=15)
    ask(controller, "third", [])
    wait_until(lambda: browser.lines() == [controller.window_url], timeout=15)


async def _selected(controller: ServerController) -> list[str | None]:
    """The conversation each open window shows (read on the loop)."""
    windows = controller.runtime.windows
    return [window.console.state.selected for window in windows._windows]
