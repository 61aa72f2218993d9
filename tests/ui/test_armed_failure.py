"""A failure armed from the window for a conversation's next request: a streaming app, whose
response headers would otherwise go out at once, meets the real status (openai's RateLimitError);
the banner goes when it fires, and Cancel lets the next request through to the operator."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from human_chat_completions.config import Settings
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import open_window, screen_text, wait_for_text
from tests.ui.test_layout import row, settled_screenshot
from tests.ui.test_tools_window import click, client, in_thread

FIRST = [{"role": "user", "content": "Hello?"}]
ANSWERED = [*FIRST, {"role": "assistant", "content": "Hi there."}]


def armed(operator: Operator) -> dict[str, Any] | None:
    [conversation] = operator.http.get("/conversations").raise_for_status().json()
    return conversation["armed_failure"]


def streamed(api: openai.OpenAI, words: str) -> str:
    stream = api.chat.completions.create(
        model="m", user="armed-app", stream=True,
        messages=[*ANSWERED, {"role": "user", "content": words}])  # type: ignore[arg-type]
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_failure_armed_between_turns_reaches_a_streaming_app_as_its_status(tmp_path, browser, language):
    results: dict[str, Any] = {}
    names = {"en": ("Next request: Rate limit (429)", "Next request will get: Rate limit (429)",
                    "Next request: Unavailable (503)", "Cancel"),
             "ja": ("次のリクエスト：レート制限（429）", "次のリクエストに返すエラー：レート制限（429）",
                    "次のリクエスト：利用不可（503）", "取り消す")}[language]
    arm_429, banner_429, arm_503, cancel = names
    with RunningServer(tmp_path / "data", Settings(language=language)) as server:
        api = client(server.base)
        operator = Operator(server.base)
        thread = in_thread(lambda: api.chat.completions.create(model="m", user="armed-app", messages=FIRST),
                           results)
        [first] = operator.wait_for(1)
        operator.reply(first["id"], "Hi there.")
        thread.join(20)
        assert results["value"].choices[0].message.content == "Hi there."

        # Between turns: nothing is open, yet the menu arms the participant's next request.
        page = open_window(browser, server.base)
        wait_for_text(page, "armed-app")
        row(page, "armed-app").click()
        wait_for_text(page, "Hi there.")
        click(page, "button", {"en": "Inject an error", "ja": "エラーを起こす"}[language])
        wait_for_text(page, arm_429)
        now = {"en": "Rate limit (429)", "ja": "レート制限（429）"}[language]
        assert page.get_by_role("menuitem", name=now, exact=True).count() == 0  # no request to fail now
        settled_screenshot(page, f"armed-menu-{language}-1280")
        click(page, "menuitem", arm_429)
        wait_for_text(page, banner_429)
        assert armed(operator) == {"status": 429, "drop": False,
                                   "message": "Rate limit reached. Please try again later."}
        settled_screenshot(page, f"armed-banner-{language}-1280")
        if language == "ja":
            page.close()
            operator.close()
            return

        # The streaming request fails before its response starts: the status itself, no stream.
        with pytest.raises(openai.RateLimitError):
            streamed(api, "And now?")
        wait_until(lambda: banner_429 not in screen_text(page), timeout=15)
        assert armed(operator) is None
        failed = [e for e in operator.exchanges() if e["injected_error"] == "429"]
        assert len(failed) == 1 and failed[0]["conversation"]["id"] == first["conversation"]["id"]
        settled_screenshot(page, "armed-fired-en-1280")

        # Armed again, then cancelled: the next request reaches the operator and is answered.
        click(page, "button", "Inject an error")
        click(page, "menuitem", arm_503)
        wait_for_text(page, "Next request will get: Unavailable (503)")
        assert armed(operator) is not None
        click(page, "button", cancel)
        wait_until(lambda: armed(operator) is None, timeout=10)
        wait_until(lambda: "Next request will get" not in screen_text(page), timeout=10)
        results.clear()
        thread = in_thread(lambda: streamed(api, "Still there?"), results)
        [waiting] = operator.wait_for(1)
        assert waiting["conversation"]["id"] == first["conversation"]["id"]
        operator.reply(waiting["id"], "Yes.")
        thread.join(20)
        assert results.get("value") == "Yes.", results
        operator.close()
        page.close()
