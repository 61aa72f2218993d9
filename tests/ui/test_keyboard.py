"""Keyboard first: Enter sends and the focus stays, Shift+Enter is a new line, Alt+↓/↑ walk the
waiting conversations, Alt+letters act on drafts and modes, F1 lists the keys."""

from __future__ import annotations

import time
from contextlib import contextmanager

from flet.messaging.session import Session

from human_chat_completions.config import Settings
from human_chat_completions.copilot.profiles import Profile
from human_chat_completions.core import Mode
from human_chat_completions.ui.editor import ReplyEditor
from human_chat_completions.ui.keys import Press, action_for, next_waiting, shortcut_list
from human_chat_completions.ui.viewmodel import ConversationRow
from tests.fakes.upstream import FakeUpstream
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import open_window, screen_text, type_text, wait_for_text
from tests.ui.test_delivery_illusion import EDITOR_FOCUSED, open_conversation
from tests.ui.test_operator_window import StreamingParticipant

# -- the key table, without a browser ------------------------------------------------------------


def test_keys_map_to_actions_for_either_send_key():
    assert action_for(Press("Arrow Down", alt=True), "enter") == "next"
    assert action_for(Press("Arrow Up", alt=True), "enter") == "previous"
    assert action_for(Press("3", alt=True), "enter") == "canned:3"
    assert action_for(Press("0", alt=True), "enter") is None
    assert action_for(Press("U", alt=True), "enter") == "use_draft"
    assert action_for(Press("A", alt=True), "enter") == "mode:auto"
    assert action_for(Press("U"), "enter") is None  # typing a U is typing
    assert action_for(Press("F1"), "enter") == "help"
    # With Enter to send, the editor's own submit takes Ctrl+Enter; otherwise the key table does.
    assert action_for(Press("Enter", ctrl=True), "enter") is None
    assert action_for(Press("Enter", ctrl=True), "ctrl_enter") == "send"
    assert action_for(Press("Enter", meta=True), "ctrl_enter") == "send"
    assert action_for(Press("Enter"), "ctrl_enter") is None
    assert shortcut_list("ctrl_enter")[:2] == [("Ctrl+Enter", "key_send"), ("Enter", "key_newline")]


def row(conversation_id: str, status: str) -> ConversationRow:
    return ConversationRow(id=conversation_id, label=conversation_id, mode=Mode.HUMAN, status=status,
                           waiting_since=None, last_activity=0.0, unread=False, preview="")


def test_next_waiting_walks_the_list_both_ways_and_wraps():
    rows = [row("a", "waiting"), row("b", "waiting"), row("c", "replying"), row("d", "idle")]
    never = lambda _row: False  # noqa: E731
    assert next_waiting(rows, None, 1, never) == "a"
    assert next_waiting(rows, "a", 1, never) == "b"
    assert next_waiting(rows, "c", 1, never) == "a"  # past the idle one, round to the top
    assert next_waiting(rows, "a", -1, never) == "c"
    assert next_waiting(rows, "d", -1, never) == "c"
    assert next_waiting(rows, "a", 1, lambda r: r.id == "b") == "c"  # answered here: skipped
    assert next_waiting([row("a", "waiting")], "a", 1, never) is None


# -- in the window -------------------------------------------------------------------------------


