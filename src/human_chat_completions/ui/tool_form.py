"""Tool calls from the window: the request's tools, a form for the chosen one, the calls to send.

"Call tool" checks the form against the tool's schema (`tool_call_problem`) and adds the call to
the ones waiting; "Send tool calls" sends the reply box's text first, then the calls, which
finish the reply (`Switchboard.send_tool_calls`). Nothing invalid is ever added or sent: the
problem shows beside the form, naming the field.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import flet as ft

from human_chat_completions.core import Exchange, ExchangeClosedError, Switchboard
from human_chat_completions.core.study import guard_hit
from human_chat_completions.core.switchboard import ExchangeClaimedError
from human_chat_completions.core.tool_calls import (
    Problem,
    ToolCall,
    required_tool,
    tool_call_problem,
    tool_choice_kind,
    tools_of,
)
from human_chat_completions.ui.editor import ReplyEditor
from human_chat_completions.ui.guard_dialog import GuardDialog
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.redraw import redraw_after_the_reply
from human_chat_completions.ui.schema_form import SchemaForm
from human_chat_completions.ui.viewmodel import OperatorState

_SHOWN_ARGUMENTS = 120  # characters of a waiting call's arguments on its line


def offers_tools(request: dict[str, Any] | None) -> bool:
    return request is not None and bool(tools_of(request)) and tool_choice_kind(request) != "none"


class ToolPanel:
    """The tools of the exchange the console shows; hidden when it offers none."""

    def __init__(self, switchboard: Switchboard, state: OperatorState, t: Translator,
                 reply: ReplyEditor, on_sent: Callable[[], None]) -> None:
        self.switchboard, self.state, self.t, self.reply = switchboard, state, t, reply
        self.on_sent = on_sent
        self.exchange: Exchange | None = None
        self.request: dict[str, Any] = {}
        # By exchange: the tool chosen, the forms filled in (by tool), the calls waiting to be sent.
        # Kept while the operator looks at other conversations, dropped once it is closed.
        self._chosen: dict[str, str | None] = {}
        self._forms: dict[str, dict[str, SchemaForm]] = {}
        self.calls: dict[str, list[ToolCall]] = {}
        self.required_text = ft.Text("", size=12, weight=ft.FontWeight.BOLD,
                                     color=ft.Colors.ON_TERTIARY_CONTAINER)
        self.required = ft.Container(self.required_text,
                                     bgcolor=ft.Colors.TERTIARY_CONTAINER, border_radius=8,
                                     padding=ft.Padding(8, 4, 8, 4), visible=False)
        self.tool_list = ft.Column(spacing=4, tight=True)
        self.form_slot = ft.Container()
        self.problem = ft.Text("", size=12, color=ft.Colors.ERROR, visible=False)
        self.add_button = ft.OutlinedButton(t("tool_add_call"), icon=ft.Icons.ADD_TASK,
                                            on_click=self._add_call)
        self.pending_title = ft.Text(t("tool_pending"), size=12, weight=ft.FontWeight.BOLD)
        self.pending = ft.Column(spacing=2, tight=True)
        self.send_button = ft.FilledButton(t("tool_send"), icon=ft.Icons.SEND, on_click=self._send_from_ui,
                                           disabled=True, visible=False)
        # The pending calls come first: the form below them can be long. Send sits beside the
        # reply box's own Send (the console places it), where it shows however long the form is.
        self.view = ft.Column([
            ft.Text(t("tools_title"), size=14, weight=ft.FontWeight.BOLD),
            self.required, self.pending_title, self.pending, self.tool_list, self.form_slot,
            self.problem, self.add_button,
            ft.Text(t("tool_send_note"), size=11, color=ft.Colors.ON_SURFACE_VARIANT),
        ], spacing=8, tight=True, visible=False)

    @property
    def chosen(self) -> str | None:
        return self._chosen.get(self.exchange.id) if self.exchange is not None else None

    @property
    def forms(self) -> dict[str, SchemaForm]:
        return self._forms.setdefault(self.exchange.id, {}) if self.exchange is not None else {}

    # -- what is shown ----------------------------------------------------------------------------

    def show(self, exchange: Exchange | None, request: dict[str, Any] | None) -> None:
        """The console shows this exchange (`request`: its body while it is open)."""
        self.view.visible = self.send_button.visible = offers_tools(request)
        if not self.view.visible or exchange is None or request is None:
            self.exchange = None
            return
        if self.exchange is None or self.exchange.id != exchange.id:
            self._open(exchange, request)
        self.exchange = exchange
        blocked = self.reply.sent_here(exchange.id) or (
            self.state.signed_in is not None and self.state.held_by_other(exchange) is not None)
        self.add_button.disabled = blocked or self.chosen is None
        self.send_button.disabled = blocked or not self.calls.get(exchange.id)
        self._show_pending()

    def _open(self, exchange: Exchange, request: dict[str, Any]) -> None:
        for gone in [key for key in {*self._chosen, *self._forms, *self.calls} if not self._open_exchange(key)]:
            self._forms.pop(gone, None)
            self._chosen.pop(gone, None)
            self.calls.pop(gone, None)
        self.exchange, self.request = exchange, request
        kind, wanted = tool_choice_kind(request), required_tool(request)
        self.required.visible = kind in ("required", "named")
        self.required_text.value = (self.t("tools_required_named", name=wanted) if wanted
                                    else self.t("tools_required"))
        tools = tools_of(request)
        if exchange.id not in self._chosen:
            self._chosen[exchange.id] = wanted if wanted in tools else (
                next(iter(tools)) if len(tools) == 1 else None)
        self._show_problem(None)
        self._show_tools()

    def _open_exchange(self, exchange_id: str) -> bool:
        exchange = self.switchboard.exchanges.get(exchange_id)
        return exchange is not None and exchange.state.open

    def _show_tools(self) -> None:
        tools = tools_of(self.request)
        self.tool_list.controls = [self._tool_button(name, function) for name, function in tools.items()]
        if self.chosen is None:
            self.form_slot.content = ft.Text(self.t("tool_choose"), size=12, italic=True)
            return
        form = self.forms.get(self.chosen)
        if form is None:
            form = self.forms[self.chosen] = SchemaForm(tools[self.chosen].get("parameters"), self.t)
        self.form_slot.content = form.view

    def _tool_button(self, name: str, function: dict[str, Any]) -> ft.Control:
        chosen = name == self.chosen
        description = str(function.get("description") or "")
        return ft.Container(
            ft.Row([ft.Icon(ft.Icons.RADIO_BUTTON_CHECKED if chosen else ft.Icons.RADIO_BUTTON_UNCHECKED,
                            size=18, color=ft.Colors.PRIMARY),
                    ft.Column([ft.Text(name, weight=ft.FontWeight.BOLD, size=13),
                               *([ft.Text(description, size=12, color=ft.Colors.ON_SURFACE_VARIANT)]
                                 if description else [])],
                              spacing=0, tight=True, expand=True)],
                   vertical_alignment=ft.CrossAxisAlignment.START),
            padding=ft.Padding(8, 6, 8, 6), border_radius=8,
            bgcolor=ft.Colors.SECONDARY_CONTAINER if chosen else None,
            border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT),
            on_click=lambda _event: self._choose(name))

    def _choose(self, name: str) -> None:
        if self.exchange is None:
            return
        self._chosen[self.exchange.id] = name
        self._show_problem(None)
        self._show_tools()
        self.add_button.disabled = self.exchange is None

    def _show_pending(self) -> None:
        calls = self.calls.get(self.exchange.id, []) if self.exchange is not None else []
        self.pending_title.visible = bool(calls)
        self.send_button.content = self.t("tool_send_count", count=len(calls)) if calls else self.t("tool_send")
        self.pending.controls = [
            ft.Row([ft.Text(f"{index + 1}. {call.name} {_short(call.arguments_json)}", size=12,
                            expand=True, selectable=False),
                    ft.IconButton(ft.Icons.CLOSE, icon_size=16,
                                  tooltip=self.t("tool_remove_call", number=index + 1),
                                  on_click=lambda _event, index=index: self._remove_call(index))],
                   vertical_alignment=ft.CrossAxisAlignment.CENTER)
            for index, call in enumerate(calls)]

    def _show_problem(self, problem: Problem | str | None) -> None:
        self.problem.value = str(problem or "")
        self.problem.visible = problem is not None
        form = self.forms.get(self.chosen or "")
        if form is not None:
            field = problem.field if isinstance(problem, Problem) else None
            form.show_problem(field, problem.message if isinstance(problem, Problem) else "")

    # -- actions ----------------------------------------------------------------------------------

    def _add_call(self, _event: ft.Event | None = None) -> None:
        exchange, form = self.exchange, self.forms.get(self.chosen or "")
        if exchange is None or self.chosen is None or form is None:
            return
        own = form.own_problems()
        if own:
            path, key = own[0]
            self._show_problem(Problem(f"arguments.{path}" if path else "arguments", self.t(key)))
            return
        call = ToolCall(self.chosen, form.value())
        problem = tool_call_problem(self.request, call)
        self._show_problem(problem)
        if problem is None:
            self.calls.setdefault(exchange.id, []).append(call)
            self.send_button.disabled = False
            self._show_pending()

    def _remove_call(self, index: int) -> None:
        if self.exchange is None:
            return
        calls = self.calls.get(self.exchange.id, [])
        if 0 <= index < len(calls):
            calls.pop(index)
        self.send_button.disabled = not calls
        self._show_pending()

    def _send_from_ui(self, _event: ft.Event) -> None:
        self._send()
        redraw_after_the_reply()

    def _send(self, forced: bool = False) -> None:
        exchange = self.exchange
        calls = self.calls.get(exchange.id, []) if exchange is not None else []
        if exchange is None or not calls or not exchange.state.open:
            return
        for index, call in enumerate(calls):  # the window's own check, as the operator API's
            problem = tool_call_problem(self.request, call)
            if problem is not None:
                self._show_problem(Problem(f"tool_calls[{index}].{problem.field}", problem.message))
                return
        text = self.reply.text
        condition = self.switchboard.conversation(exchange.conversation_id).condition
        phrase = guard_hit(exchange.reply.text + text, condition.guard_phrases) if condition else None
        if phrase is not None:
            self.switchboard.flag_guard(exchange.id, phrase, "forced" if forced else "held")
            if not forced and self.view.page is not None:
                GuardDialog(self.t, exchange.reply.text + text, phrase,
                            on_send=lambda: self._send(forced=True)).open(self.view.page)
                return
        operator = self.state.signed_in
        try:
            if operator is not None:
                self.switchboard.claim(exchange.id, operator)
        except ExchangeClaimedError:
            self._show_problem(self.t("tool_held"))
            return
        with contextlib.suppress(ExchangeClosedError):  # the client left meanwhile
            text = self.reply.take_text(exchange.id)
            self.switchboard.mark_sent(exchange.id)
            if text:
                self.switchboard.reply(exchange.id, text, operator=operator)
            self.switchboard.send_tool_calls(exchange.id, calls, operator=operator)
        self.calls.pop(exchange.id, None)
        self._show_problem(None)
        self.on_sent()


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN_ARGUMENTS else text[:_SHOWN_ARGUMENTS - 1] + "…"
