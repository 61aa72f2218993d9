"""A JSON answer (`response_format` json_schema or json_object): the reply box becomes a JSON editor.

The operator types the JSON in the reply box as any reply (the box keeps what an input method has
not committed out of the reply), checked against the schema at each change: the problem shows
under the box naming the path, and Send stays off while there is one. JSON goes whole on Send:
live typing would hand the app half an object (the console forces paced delivery). Beside the
transcript, the schema (folded) and a form built from it that fills the box.
"""

from __future__ import annotations

import json
from typing import Any

import flet as ft

from human_chat_completions.core import Exchange
from human_chat_completions.core.tool_calls import Problem, response_schema, structured_problem
from human_chat_completions.ui.editor import ReplyEditor
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.schema_form import SchemaForm
from human_chat_completions.ui.schema_spec import BadValue, parse_json
from human_chat_completions.ui.theme import MONO

_SCHEMA_SHOWN = 6000  # characters of the schema shown; the rest is cut (the check uses it whole)


def schema_name(request: dict[str, Any]) -> str:
    """The name the app gave its schema (`json_schema.name`, or the Responses API's `text.format`)."""
    text = request.get("text")
    wanted = request.get("response_format") or (text.get("format") if isinstance(text, dict) else None)
    if not isinstance(wanted, dict):
        return ""
    inner = wanted.get("json_schema")
    spec = inner if isinstance(inner, dict) else wanted
    return str(spec.get("name") or "")


class JsonAnswer:
    """The JSON side of the exchange the console shows; the editor is plain again without one."""

    def __init__(self, t: Translator, reply: ReplyEditor) -> None:
        self.t, self.reply = t, reply
        field = reply.field
        self._plain = (field.label, field.hint_text, field.text_style)
        self.request: dict[str, Any] | None = None
        self.exchange_id: str | None = None
        self._forms: dict[str, SchemaForm] = {}
        self._baseline = True  # Send's state as the editor sees it, before the JSON check
        self.kind_line = ft.Text("", size=12)
        self.schema_text = ft.Text("", size=12, style=MONO, selectable=True)
        self.schema_tile = ft.ExpansionTile(
            title=ft.Text(t("json_schema"), size=13), dense=True, maintain_state=True,
            controls=[ft.Container(self.schema_text, padding=8, border_radius=6,
                                   bgcolor=ft.Colors.SURFACE_CONTAINER_HIGHEST)])
        self.form_slot = ft.Container()
        self.form_problem = ft.Text("", size=12, color=ft.Colors.ERROR, visible=False)
        self.form_tile = ft.ExpansionTile(
            title=ft.Text(t("json_form"), size=13), dense=True, expanded=True, maintain_state=True,
            controls=[self.form_slot, self.form_problem, ft.Row([
                ft.OutlinedButton(t("json_fill"), icon=ft.Icons.ARROW_DOWNWARD, on_click=self._fill),
                ft.TextButton(t("json_load"), icon=ft.Icons.ARROW_UPWARD, on_click=self._load),
            ], wrap=True)],
            expanded_cross_axis_alignment=ft.CrossAxisAlignment.START)
        self.view = ft.Column([ft.Text(t("json_title"), size=14, weight=ft.FontWeight.BOLD),
                               self.kind_line, self.schema_tile, self.form_tile],
                              spacing=6, tight=True, visible=False)

    @property
    def form(self) -> SchemaForm | None:
        return self._forms.get(self.exchange_id or "")

    def show(self, exchange: Exchange | None, request: dict[str, Any] | None) -> None:
        """The console shows this exchange (`request`: its body while it is open). Called after
        the editor's own `show`, whose Send state this narrows."""
        wanted = response_schema(request) if request is not None else None
        self.view.visible = wanted is not None and exchange is not None
        self._editor_mode(self.view.visible)
        if not self.view.visible or exchange is None or request is None or wanted is None:
            self.request = self.exchange_id = None
            return
        self.request = request
        if exchange.id != self.exchange_id:
            self.exchange_id = exchange.id
            self._open(exchange.id, request, wanted[1])
        self._baseline = self.reply.send_button.disabled
        self._check(self.reply.text, refresh=False)

    def _open(self, exchange_id: str, request: dict[str, Any], schema: dict[str, Any] | None) -> None:
        name = schema_name(request)
        self.kind_line.value = (self.t("json_any_object") if schema is None else
                                self.t("json_schema_named", name=name or "schema"))
        self.schema_tile.visible = self.form_tile.visible = schema is not None
        self.form_problem.visible = False
        if schema is None:
            return
        shown = json.dumps(schema, ensure_ascii=False, indent=2)
        self.schema_text.value = shown if len(shown) <= _SCHEMA_SHOWN else shown[:_SCHEMA_SHOWN] + "\n…"
        self._forms = {key: form for key, form in self._forms.items() if key == exchange_id}
        if exchange_id not in self._forms:
            self._forms[exchange_id] = SchemaForm(schema, self.t)
        self.form_slot.content = self._forms[exchange_id].view

    def _editor_mode(self, json_mode: bool) -> None:
        field = self.reply.field
        label, hint, style = ((self.t("json_label"), self.t("json_hint"), MONO) if json_mode
                              else self._plain)
        field.show_label(label)
        field.hint_text, field.text_style = hint, style
        if not json_mode:
            field.show_error(None)
            field.helper = None

    # -- checking as the operator types ---------------------------------------------------------

    def problem(self, text: str) -> Problem | None:
        return structured_problem(self.request, text) if self.request is not None else None

    def on_text(self, text: str) -> None:
        """The reply box changed (a keystroke, a draft, the form): check it again."""
        if self.request is not None:
            self._check(text, refresh=True)

    def _check(self, text: str, refresh: bool) -> None:
        field, send = self.reply.field, self.reply.send_button
        blank = not text.strip()
        problem = None if blank else self.problem(text)
        error = str(problem) if problem is not None else None
        helper = self.t("json_ok") if not blank and problem is None else None
        disabled = self._baseline or blank or problem is not None
        changed = (field.error, field.helper, send.disabled) != (error, helper, disabled)
        field.show_error(error)
        field.helper, send.disabled = helper, disabled
        if refresh and changed:
            for control in (field, send):
                try:
                    control.update()
                except RuntimeError:
                    pass  # not on a page: it shows as it is when added

    # -- the form -------------------------------------------------------------------------------

    def _fill(self, _event: ft.Event | None = None) -> None:
        """The form's value, as JSON, into the reply box (replacing what was there)."""
        form = self.form
        if form is None:
            return
        own = form.own_problems()
        if own:
            path, key = own[0]
            self._show_form_problem(Problem(path, self.t(key)))
            return
        text = json.dumps(form.value(), ensure_ascii=False, indent=2)
        self._show_form_problem(self.problem(text))
        self.reply.replace(text)

    def _load(self, _event: ft.Event | None = None) -> None:
        """The reply box's JSON into the form, to go on with it there."""
        form = self.form
        if form is None:
            return
        try:
            form.set(parse_json(self.reply.text))
        except BadValue as bad:
            self._show_form_problem(Problem("json", self.t(str(bad))))
            return
        self._show_form_problem(None)

    def _show_form_problem(self, problem: Problem | None) -> None:
        self.form_problem.value = str(problem or "")
        self.form_problem.visible = problem is not None
        if self.form is not None:
            self.form.show_problem(problem.field if problem else None, problem.message if problem else "")