def editor_keeps_focus(page, seconds: float) -> bool:
    """The editor has the focus now and for `seconds` (sampled)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not page.evaluate(EDITOR_FOCUSED):
            return False
        page.wait_for_timeout(100)
    return True


def wait_editor_ready(page) -> None:
    page.wait_for_function(EDITOR_FOCUSED, timeout=10_000)
    page.wait_for_timeout(300)  # Flutter attaches its editing state just after the focus


def test_enter_sends_and_the_focus_stays_in_the_editor(tmp_path, browser):
    settings = Settings(language="en", first_token_delay=0.05, tokens_per_second=40)
    with RunningServer(tmp_path / "data", settings) as server:
        page = open_window(browser, server.base)
        first = StreamingParticipant(server.base, "erin", "First question")
        open_conversation(page, "erin", "First question")
        type_text(page, "First answer, sent with Enter.", delay=15)
        page.keyboard.press("Enter")
        assert first.text() == "First answer, sent with Enter."
        operator = Operator(server.base)
        wait_until(lambda: operator.exchanges("done"), timeout=10)
        # The reply is finished and the screen redrawn: the focus did not leave.
        assert editor_keeps_focus(page, 2.5)
        # The next request in the same conversation is answered without touching the mouse.
        second = StreamingParticipant(server.base, "erin", "Second question")
        wait_for_text(page, "Second question")
        type_text(page, "Second answer.", delay=15)
        page.keyboard.press("Enter")
        assert second.text() == "Second answer."
        assert editor_keeps_focus(page, 0.5)
        # The Send button keeps it too: the click hands the focus back.
        third = StreamingParticipant(server.base, "erin", "Third question")
        wait_for_text(page, "Third question")
        type_text(page, "Third answer.", delay=15)
        page.get_by_role("button", name="Send").click()
        assert third.text() == "Third answer."
        page.wait_for_function(EDITOR_FOCUSED, timeout=10_000)
        operator.close()
        page.close()


def test_a_sent_reply_leaves_before_the_window_redraws(tmp_path, browser, monkeypatch):
    """Flet redraws the window after a Send (7-20 ms for a full console). The participant's first
    words must not wait behind it: every render after the Send finds them already written."""
    pressed: list = []
    first_words_written: list[bool] = []
    real_send, real_patch = ReplyEditor.send, Session.patch_control

    def send(editor: ReplyEditor, *args, **kwargs) -> None:
        pressed.append(editor.exchange)
        real_send(editor, *args, **kwargs)

    def patch_control(session: Session, *args, **kwargs):
        if pressed:
            first_words_written.append(pressed[-1].first_byte_at is not None)
        return real_patch(session, *args, **kwargs)

    monkeypatch.setattr(ReplyEditor, "send", send)
    monkeypatch.setattr(Session, "patch_control", patch_control)
    settings = Settings(language="en", first_token_delay=0, tokens_per_second=40)
    with RunningServer(tmp_path / "data", settings) as server:
        page = open_window(browser, server.base)
        for name, style in (("paula", "paced"), ("liam", "live")):
            server.on_loop(lambda style=style: server.runtime.settings_store.update(delivery_style=style))
            participant = StreamingParticipant(server.base, name, f"A question from {name}")
            open_conversation(page, name, f"A question from {name}")
            pressed.clear()
            first_words_written.clear()
            type_text(page, f"An answer for {name}.", delay=15)
            page.keyboard.press("Enter")
            assert participant.text() == f"An answer for {name}."
            wait_for_text(page, f"An answer for {name}.")  # the window redrew
            assert first_words_written and all(first_words_written), (style, first_words_written)
        page.close()


@contextmanager
def two_lines_typed(data_dir, browser, send_key: str, new_line: str):
    """Lena asks for two lines; the operator types them with `new_line` pressed between."""
    settings = Settings(language="en", first_token_delay=0, send_key=send_key)
    with RunningServer(data_dir, settings) as server:
        page = open_window(browser, server.base)
        participant = StreamingParticipant(server.base, "lena", "Two lines please")
        open_conversation(page, "lena", "Two lines please")
        type_text(page, "Line one", delay=15)
        page.keyboard.press(new_line)
        type_text(page, "Line two", delay=15)
        yield page, participant
        page.close()


def test_shift_enter_adds_a_line_and_ctrl_enter_setting_flips_it(tmp_path, browser):
    with two_lines_typed(tmp_path / "data", browser, "enter", "Shift+Enter") as (page, participant):
        page.keyboard.press("Enter")
        assert participant.text() == "Line one\nLine two"
    with two_lines_typed(tmp_path / "data2", browser, "ctrl_enter", "Enter") as (page, participant):
        time.sleep(0.5)
        assert participant.received == ""  # Enter was a new line
        page.keyboard.press("Control+Enter")
        assert participant.text() == "Line one\nLine two"


def test_alt_arrows_reach_the_waiting_conversations_and_replies_go_by_keyboard_alone(tmp_path, browser):
    settings = Settings(language="en", first_token_delay=0.05)
    with RunningServer(tmp_path / "data", settings) as server:
        page = open_window(browser, server.base)
        operator = Operator(server.base)
        people = {}
        for name in ("alice", "bob", "carol"):  # the list puts the longest wait first
            people[name] = StreamingParticipant(server.base, name, f"Question from {name}")
            operator.wait_for(len(people))
        wait_for_text(page, "carol")
        page.keyboard.press("Alt+ArrowDown")  # nothing selected yet: the longest wait
        wait_for_text(page, "Question from alice")
        wait_editor_ready(page)
        type_text(page, "Hello Alice.", delay=15)
        page.keyboard.press("Enter")
        assert people["alice"].text() == "Hello Alice."
        page.keyboard.press("Alt+ArrowDown")
        wait_for_text(page, "Question from bob")
        wait_editor_ready(page)
        type_text(page, "Hello Bob.", delay=15)
        page.keyboard.press("Enter")
        assert people["bob"].text() == "Hello Bob."
        page.keyboard.press("Alt+ArrowUp")  # up past the answered ones, round to carol
        wait_for_text(page, "Question from carol")
        wait_editor_ready(page)
        page.keyboard.press("Alt+1")
        page.wait_for_function("() => document.activeElement.value.startsWith('Let me think')")
        type_text(page, " Thanks for waiting, Carol.", delay=15)
        page.keyboard.press("Enter")
        assert people["carol"].text() == (
            "Let me think about that for a moment. Thanks for waiting, Carol.")
        assert {e["final"] for e in operator.exchanges("done")} == {
            "Hello Alice.", "Hello Bob.", "Let me think about that for a moment. Thanks for waiting, Carol."}
        operator.close()
        page.close()


def test_alt_letters_use_the_draft_and_set_the_mode_and_f1_lists_the_keys(tmp_path, browser):
    with FakeUpstream() as upstream:
        profile = Profile(name="fake", base_url=upstream.base_url, model="fake-model")
        settings = Settings(language="en", default_mode="copilot", profiles=[profile],
                            first_token_delay=0)
        with RunningServer(tmp_path / "data", settings) as server:
            page = open_window(browser, server.base)
            participant = StreamingParticipant(server.base, "dina", "Recommend a film")
            wait_for_text(page, "dina")
            page.keyboard.press("Alt+ArrowDown")
            wait_for_text(page, "Draft answer to: Recommend a film")
            wait_editor_ready(page)
            page.keyboard.press("Alt+U")
            page.wait_for_function("() => document.activeElement.value.startsWith('Draft answer')")
            page.keyboard.press("Enter")
            assert participant.text() == "Draft answer to: Recommend a film"
            operator = Operator(server.base)
            [exchange] = operator.exchanges("done")
            assert exchange["author"] == "copilot"
            operator.close()
            switchboard = server.runtime.switchboard
            conversation_id = exchange["conversation"]["id"]
            for key, mode in (("Alt+H", Mode.HUMAN), ("Alt+A", Mode.AUTO), ("Alt+C", Mode.COPILOT)):
                page.keyboard.press(key)
                wait_until(lambda m=mode: switchboard.conversation(conversation_id).mode is m, timeout=10)
            page.keyboard.press("F1")
            wait_for_text(page, "Next waiting conversation")  # the list, not just the button
            page.get_by_role("button", name="Close").click()
            wait_until(lambda: "Next waiting conversation" not in screen_text(page), timeout=10)
            page.close()
