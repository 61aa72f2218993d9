"""Tool calls, JSON answers and injected errors from the window's side, without a browser: what
goes to the switchboard, and what is refused before it does.

Kept apart from the window tests: their Playwright loop must not meet these asyncio tests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from human_chat_completions.config import Settings
from human_chat_completions.core import Switchboard
from human_chat_completions.core.exchange import Exchange
from human_chat_completions.settings_store import SettingsStore
from human_chat_completions.ui.answers import AnswerSide
from human_chat_completions.ui.editor import ReplyEditor
from human_chat_completions.ui.failure_menu import PRESETS, FailureMenu, armed_preset, inject
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.schema_form import TextNode
from human_chat_completions.ui.viewmodel import OperatorState, conversation_row

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city"]}}}
SEARCH = {"type": "function", "function": {"name": "search", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}
TRIP = {"type": "json_schema", "json_schema": {"name": "Trip", "schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def window(request: dict[str, Any]) -> tuple[AnswerSide, ReplyEditor, Switchboard, Exchange]:
    board = Switchboard()
    exchange = board.open({"messages": [{"role": "user", "content": "hi"}], **request}, stream=False)
    board.attach(exchange)
    state = OperatorState(selected=exchange.conversation_id)
    store = SettingsStore(Settings(delivery_style="paced"), save=lambda _settings: None)
    editor = ReplyEditor(board, store, state, Translator("en"), style=lambda _exchange: "paced")
    side = AnswerSide(board, state, Translator("en"), editor, on_sent=lambda: None)
    editor.show(exchange, selected=True)
    side.show(exchange)
    return side, editor, board, exchange


def typed(editor: ReplyEditor, text: str) -> None:
    editor.field.value = text
    editor._on_change(None)


def fill(side: AnswerSide, name: str, text: str) -> None:
    form = side.tools.forms[side.tools.chosen or ""]
    [node] = [node for node in form.root.fields if node.spec.name == name]  # type: ignore[attr-defined]
    assert isinstance(node, TextNode)
    node.field.value = text


async def test_tool_calls_go_after_the_typed_text_and_only_when_valid():
    side, editor, board, exchange = window({"tools": [WEATHER, SEARCH]})
    assert side.view.visible and side.tools.chosen is None  # two tools: the operator chooses
    side.tools._choose("get_weather")
    side.tools._add_call()
    assert side.tools.problem.value == "arguments.city: is required"
    assert not side.tools.calls and side.tools.send_button.disabled
    fill(side, "city", "Oslo")
    fill(side, "days", "two")
    side.tools._add_call()
    assert side.tools.problem.value == "arguments.days: Not a whole number"
    fill(side, "days", "2")
    side.tools._add_call()
    side.tools._choose("search")
    fill(side, "q", "snow")
    side.tools._add_call()
    assert not side.tools.send_button.disabled and side.tools.send_button.content == "Send tool calls (2)"
    typed(editor, "Checking.")
    side.tools._send()
    assert exchange.reply.text == "Checking." and exchange.reply.finish_reason == "tool_calls"
    assert [(call["function"]["name"], json.loads(call["function"]["arguments"]))
            for call in exchange.reply.tool_calls] == [("get_weather", {"city": "Oslo", "days": 2}),
                                                       ("search", {"q": "snow"})]
    assert editor.text == "" and not exchange.state.open
    assert board.get(exchange.id).sent_at is not None


async def test_a_required_tool_is_chosen_and_text_alone_cannot_go():
    side, editor, _board, exchange = window({"tools": [WEATHER, SEARCH],
                                             "tool_choice": {"type": "function", "function": {"name": "search"}}})
    assert side.tools.chosen == "search" and side.tools.required.visible
    assert editor.send_button.disabled
    typed(editor, "Just text")
    assert side.blocks_send(exchange, editor.text)


async def test_tool_choice_none_shows_no_tools():
    side, _editor, _board, _exchange = window({"tools": [WEATHER], "tool_choice": "none"})
    assert not side.view.visible and not side.tools.send_button.visible


async def test_a_json_answer_is_checked_as_it_is_typed():
    side, editor, _board, exchange = window({"response_format": TRIP})
    assert side.json.view.visible and side.structured(exchange)
    assert editor.field.label == "JSON answer"
    typed(editor, '{"city": 3}')
    assert editor.field.error == "city: 3 is not of type 'string'" and editor.send_button.disabled
    assert side.blocks_send(exchange, editor.text)
    typed(editor, '{"city": "Nara"')
    assert str(editor.field.error).startswith("json: not valid JSON")
    typed(editor, '{"city": "Nara"}')
    assert editor.field.error is None and not editor.send_button.disabled
    assert not side.blocks_send(exchange, editor.text)


async def test_the_form_fills_the_json_box_and_loads_from_it():
    side, editor, _board, _exchange = window({"response_format": TRIP})
    form = side.json.form
    assert form is not None
    form.set({"city": "Kobe"})
    side.json._fill()
    assert json.loads(editor.text) == {"city": "Kobe"} and not editor.send_button.disabled
    typed(editor, '{"city": "Sendai"}')
    side.json._load()
    assert form.value() == {"city": "Sendai"}


async def test_a_plain_request_leaves_the_editor_as_it_was():
    side, editor, _board, exchange = window({})
    assert not side.view.visible and not side.structured(exchange)
    assert editor.field.label == "Reply"
    typed(editor, "not json at all")
    assert editor.field.error is None and not side.blocks_send(exchange, editor.text)


@pytest.mark.parametrize("preset", PRESETS, ids=[preset.key for preset in PRESETS])
async def test_each_preset_ends_the_exchange_as_injected(preset):
    _side, _editor, board, exchange = window({})
    inject(board, exchange.id, preset)
    assert exchange.injected_error == preset.key and not exchange.state.open
    error = exchange.reply.error
    assert error is not None and error.status == preset.status and error.drops_connection == (preset.status is None)


async def test_a_failure_armed_between_turns_fails_the_next_request_and_can_be_cancelled():
    side, _editor, board, exchange = window({})
    board.reply(exchange.id, "Hello.", done=True)
    conversation = board.conversation(exchange.conversation_id)
    menu = side.failure
    side.show(None, conversation)  # between turns: only the next request can fail
    assert not menu.view.disabled and not menu.banner.visible
    assert not any(item.visible for item in menu.now_items) and all(item.visible for item in menu.next_items)
    assert [item.content for item in menu.next_items][0] == "Next request: Rate limit (429)"

    menu.next_items[0].on_click(None)  # type: ignore[misc]  # no question: nobody sees it yet
    error = conversation.armed_failure
    assert error is not None and (error.status, error.code) == (429, "injected_error")
    side.show(None, conversation)
    assert menu.banner.visible and menu.banner_text.value == "Next request will get: Rate limit (429)"
    assert conversation_row(board, conversation, unread=False).armed

    menu.disarm()
    side.show(None, conversation)
    assert conversation.armed_failure is None and not menu.banner.visible
    assert not conversation_row(board, conversation, unread=False).armed

    menu.arm(PRESETS[-1])  # a cut connection, armed for the next request
    assert armed_preset(conversation) == PRESETS[-1]
    follow_up = board.open({"messages": [{"role": "user", "content": "hi"},
                                         {"role": "assistant", "content": "Hello."},
                                         {"role": "user", "content": "Again?"}]}, stream=True)
    assert follow_up.conversation_id == conversation.id
    assert not follow_up.state.open and follow_up.injected_error == "drop"
    assert follow_up.reply.error is not None and follow_up.reply.error.drops_connection
    side.show(None, conversation)
    assert conversation.armed_failure is None and not menu.banner.visible


async def test_the_menu_offers_this_request_while_one_is_open_and_nothing_without_a_conversation():
    side, _editor, board, exchange = window({})
    conversation = board.conversation(exchange.conversation_id)
    side.show(exchange, conversation)
    assert all(item.visible for item in side.failure.now_items) and not side.failure.view.disabled
    side.failure.show(None, None)
    assert side.failure.view.disabled and not side.failure.banner.visible
    ja = FailureMenu(board, OperatorState(), Translator("ja"), on_done=lambda: None)
    board.arm_failure(conversation.id, "Overloaded", "injected_error", 529)
    ja.show(None, conversation)
    assert ja.banner_text.value == "次のリクエストに返すエラー：過負荷（529）"


async def test_a_rebuilt_window_keeps_the_calls_waiting():
    side, editor, board, exchange = window({"tools": [WEATHER]})
    fill(side, "city", "Lima")  # one tool: already chosen
    side.tools._add_call()
    rebuilt = AnswerSide(board, side.tools.state, Translator("ja"), editor, on_sent=lambda: None)
    rebuilt.adopt(side)
    rebuilt.show(exchange)
    assert not rebuilt.tools.send_button.disabled
    assert rebuilt.tools.send_button.content == "ツール呼び出しを送信（1）"
