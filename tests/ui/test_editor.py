"""The reply editor's bookkeeping, without a browser: released words leave it once, a report
typed before the browser took the editor's new text is dropped, a rebuilt window carries on.

Kept apart from the window tests: their Playwright loop must not meet these asyncio tests.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import flet as ft

from human_chat_completions.config import Settings
from human_chat_completions.core import Switchboard
from human_chat_completions.settings_store import SettingsStore
from human_chat_completions.ui.editor import ReplyEditor
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.viewmodel import OperatorState


def live_editor(idle: float = 0.02) -> tuple[ReplyEditor, Switchboard, str]:
    board = Switchboard()
    exchange = board.open({"messages": [{"role": "user", "content": "hi"}]}, stream=True)
    board.attach(exchange)
    state = OperatorState(selected=exchange.conversation_id)
    store = SettingsStore(Settings(delivery_style="live", live_idle_seconds=idle),
                          save=lambda _settings: None)
    editor = ReplyEditor(board, store, state, Translator("en"), style=lambda _exchange: "live")
    editor.show(exchange, selected=True)
    return editor, board, exchange.id


def typed(editor: ReplyEditor, text: str) -> None:
    """The browser reports the field's text, as Flet does on each change."""
    editor.field.value = text
    editor._on_change(None)


async def test_released_words_leave_the_editor_and_a_late_keystroke_does_not_send_them_twice():
    editor, board, exchange_id = live_editor()
    typed(editor, "Hello there wor")
    await asyncio.sleep(0.08)
    assert board.get(exchange_id).reply.text == "Hello there "
    assert editor.text == "wor" and editor.sent.value == "Hello there "
    # A key pressed just before the browser dropped the released words reports them once more;
    # the browser drops that key with them, and so does the editor: nothing goes out twice.
    typed(editor, "Hello there worl")
    assert editor.text == "wor"
    typed(editor, "world ")  # typed on what the browser shows
    await asyncio.sleep(0.08)
    assert board.get(exchange_id).reply.text == "Hello there world "
    typed(editor, "Bye")
    editor.send()
    typed(editor, "ByeX")  # a key typed while Send was on its way
    assert editor.text == "" and board.get(exchange_id).reply.text == "Hello there world Bye"


async def test_a_rebuilt_window_carries_the_unsent_text_and_stops_the_old_clock():
    editor, board, exchange_id = live_editor(idle=0.05)
    typed(editor, "Half a sentence ")
    rebuilt = ReplyEditor(editor.switchboard, editor.store, editor.state, Translator("en"),
                          style=editor.style)
    rebuilt.show(board.get(exchange_id), selected=True)
    rebuilt.adopt(editor)
    typed(rebuilt, "Half a sentence more ")
    await asyncio.sleep(0.15)
    assert board.get(exchange_id).reply.text == "Half a sentence more "  # once, not twice


async def test_a_backspace_into_released_words_in_flight_does_not_send_them_again():
    editor, board, exchange_id = live_editor()
    typed(editor, "Hello there ")
    await asyncio.sleep(0.08)
    assert board.get(exchange_id).reply.text == "Hello there " and editor.text == ""
    typed(editor, "Hello there")  # Backspace pressed before the browser emptied the field
    await asyncio.sleep(0.08)
    assert editor.text == "" and board.get(exchange_id).reply.text == "Hello there "
    typed(editor, "friend")  # typed on the emptied field
    assert editor.text == "friend"


async def test_once_the_browser_took_the_new_text_a_short_new_word_is_not_mistaken_for_old():
    editor, board, exchange_id = live_editor()
    typed(editor, "w16 ")
    await asyncio.sleep(0.08)
    assert board.get(exchange_id).reply.text == "w16 " and editor.text == ""
    # The browser reports its caret at the end of the emptied field: it took the write.
    editor._on_selection(SimpleNamespace(selection=ft.TextSelection(base_offset=0, extent_offset=0)))
    typed(editor, "w17")  # closer to "w16 " than to "" by letters, but typed on ""
    assert editor.text == "w17"


def caret_report(editor: ReplyEditor, offset: int) -> None:
    """The browser reports where its caret is, as Flet does on each move."""
    editor._on_selection(SimpleNamespace(
        selection=ft.TextSelection(base_offset=offset, extent_offset=offset)))


async def test_a_canned_reply_clicked_right_after_another_goes_where_the_caret_was_put():
    editor, _board, _exchange_id = live_editor(idle=10)
    editor.focused = True
    typed(editor, "Sure. Thanks!")
    caret_report(editor, 6)  # the operator moved the caret before "Thanks!"
    editor.insert("Tell me more.")
    assert editor.text == "Sure. Tell me more. Thanks!"
    # The browser takes the new text with its caret at the end, before the window puts the caret
    # after the inserted words; a second canned reply clicked in that moment goes there too.
    caret_report(editor, len(editor.text))
    editor.insert("One moment please.")
    assert editor.text == "Sure. Tell me more. One moment please. Thanks!"
    await asyncio.sleep(0.3)  # the caret is placed; the operator's own moves count again
    caret_report(editor, len(editor.text))
    editor.insert("Bye.")
    assert editor.text.endswith("Thanks! Bye.")
