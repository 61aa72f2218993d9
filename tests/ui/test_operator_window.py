"""End to end: an openai-python client asks, the operator answers in the real window."""

from __future__ import annotations

import re
import threading
import time

import openai

from human_chat_completions.config import Settings
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import focus_textbox, open_window, screenshot, type_text, wait_for_text


def conversation(page, label: str):
    """A row of the conversation list (a button whose label starts with the participant)."""
    return page.get_by_role("button", name=re.compile("^" + re.escape(label))).first


class StreamingParticipant:
    """A participant's chat app: one streaming request, recording each delta as it arrives."""

    def __init__(self, base: str, conversation: str, question: str) -> None:
        self.deltas: list[tuple[float, str]] = []
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(base, conversation, question))
        self._thread.start()

    def _run(self, base: str, conversation: str, question: str) -> None:
        try:
            with openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0) as api:
                stream = api.chat.completions.create(
                    model="gpt-4o", stream=True,
                    messages=[{"role": "system", "content": "You are helpful."},
                              {"role": "user", "content": question}],
                    user=conversation,  # headers must be ASCII; participant names need not be
                )
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        self.deltas.append((time.monotonic(), chunk.choices[0].delta.content))
        except BaseException as error:  # surfaced by text()
            self.error = error
        finally:
            self.done.set()

    @property
    def received(self) -> str:
        return "".join(text for _, text in self.deltas)

    def text(self, timeout: float = 20) -> str:
        assert self.done.wait(timeout), "the client never finished"
        if self.error is not None:
            raise self.error
        return self.received


def test_live_typing_reaches_the_client_before_send(tmp_path, browser):
    settings = Settings(language="en", live_idle_seconds=0.4, delivery_style="live")
    with RunningServer(tmp_path / "data", settings) as server:
        page = open_window(browser, server.base)
        participant = StreamingParticipant(server.base, "participant-A", "How do I make tea?")
        wait_for_text(page, "participant-A")
        conversation(page, "participant-A").click()
        wait_for_text(page, "How do I make tea?")
        focus_textbox(page, "Tag (optional)")
        type_text(page, "inform", delay=15)
        focus_textbox(page, "Reply")
        type_text(page, "Boil water first, then steep")
        # When the operator pauses, the finished words go out; the word still being typed stays.
        wait_until(lambda: participant.received == "Boil water first, then ", timeout=10)
        wait_for_text(page, "Delivered (locked)")
        screenshot(page, "console-live-typing-en-1280")
        page.get_by_role("button", name="Send").click()
        assert participant.text() == "Boil water first, then steep"
        assert [text for _, text in participant.deltas] == ["Boil water first, then ", "steep"]
        operator = Operator(server.base)
        [exchange] = operator.exchanges()
        assert exchange["outcome"] == "done" and exchange["author"] == "human"
        assert exchange["tag"] == "inform"  # the research annotation went with the reply
        operator.close()
        page.close()


def test_two_waiting_clients_answered_out_of_order_with_paced_delivery(tmp_path, browser):
    settings = Settings(language="en", delivery_style="paced", first_token_delay=0.1,
                        tokens_per_second=80)
    with RunningServer(tmp_path / "data", settings) as server:
        page = open_window(browser, server.base)
        first = StreamingParticipant(server.base, "alice", "First question from Alice")
        second = StreamingParticipant(server.base, "bob", "Second question from Bob")
        wait_for_text(page, "alice")
        wait_for_text(page, "bob")
        conversation(page, "alice").click()
        wait_for_text(page, "First question from Alice")
        focus_textbox(page, "Reply")
        type_text(page, "Draft for Alice", delay=15)
        conversation(page, "bob").click()
        wait_for_text(page, "Second question from Bob")
        focus_textbox(page, "Reply")
        type_text(page, "Answer for Bob, sent first.", delay=15)
        time.sleep(0.5)
        assert second.received == "" and first.received == ""  # paced: nothing before Send
        page.keyboard.press("Control+Enter")
        assert second.text() == "Answer for Bob, sent first."
        assert len(second.deltas) >= 5  # streamed at a pace, not in one piece
        assert not first.done.is_set()
        # Alice's unsent draft survived the switch; a canned reply is added with one click.
        conversation(page, "alice").click()
        wait_for_text(page, "First question from Alice")
        page.get_by_role("button", name="Could you tell me a bit more?").click()
        page.wait_for_timeout(300)
        page.get_by_role("button", name="Send").click()
        assert first.text() == "Draft for Alice Could you tell me a bit more?"
        page.close()


def test_screens_in_japanese_and_english_at_two_widths(tmp_path, browser):
    for language in ("ja", "en"):
        settings = Settings(language=language)
        with RunningServer(tmp_path / f"data-{language}", settings) as server:
            participants = [
                StreamingParticipant(server.base, name, question)
                for name, question in (("参加者-01", "こんにちは、今日の天気を教えてください。"),
                                       ("participant-02", "Can you summarise this **article**?"))
            ]
            for width in (1280, 1000):  # narrower, the list is a drawer (tests/ui/test_layout.py)
                page = open_window(browser, server.base, width=width)
                wait_for_text(page, "participant-02")
                conversation(page, "参加者-01").click()
                wait_for_text(page, "今日の天気")
                page.wait_for_timeout(1500)  # let the bundled font arrive before the picture
                screenshot(page, f"console-{language}-{width}")
                page.get_by_role("button", name="Settings" if language == "en" else "設定").click()
                page.wait_for_timeout(800)
                screenshot(page, f"settings-{language}-{width}")
                page.close()
            operator = Operator(server.base)
            for exchange in operator.exchanges("waiting"):
                operator.reply(exchange["id"], "ok")
            for participant in participants:
                assert participant.text() == "ok"
            operator.close()
            page = open_window(browser, server.base)
            page.get_by_role("button", name="Logs" if language == "en" else "記録").click()
            wait_for_text(page, "今日の天気")  # the answered exchanges are in the log table
            page.wait_for_timeout(800)
            screenshot(page, f"logs-{language}-1280")
            page.close()


def test_two_operator_windows_see_the_same_switchboard_live(tmp_path, browser):
    settings = Settings(language="en", delivery_style="paced", first_token_delay=0)
    with RunningServer(tmp_path / "data", settings) as server:
        first, second = open_window(browser, server.base), open_window(browser, server.base, width=1000)
        participant = StreamingParticipant(server.base, "frank", "Is anyone there?")
        wait_for_text(first, "frank")
        wait_for_text(second, "frank")
        conversation(second, "frank").click()
        wait_for_text(second, "Is anyone there?")
        conversation(first, "frank").click()
        focus_textbox(first, "Reply")
        type_text(first, "Yes, here.", delay=15)
        first.get_by_role("button", name="Send").click()
        assert participant.text() == "Yes, here."
        # The other window follows: the reply shows in its transcript, the conversation is idle.
        wait_for_text(second, "Yes, here.")
        wait_for_text(second, "idle")
        first.close()
        second.close()


def test_every_window_follows_a_settings_change(tmp_path, browser):
    """Saved in one window or from the tray, a change reaches every open window through the store."""
    with RunningServer(tmp_path / "data", Settings(language="en")) as server:
        windows = [open_window(browser, server.base), open_window(browser, server.base, width=900)]
        for window in windows:
            wait_for_text(window, "Conversations")
        store = server.runtime.settings_store
        server.on_loop(lambda: store.update(language="ja", canned_replies=["少々お待ちを。"]))
        for window in windows:
            wait_for_text(window, "会話")
            wait_for_text(window, "少々お待ちを。")
            window.close()
