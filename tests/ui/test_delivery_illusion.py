"""Delivery that keeps the illusion, in the real window: nothing leaves before Send by default,
and live typing never shows the participant a typo being fixed or kana being converted."""

from __future__ import annotations

import time

from human_chat_completions.config import Settings
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import focus_textbox, open_window, screenshot, type_text, wait_for_text
from tests.ui.test_operator_window import StreamingParticipant, conversation

EDITOR_FOCUSED = "() => document.activeElement && document.activeElement.tagName === 'TEXTAREA'"
EDITOR_EMPTY = "() => document.activeElement.value === ''"


def open_conversation(page, label: str, question: str) -> None:
    wait_for_text(page, label)
    conversation(page, label).click()
    wait_for_text(page, question)
    focus_textbox(page, "Reply")


def record(server: RunningServer) -> dict:
    operator = Operator(server.base)
    try:
        [exchange] = operator.exchanges()
        return exchange
    finally:
        operator.close()


def hold(seconds: float) -> None:
    """Let time pass on purpose: what must not happen would have happened by now."""
    time.sleep(seconds)


def test_paced_default_delivers_nothing_before_send(tmp_path, browser):
    assert Settings().delivery_style == "paced"
    with RunningServer(tmp_path / "data", Settings(language="en", first_token_delay=0.1)) as server:
        page = open_window(browser, server.base)
        participant = StreamingParticipant(server.base, "paula", "What is a haiku?")
        open_conversation(page, "paula", "What is a haiku?")
        type_text(page, "A short poem. Three lines, five seven five.", delay=20)
        wait_until(lambda: record(server)["timestamps"]["first_keystroke_at"], timeout=10)
        hold(Settings().live_idle_seconds * 2)  # long enough for live typing to have released
        exchange = record(server)
        assert exchange["delivery_style"] == "paced" and exchange["outcome"] == "waiting"
        assert exchange["final"] == "" and participant.received == ""
        page.keyboard.press("Enter")
        assert participant.text() == "A short poem. Three lines, five seven five."
        assert len(participant.deltas) >= 5  # at an LLM-like pace, not in one piece
        page.close()


def test_a_typo_corrected_before_release_never_reaches_the_client_in_live_mode(tmp_path, browser):
    settings = Settings(language="en", delivery_style="live", live_idle_seconds=1.5)
    with RunningServer(tmp_path / "data", settings) as server:
        page = open_window(browser, server.base)
        participant = StreamingParticipant(server.base, "tom", "Say good morning")
        open_conversation(page, "tom", "Say good morning")
        type_text(page, "Good mornign ", delay=20)
        for _ in range(3):  # noticed at once: fixed within the pause
            page.keyboard.press("Backspace")
        type_text(page, "ng everyone", delay=20)
        # After the pause the finished words go out; the unfinished one stays editable.
        wait_until(lambda: participant.received == "Good morning ", timeout=10)
        wait_for_text(page, "Delivered (locked)")
        screenshot(page, "console-live-released-en-1280")
        type_text(page, "!", delay=20)
        page.keyboard.press("Enter")
        assert participant.text() == "Good morning everyone!"
        assert all("mornign" not in text for _, text in participant.deltas)
        assert record(server)["final"] == "Good morning everyone!"
        page.close()


def test_ime_composition_never_reaches_the_client_in_live_mode(tmp_path, browser):
    idle = 0.5
    settings = Settings(language="en", delivery_style="live", live_idle_seconds=idle)
    with RunningServer(tmp_path / "data", settings) as server:
        page = open_window(browser, server.base)
        participant = StreamingParticipant(server.base, "hana", "What does HCC stand for?")
        open_conversation(page, "hana", "What does HCC stand for?")
        type_text(page, "It is ", delay=20)
        wait_until(lambda: participant.received == "It is ", timeout=10)
        page.wait_for_function(EDITOR_EMPTY)  # the released words left the editor
        cdp = page.context.new_cdp_session(page)
        # The operator types kana and stops to choose a conversion, far longer than the pause.
        cdp.send("Input.imeSetComposition", {"text": "えいち", "selectionStart": 3, "selectionEnd": 3})
        page.wait_for_function("() => document.activeElement.value.includes('えいち')")
        hold(idle * 4)
        assert participant.received == "It is "
        cdp.send("Input.insertText", {"text": "HCC"})  # the converted word is committed
        type_text(page, " ", delay=20)
        wait_until(lambda: participant.received == "It is HCC ", timeout=10)
        page.wait_for_function(EDITOR_EMPTY)
        # A composition holding punctuation, and converted kanji not yet committed, stay too.
        cdp.send("Input.imeSetComposition",
                 {"text": "きょうは、いい", "selectionStart": 7, "selectionEnd": 7})
        page.wait_for_function("() => document.activeElement.value.includes('きょうは、いい')")
        hold(idle * 3)
        cdp.send("Input.imeSetComposition",
                 {"text": "今日は、いい", "selectionStart": 6, "selectionEnd": 6})
        hold(idle * 3)
        assert participant.received == "It is HCC "
        cdp.send("Input.insertText", {"text": "今日は、いい天気"})
        page.wait_for_function("() => document.activeElement.value.includes('天気')")
        page.keyboard.press("Enter")
        assert participant.text() == "It is HCC 今日は、いい天気"
        sent = [text for _, text in participant.deltas]
        assert not any(kana in text for text in sent for kana in ("えいち", "きょう"))
        page.close()


def test_a_canned_reply_inserts_at_the_cursor_without_sending(tmp_path, browser):
    settings = Settings(language="en", canned_replies=["One moment please.", "Tell me more."])
    with RunningServer(tmp_path / "data", settings) as server:
        page = open_window(browser, server.base)
        participant = StreamingParticipant(server.base, "cara", "Can you help?")
        open_conversation(page, "cara", "Can you help?")
        type_text(page, "Sure. Thanks!", delay=20)
        for _ in range(len("Thanks!")):
            page.keyboard.press("ArrowLeft")
        page.wait_for_function("() => document.activeElement.selectionStart === 6")
        page.wait_for_timeout(300)  # the caret's move reaches the server a moment after the key
        page.keyboard.press("Alt+2")  # at the caret, between the two sentences
        page.wait_for_function("() => document.activeElement.value.includes('Tell me more.')")
        page.get_by_role("button", name="One moment please.").click()  # at the caret again
        # The click gives the focus back to the editor, and it stays there.
        page.wait_for_function(EDITOR_FOCUSED, timeout=10_000)
        hold(1.0)
        assert page.evaluate(EDITOR_FOCUSED)
        exchange = record(server)
        assert exchange["outcome"] == "waiting" and exchange["final"] == ""
        assert participant.received == ""
        page.keyboard.press("Enter")
        assert participant.text() == "Sure. Tell me more. One moment please. Thanks!"
        page.close()
