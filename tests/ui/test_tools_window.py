"""Answers beyond text in the real window: a tool call from the form built from the tool's schema,
a JSON answer checked against the app's schema as it is typed, and an injected rate limit; each
reaches the official openai client as a provider's would."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

import openai
import pytest
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from pydantic import BaseModel

from human_chat_completions.config import Settings
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import focus_textbox, open_window, screen_text, type_text, wait_for_text
from tests.ui.test_layout import row, settled_screenshot

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city's name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "description": "How many days ahead"},
                "alerts": {"type": "boolean"},
            },
            "required": ["city", "days"],
        },
    },
}
SEARCH = {"type": "function", "function": {
    "name": "search_web", "description": "Search the web",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}


class Trip(BaseModel):
    city: str
    nights: int


def in_thread(call: Callable[[], Any], results: dict[str, Any]) -> threading.Thread:
    """The participant's app, waiting on its request while the operator answers in the window."""
    def run() -> None:
        try:
            results["value"] = call()
        except Exception as error:  # asserted on by the test
            results["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def client(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0, timeout=60)


def click(page: Page, role: str, name: str | re.Pattern[str], exact: bool = True) -> None:
    """A click can meet a node the window is redrawing (timers tick each second): try again."""
    for attempt in range(3):
        try:
            page.get_by_role(role, name=name, exact=exact).first.click(timeout=5_000)  # type: ignore[arg-type]
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


def fill(page: Page, name: str, text: str) -> None:
    focus_textbox(page, name)
    type_text(page, text, delay=20)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_tool_call_from_the_form_reaches_the_client(tmp_path, browser, language):
    results: dict[str, Any] = {}
    with RunningServer(tmp_path / "data", Settings(language=language, delivery_style="paced")) as server:
        api = client(server.base)
        thread = in_thread(lambda: api.chat.completions.create(
            model="m", user="agent-app", tools=[WEATHER, SEARCH],  # type: ignore[list-item]
            messages=[{"role": "user", "content": "Weather in Paris for 3 days?"}]), results)
        operator = Operator(server.base)
        [waiting] = operator.wait_for(1)
        page = open_window(browser, server.base)
        wait_for_text(page, "agent-app")
        row(page, "agent-app").click()
        wait_for_text(page, "search_web")
        assert "Current weather for a city" in screen_text(page)
        if language == "ja":
            wait_for_text(page, "アプリが提供するツール")
            click(page, "button", re.compile("^get_weather"), exact=False)
            wait_for_text(page, "city *")
            settled_screenshot(page, "tools-form-ja-1280")
            page.set_viewport_size({"width": 800, "height": 500})
            settled_screenshot(page, "tools-form-ja-800")
            page.close()
            operator.call_tools(waiting["id"], [{"name": "search_web", "arguments": {"query": "x"}}])
            thread.join(20)
            operator.close()
            return
        click(page, "button", re.compile("^get_weather"), exact=False)
        wait_for_text(page, "city *")  # required fields are marked
        assert "days *" in screen_text(page) and "The city's name" in screen_text(page)

        # Invalid: the required city is missing. The problem names the field; nothing waits or goes.
        fill(page, "days *", "3")
        click(page, "button", "Call tool")
        wait_for_text(page, "arguments.city: is required")
        assert "Calls to send" not in screen_text(page)
        settled_screenshot(page, "tools-invalid-en-1280")
        assert operator.exchange(waiting["id"])["outcome"] == "waiting"

        fill(page, "city *", "Paris")
        click(page, "button", "unit")  # the enum's dropdown
        click(page, "button", "celsius")
        click(page, "button", "Call tool")
        wait_for_text(page, "Calls to send")
        wait_for_text(page, '1. get_weather {"city": "Paris", "unit": "celsius", "days": 3}')
        settled_screenshot(page, "tools-pending-en-1280")
        page.set_viewport_size({"width": 800, "height": 500})
        settled_screenshot(page, "tools-pending-en-800")
        page.set_viewport_size({"width": 1280, "height": 800})

        fill(page, "Reply", "Let me check.")
        click(page, "button", "Send tool calls (1)")
        thread.join(20)
        assert "error" not in results, results.get("error")
        message = results["value"].choices[0].message
        assert results["value"].choices[0].finish_reason == "tool_calls"
        assert message.content == "Let me check."  # the text went first
        [call] = message.tool_calls
        assert call.function.name == "get_weather"
        assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius", "days": 3}
        assert operator.exchange(waiting["id"])["outcome"] == "done"
        wait_for_text(page, "Tool call: get_weather")  # the finished reply, as the app got it
        settled_screenshot(page, "tools-sent-en-1280")
        operator.close()
        page.close()


def test_the_tool_result_shows_in_the_transcript_and_a_required_tool_is_chosen(tmp_path, browser):
    results: dict[str, Any] = {}
    with RunningServer(tmp_path / "data", Settings(language="en")) as server:
        api = client(server.base)
        history = [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_abc", "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Oslo", "days": 1}'}}]},
            {"role": "tool", "tool_call_id": "call_abc", "content": "Snow, -3 °C"},
        ]
        thread = in_thread(lambda: api.chat.completions.create(
            model="m", user="oslo-app", tools=[WEATHER, SEARCH], messages=history,  # type: ignore[arg-type]
            tool_choice={"type": "function", "function": {"name": "search_web"}}), results)
        operator = Operator(server.base)
        [waiting] = operator.wait_for(1)
        page = open_window(browser, server.base)
        wait_for_text(page, "oslo-app")
        row(page, "oslo-app").click()
        wait_for_text(page, "Snow, -3 °C")
        text = screen_text(page)
        assert "get_weather · call_abc" in text  # the result names its tool and call
        assert '"city": "Oslo"' in text  # the earlier call, with its arguments
        assert "The app requires a call to search_web" in text
        wait_for_text(page, "query *")  # the required tool's form, already chosen
        assert page.get_by_role("button", name="Send", exact=True).is_disabled()  # text alone is no answer
        settled_screenshot(page, "tools-result-en-1280")
        fill(page, "query *", "Oslo weekend")
        click(page, "button", "Call tool")
        click(page, "button", "Send tool calls (1)")
        thread.join(20)
        [call] = results["value"].choices[0].message.tool_calls
        assert (call.function.name, json.loads(call.function.arguments)) == ("search_web", {"query": "Oslo weekend"})
        operator.close()
        page.close()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_json_answer_is_checked_as_typed_and_parsed_by_the_client(tmp_path, browser, language):
    results: dict[str, Any] = {}
    with RunningServer(tmp_path / "data", Settings(language=language, delivery_style="live")) as server:
        api = client(server.base)
        thread = in_thread(lambda: api.chat.completions.parse(
            model="m", user="json-app", response_format=Trip,
            messages=[{"role": "user", "content": "Plan a trip"}]), results)
        operator = Operator(server.base)
        [waiting] = operator.wait_for(1)
        page = open_window(browser, server.base)
        wait_for_text(page, "json-app")
        row(page, "json-app").click()
        label = {"en": "JSON answer", "ja": "JSON の回答"}[language]
        wait_for_text(page, label)
        if language == "ja":
            settled_screenshot(page, "tools-json-ja-1280")
            page.close()
            operator.reply(waiting["id"], '{"city": "Kyoto", "nights": 2}')
            thread.join(20)
            operator.close()
            return
        assert "It must match the schema Trip." in screen_text(page)
        fill(page, label, '{"city": "Kyoto", "nights": "two"}')
        wait_for_text(page, "nights: 'two' is not of type 'integer'")
        send = page.get_by_role("button", name="Send", exact=True)
        assert send.is_disabled()
        page.keyboard.press("Enter")  # Enter sends a reply: not this one
        page.wait_for_timeout(500)
        assert operator.exchange(waiting["id"])["outcome"] == "waiting"
        settled_screenshot(page, "tools-json-invalid-en-1280")
        page.set_viewport_size({"width": 800, "height": 500})
        settled_screenshot(page, "tools-json-invalid-en-800")
        page.set_viewport_size({"width": 1280, "height": 800})

        # The form fills the box with valid JSON.
        fill(page, "nights *", "2")
        fill(page, "city *", "Kyoto")
        click(page, "button", "Put in the reply box")
        wait_for_text(page, "Fits the schema.")
        wait_until(lambda: not send.is_disabled(), timeout=10)
        settled_screenshot(page, "tools-json-valid-en-1280")
        send.click()
        thread.join(20)
        assert "error" not in results, results.get("error")
        parsed = results["value"].choices[0].message.parsed
        assert parsed == Trip(city="Kyoto", nights=2)
        operator.close()
        page.close()


def test_the_fail_menu_sends_a_rate_limit(tmp_path, browser):
    results: dict[str, Any] = {}
    # A status can only be chosen while the response has not begun: a non-stream request's
    # headers wait for the operator here (by default they go after 3 s, then it is 200).
    with RunningServer(tmp_path / "data", Settings(language="en", nonstream_headers_after=120)) as server:
        api = client(server.base)
        thread = in_thread(lambda: api.chat.completions.create(
            model="m", user="fail-app", messages=[{"role": "user", "content": "Hello?"}]), results)
        operator = Operator(server.base)
        [waiting] = operator.wait_for(1)
        page = open_window(browser, server.base)
        wait_for_text(page, "fail-app")
        row(page, "fail-app").click()
        wait_for_text(page, "Hello?")
        click(page, "button", "Inject an error")
        click(page, "menuitem", "Rate limit (429)")
        wait_for_text(page, "Send “Rate limit (429)” to the app?")
        settled_screenshot(page, "tools-fail-confirm-en-1280")
        assert operator.exchange(waiting["id"])["outcome"] == "waiting"  # nothing before the word
        click(page, "button", "Send the error")
        thread.join(20)
        assert isinstance(results.get("error"), openai.RateLimitError), results
        wait_for_text(page, "Injected by the operator: 429")
        settled_screenshot(page, "tools-fail-injected-en-1280")
        record = operator.exchange(waiting["id"])
        assert record["injected_error"] == "429"
        click(page, "button", "Logs", exact=False)  # the log page names it too
        wait_for_text(page, "failed (429)")
        operator.close()
        page.close()
