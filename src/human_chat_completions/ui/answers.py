"""Answers beyond text, beside the transcript: tool calls and JSON answers, and the error menu.

The console places `view` next to the transcript, `failure.view` beside Send and `failure.banner`
over the reply box (a failure armed for the next request); `show` follows
the exchange it shows. The side holds what the request asks for (its tools, its JSON schema) and
stays hidden for a plain chat request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from human_chat_completions.core import Exchange, Switchboard
from human_chat_completions.core.conversation import Conversation
from human_chat_completions.core.tool_calls import answer_problem, response_schema, tool_choice_kind
from human_chat_completions.ui.editor import ReplyEditor
from human_chat_completions.ui.failure_menu import FailureMenu
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.json_answer import JsonAnswer
from human_chat_completions.ui.tool_form import ToolPanel
from human_chat_completions.ui.viewmodel import OperatorState

SIDE_WIDTH = 360


def open_request(exchange: Exchange | None) -> dict[str, Any] | None:
    """The body of an open exchange (a finished one's may be on disk only: nothing to answer)."""
    if exchange is None or not exchange.state.open:
        return None
    try:
        return exchange.request
    except LookupError:
        return None


class AnswerSide:
    """Tools, the JSON answer and the error menu for the exchange the console shows."""

    def __init__(self, switchboard: Switchboard, state: OperatorState, t: Translator,
                 reply: ReplyEditor, on_sent: Callable[[], None]) -> None:
        """on_sent: the console redraws after tool calls or an error went out."""
        self.tools = ToolPanel(switchboard, state, t, reply, on_sent)
        self.json = JsonAnswer(t, reply)
        self.failure = FailureMenu(switchboard, state, t, on_sent)
        self.reply = reply
        reply.on_text = self.json.on_text
        self.view = ft.Container(
            ft.Column([self.tools.view, self.json.view], scroll=ft.ScrollMode.AUTO, spacing=12),
            width=SIDE_WIDTH, padding=ft.Padding(12, 4, 4, 4), visible=False,
            border=ft.Border(left=ft.BorderSide(1, ft.Colors.OUTLINE_VARIANT)))

    def show(self, exchange: Exchange | None, conversation: Conversation | None = None) -> None:
        """After the editor's `show`: the side for this exchange, and Send as its request allows;
        `conversation` (the one shown) for a failure armed for its next request."""
        request = open_request(exchange)
        self.tools.show(exchange, request)
        self.json.show(exchange, request)
        self.failure.show(exchange, conversation)
        self.view.visible = self.tools.view.visible or self.json.view.visible
        if request is not None and tool_choice_kind(request) in ("required", "named"):
            self.reply.send_button.disabled = True  # text alone is no answer: it goes with the calls

    def adopt(self, previous: AnswerSide) -> None:
        """The window was rebuilt (a language change): the calls waiting to be sent stay."""
        self.tools.calls = previous.tools.calls

    def structured(self, exchange: Exchange | None) -> bool:
        request = open_request(exchange)
        return request is not None and response_schema(request) is not None

    def blocks_send(self, exchange: Exchange, text: str) -> bool:
        """Whether Send with this text would answer what the request did not ask for."""
        request = open_request(exchange)
        return request is not None and answer_problem(request, exchange.reply.text + text, []) is not None
