"""Several operators in windows: a named operator's token opens the window as them; typing claims
the exchange; one held by another operator waits for an explicit take-over, and the reply carries
the name of who wrote it."""

from __future__ import annotations

import threading

import httpx
import openai
import pytest
from playwright.sync_api import sync_playwright

from human_chat_completions import operators
from human_chat_completions.config import Settings
from tests.support import Operator, RunningServer, free_port, wait_until
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, focus_textbox, open_window, type_text, wait_for_text
from tests.ui.test_layout import row, settled_screenshot
from tests.ui.test_remote_operator import HOST, remote_address  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser]


def test_bob_in_his_window_takes_over_from_alice_and_his_name_goes_on_the_reply(
        tmp_path, remote_address):  # noqa: F811
    alice, bob = operators.add("Alice"), operators.add("Bob")
    answer: dict[str, str] = {}

    def participant(base: str) -> None:
        with openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0, timeout=60) as api:
            reply = api.chat.completions.create(model="m", user="p-7",
                                                messages=[{"role": "user", "content": "Anyone?"}])
            answer["text"] = reply.choices[0].message.content or ""

    with RunningServer(tmp_path / "data", Settings(language="en", delivery_style="paced"),
                       port=free_port(), host=HOST) as server, sync_playwright() as playwright:
        asking = threading.Thread(target=participant, args=(server.base,), daemon=True)
        asking.start()
        watcher = Operator(server.base)
        [exchange] = watcher.wait_for(1)
        claimed = httpx.post(f"{server.base}/operator/api/exchanges/{exchange['id']}/claim",
                             headers={"Authorization": f"Bearer {alice}"})
        assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "Alice"
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = open_window(browser, server.base)
            focus_textbox(page, "Token")
            type_text(page, bob, delay=5)
            page.get_by_role("button", name="Open").click()
            wait_for_text(page, "p-7")
            row(page, "p-7").click()
            wait_for_text(page, "Alice is answering this.")
            wait_for_text(page, "Signed in as Bob")
            assert page.get_by_role("textbox", name="Reply").is_disabled()
            settled_screenshot(page, "operators-held")
            page.get_by_role("button", name="Take over from Alice").click()
            page.get_by_role("button", name="Take over from Alice").wait_for(state="detached")
            assert watcher.exchange(exchange["id"])["claimed_by"] == "Bob"
            assert watcher.exchange(exchange["id"])["notice_code"] == "claim_taken_over"
            focus_textbox(page, "Reply")
            type_text(page, "Bob here, happy to help.")
            page.keyboard.press("Enter")
            asking.join(20)
            assert answer["text"] == "Bob here, happy to help."
            late = httpx.post(f"{server.base}/operator/api/exchanges/{exchange['id']}/reply",
                              headers={"Authorization": f"Bearer {alice}"}, json={"text": "me too"})
            assert late.status_code == 409
            record = wait_until(lambda: (found := watcher.exchange(exchange["id"]))["outcome"] == "done"
                                and found)
            assert (record["operator"], record["claimed_by"]) == ("Bob", "Bob")
        finally:
            browser.close()
            watcher.close()
