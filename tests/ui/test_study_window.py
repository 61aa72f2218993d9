"""A study in the window: each conversation wears its condition, the persona shows above the
transcript (never to the participant), the list keeps to one condition, and a reply with a guard
phrase waits for the operator's confirmation."""

from __future__ import annotations

import json
import threading

import openai
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from typer.testing import CliRunner

from human_chat_completions.cli import app
from human_chat_completions.config import Settings
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import focus_textbox, open_window, screen_text, type_text, wait_for_text
from tests.ui.test_layout import row, settled_screenshot
from tests.ui.test_settings_page import replace_text

STUDY = """
name = "aiko"
participants = ["ann", "ben"]
assignment = "fixed"
[conditions.warm]
mode = "human"
persona = "You are Aiko, a cheerful assistant."
first_token_ms = 100
tokens_per_second = 200
[conditions.cool]
mode = "human"
persona = "You are Aiko, a terse assistant."
[guard]
phrases = ["openai", "language model"]
"""


def load_study(tmp_path, text: str = STUDY, name: str = "aiko") -> dict[str, str]:
    """Load a study through the CLI; its participants' keys by participant."""
    (tmp_path / f"{name}.toml").write_text(text)
    runner = CliRunner()
    assert runner.invoke(app, ["study", "load", str(tmp_path / f"{name}.toml")]).exit_code == 0
    listed = runner.invoke(app, ["study", "participants", name, "--json"]).stdout
    return {p["participant"]: p["key"] for p in json.loads(listed)}


def ask(base: str, key: str, text: str, answers: dict[str, str], name: str) -> threading.Thread:
    def run() -> None:
        with openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=60) as api:
            try:
                stream = api.chat.completions.create(model="m", stream=True,
                                                     messages=[{"role": "user", "content": text}])
                answers[name] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            except openai.APIError as error:  # a failed test stops the server under it
                answers[name + " failed"] = str(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def pick(page: Page, dropdown: str, option: str) -> None:
    """Open a dropdown and choose an option; the list redraws each second (its timers), and a
    click that meets a node being replaced is lost, so open it again if the menu did not come."""
    for attempt in range(3):
        page.get_by_role("button", name=dropdown, exact=True).click()
        try:
            page.get_by_role("button", name=option, exact=True).click(timeout=5_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


def test_condition_badge_persona_filter_and_guard(tmp_path, browser):
    keys = load_study(tmp_path)
    answers: dict[str, str] = {}
    with RunningServer(tmp_path / "data", Settings(language="en", delivery_style="paced")) as server:
        threads = [ask(server.base, keys["ann"], "Who made you?", answers, "ann"),
                   ask(server.base, keys["ben"], "Hello there", answers, "ben")]
        operator = Operator(server.base)
        operator.wait_for(2)
        page = open_window(browser, server.base, width=1280, height=900)
        wait_for_text(page, "ann")
        wait_for_text(page, "cool")  # ben's badge
        assert "warm" in screen_text(page)
        assert "must be visible" not in screen_text(page)  # no control refused by Flet
        settled_screenshot(page, "study-badges")

        # The list keeps to one condition.
        pick(page, "Condition", "cool")
        page.wait_for_function("() => !document.querySelector('flt-semantics-host')"
                               ".textContent.includes('Who made you')", timeout=10_000)
        assert "Hello there" in screen_text(page)
        pick(page, "Condition", "All conditions")
        wait_for_text(page, "Who made you")

        row(page, "ann").click()
        wait_for_text(page, "Persona (not shown to the participant): You are Aiko, a cheerful")
        wait_for_text(page, "Condition warm (aiko)")
        focus_textbox(page, "Reply")
        type_text(page, "I was trained by OpenAI.")
        page.keyboard.press("Enter")
        wait_for_text(page, "This reply may break the illusion")
        wait_for_text(page, "guard phrase “openai”")
        settled_screenshot(page, "study-guard")
        record = next(e for e in operator.exchanges() if e["participant"] == "ann")
        assert (record["guard_phrase"], record["guard_action"]) == ("openai", "held")
        assert "ann" not in answers  # nothing went

        page.get_by_role("button", name="Keep editing").click()
        page.get_by_role("button", name="Send anyway").wait_for(state="detached", timeout=10_000)
        page.keyboard.press("Enter")  # still the same words: asked again, and this time sent
        page.get_by_role("button", name="Send anyway").click()
        wait_until(lambda: answers.get("ann") is not None, timeout=20)
        assert answers["ann"] == "I was trained by OpenAI."
        record = next(e for e in operator.exchanges() if e["participant"] == "ann")
        assert record["guard_action"] == "forced" and record["condition"] == "warm"
        operator.reply(next(e["id"] for e in operator.exchanges("waiting")), "Hi!")
        for thread in threads:
            thread.join(20)
        operator.close()
        page.close()
    assert "cheerful" not in json.dumps(answers)  # the persona never reached a participant


def test_the_settings_page_loads_a_study_and_lists_its_keys(tmp_path, browser):
    (tmp_path / "aiko.toml").write_text(STUDY)
    (tmp_path / "broken.toml").write_text('name = "x"\nparticipants = 0\n[conditions.a]\n')
    with RunningServer(tmp_path / "data", Settings(language="en")) as server:
        page = open_window(browser, server.base, height=2600)  # the whole page: no scrolling
        page.get_by_role("button", name="Settings").click()
        wait_for_text(page, "No study loaded")
        replace_text(page, "Study file (TOML) path", str(tmp_path / "broken.toml"))
        page.get_by_role("button", name="Load study").click()
        wait_for_text(page, "participants: give a number (1 or more) or a list")  # the CLI's words
        replace_text(page, "Study file (TOML) path", str(tmp_path / "aiko.toml"))
        page.get_by_role("button", name="Load study").click()
        wait_for_text(page, "Loaded aiko: 2 participants.")
        wait_for_text(page, "aiko: 2 participants, fixed, seed 0")
        keys = json.loads(CliRunner().invoke(app, ["study", "participants", "aiko", "--json"]).stdout)
        text = screen_text(page)
        assert all(p["key"] in text and p["condition"] in text for p in keys)
        page.get_by_role("button", name="Copy ann's key").click()
        wait_for_text(page, "Key copied.")
        settled_screenshot(page, "study-settings")
        page.close()
