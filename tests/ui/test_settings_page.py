"""The settings page in Chromium: Save stays and says so, problems in words, the real port, keys
made (shown once), used by the official client and revoked, and every control named."""

from __future__ import annotations

import json
import re
import threading

import openai
import pytest

from human_chat_completions.config import Settings, settings_path
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import focus_textbox, open_window, screen_text, screenshot, wait_for_text


def open_settings(browser, server: RunningServer, label: str = "Settings"):
    # Tall enough for the whole page: a click on a field Flutter must first scroll to can land
    # on the one drawn there before the scroll.
    page = open_window(browser, server.base, height=1700)
    page.get_by_role("button", name=label).click()
    wait_for_text(page, "listening on port" if label == "Settings" else "待ち受けています")
    return page


def replace_text(page, field: str, text: str) -> None:
    focus_textbox(page, field)
    page.keyboard.press("Control+a")
    page.keyboard.press("Backspace")
    page.keyboard.type(text, delay=20)
    page.wait_for_timeout(300)


def test_save_stays_on_the_page_and_confirms(tmp_path, browser):
    with RunningServer(tmp_path / "data", Settings(language="en")) as server:
        page = open_settings(browser, server)
        # The port shown is the one this server listens on (the settings say 8000).
        wait_for_text(page, f"This server is listening on port {server.port}.")
        replace_text(page, "Tokens per second", "42")
        replace_text(page, "Waiting row turns amber after (s)", "20")
        replace_text(page, "Waiting row turns red after (s)", "45")
        page.get_by_role("checkbox", name="Open this window when a request arrives").click()
        page.get_by_role("button", name="Save").click()
        wait_until(lambda: server.runtime.settings_store.current.tokens_per_second == 42)
        saved = json.loads(settings_path().read_text())
        assert (saved["tokens_per_second"], saved["wait_warn_seconds"], saved["wait_alert_seconds"],
                saved["open_window_on_request"]) == (42, 20, 45, False)
        wait_for_text(page, "Settings saved.")
        assert "Participant and client keys" in screen_text(page)  # still on the settings page
        page.wait_for_timeout(1500)
        assert "Settings saved." in screen_text(page)  # and it stays
        screenshot(page, "settings-saved-en")

        replace_text(page, "Port", "9123")
        screenshot(page, "settings-port-typed-en")
        page.get_by_role("button", name="Save").click()
        wait_until(lambda: server.runtime.settings_store.current.port == 9123)
        wait_for_text(page, "The new port applies after the server restarts.")
        wait_for_text(page, f"This server is listening on port {server.port}.")  # still this one
        page.close()


@pytest.mark.parametrize(("language", "nav", "expected"), [
    ("en", "Settings", "Check the values: Port: must be 65535 or less"),
    ("ja", "設定", "保存できませんでした。「ポート」は65535 以下にしてください。"),
])
def test_a_wrong_value_is_explained_in_words_in_the_window_language(tmp_path, browser, language,
                                                                    nav, expected):
    with RunningServer(tmp_path / "data", Settings(language=language)) as server:
        page = open_settings(browser, server, nav)
        replace_text(page, "Port" if language == "en" else "ポート", "70000")
        page.get_by_role("button", name="Save" if language == "en" else "保存").click()
        wait_for_text(page, expected)
        assert "less_than_equal" not in screen_text(page) and "port:" not in screen_text(page)
        assert server.runtime.settings_store.current.port == server.settings.port  # unchanged
        page.close()


def test_a_generated_participant_key_is_shown_once_and_works(tmp_path, browser):
    with RunningServer(tmp_path / "data", Settings(language="en")) as server:
        page = open_settings(browser, server)
        replace_text(page, "Participant name", "p-07")
        page.get_by_role("button", name="Generate participant key").click()
        wait_until(lambda: server.runtime.settings_store.current.participant_keys, timeout=10)
        [(key, participant)] = server.runtime.settings_store.current.participant_keys.items()
        assert participant == "p-07" and len(key) > 40
        assert json.loads(settings_path().read_text())["participant_keys"] == {key: "p-07"}
        wait_for_text(page, key)  # shown in full, this once
        wait_for_text(page, "Key for p-07 saved.")
        screenshot(page, "settings-new-key-en")

        # The official client, with that key, reaches the operator as participant p-07.
        with openai.OpenAI(base_url=server.base + "/v1", api_key=key, max_retries=0) as client:
            operator = Operator(server.base)
            try:
                answers: list[object] = []

                def ask() -> None:
                    try:
                        answers.append(client.chat.completions.create(
                            model="human", messages=[{"role": "user", "content": "hi"}],
                        ).choices[0].message.content)
                    except Exception as error:  # noqa: BLE001 - the test reads it
                        answers.append(error)

                thread = threading.Thread(target=ask)
                thread.start()
                [exchange] = operator.wait_for(1)
                assert exchange["conversation"]["label"] == "p-07"
                operator.reply(exchange["id"], "hello p-07")
                thread.join(20)
                assert answers == ["hello p-07"]
            finally:
                operator.close()
        with openai.OpenAI(base_url=server.base + "/v1", api_key="not-a-key",
                           max_retries=0) as stranger, pytest.raises(openai.AuthenticationError):
            stranger.chat.completions.create(model="human",
                                             messages=[{"role": "user", "content": "hi"}])

        # Away and back: masked from now on.
        page.get_by_role("button", name=re.compile("^Conversations")).click()
        page.get_by_role("button", name="Settings").click()
        wait_for_text(page, f"Participant p-07: {key[:10]}…")
        assert key not in screen_text(page)

        page.get_by_role("button", name="Revoke p-07's key").click()
        wait_until(lambda: not server.runtime.settings_store.current.participant_keys, timeout=10)
        wait_for_text(page, "p-07's key revoked.")
        page.close()


def test_a_generated_client_key_is_saved_and_shown_once(tmp_path, browser):
    with RunningServer(tmp_path / "data", Settings(language="en")) as server:
        page = open_settings(browser, server)
        page.get_by_role("button", name="Generate client key").click()
        wait_until(lambda: server.runtime.settings_store.current.client_api_keys, timeout=10)
        [key] = server.runtime.settings_store.current.client_api_keys
        wait_for_text(page, key)
        page.get_by_role("button", name="Copy key").click()
        wait_for_text(page, "Key copied.")
        page.close()


# Roles whose element a screen reader announces by name: each needs one.
NAMELESS = """() => {
    const host = document.querySelector('flt-semantics-host');
    const roles = ['button', 'textbox', 'combobox', 'checkbox', 'radio', 'slider', 'switch',
                   'link', 'menuitem', 'tab'];
    const missing = [];
    host.querySelectorAll('*').forEach(e => {
        const role = e.getAttribute('role') || (['INPUT', 'TEXTAREA'].includes(e.tagName) ? 'textbox' : '');
        if (!roles.includes(role)) return;
        const name = (e.getAttribute('aria-label') || e.innerText || e.getAttribute('placeholder') || '').trim();
        if (!name) missing.push(role + ' ' + e.outerHTML.slice(0, 160));
    });
    return missing;
}"""


@pytest.mark.parametrize(("language", "nav"), [("en", "Settings"), ("ja", "設定")])
def test_every_control_on_the_settings_page_has_a_name(tmp_path, browser, language, nav):
    settings = Settings(language=language, participant_keys={"hcc-abcdefghijklmnop": "p-01"},
                        client_api_keys=["hcc-client-key-0123456789"])
    with RunningServer(tmp_path / "data", settings) as server:
        page = open_settings(browser, server, nav)
        page.wait_for_timeout(800)
        # Scroll through the page: Flutter exposes only what is laid out near the screen.
        for _ in range(8):
            assert page.evaluate(NAMELESS) == []
            page.mouse.move(640, 400)
            page.mouse.wheel(0, 500)
            page.wait_for_timeout(300)
        assert page.evaluate(NAMELESS) == []
        text = screen_text(page)
        for name in (["Language", "Theme", "Default mode for new conversations", "Delivery style",
                      "Send with", "Human: then", "Revoke p-01's key"] if language == "en" else
                     ["言語", "テーマ", "新しい会話の既定モード", "返信の届け方", "送信キー", "人間：その後の対応",
                      "p-01 のキーを無効にする"]):
            assert name in text, name
        page.close()
