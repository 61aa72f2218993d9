"""The copilot's part of the console: drafts to use, regenerate with a hint, take over auto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import flet as ft

from human_chat_completions.core import Exchange, Mode
from human_chat_completions.core.exchange import Draft
from human_chat_completions.ui.i18n import Translator


class CopilotActions(Protocol):
    """What the panel asks of the copilot (the copilot service satisfies this)."""

    @property
    def available(self) -> bool: ...

    def regenerate(self, exchange_id: str, instruction: str | None = None) -> None: ...

    def take_over(self, exchange_id: str) -> bool: ...

    def auto_running(self, exchange_id: str) -> bool: ...


class CopilotPanel:
    """Shows the drafts of the exchange being answered; `render` again when they change."""

    def __init__(self, t: Translator, copilot: CopilotActions | None,
                 on_use: Callable[[Exchange, Draft], None]) -> None:
        self.t = t
        self.copilot = copilot
        self.on_use = on_use
        self.exchange: Exchange | None = None
        self.drafts = ft.Column(spacing=6, tight=True)
        self.instruction = ft.TextField(hint_text=t("regenerate_hint"), dense=True, expand=True)
        self.regenerate_row = ft.Row(
            [self.instruction, ft.OutlinedButton(t("regenerate_drafts"), icon=ft.Icons.REFRESH,
                                                 on_click=self._regenerate)])
        self.auto_note = ft.Text(t("auto_writing"), size=12, italic=True, expand=True)
        self.take_over_row = ft.Row([self.auto_note, ft.FilledButton(
            t("take_over"), icon=ft.Icons.PAN_TOOL, on_click=self._take_over)])
        self.title = ft.Text(t("drafts"), size=12, weight=ft.FontWeight.BOLD)
        self.view = ft.Container(
            ft.Column([self.title, self.drafts,
                       self.regenerate_row, self.take_over_row], spacing=6, tight=True),
            bgcolor=ft.Colors.SURFACE_CONTAINER_HIGH, padding=8, border_radius=6, visible=False,
        )

    def render(self, exchange: Exchange | None) -> None:
        self.exchange = exchange
        available = self.copilot is not None and self.copilot.available
        if exchange is None or not available:
            self.view.visible = False
            return
        auto = self.copilot.auto_running(exchange.id)  # type: ignore[union-attr]
        copilot_mode = exchange.mode is Mode.COPILOT or bool(exchange.drafts)
        self.view.visible = auto or copilot_mode
        # An auto answer is no copilot draft: the panel says which it shows.
        self.title.value = self.t("drafts" if copilot_mode else "auto_answer")
        self.take_over_row.visible = auto
        self.regenerate_row.visible = copilot_mode
        self.drafts.controls = [self._draft(index, draft, exchange)
                                for index, draft in enumerate(exchange.drafts)]

    def _draft(self, index: int, draft: Draft, exchange: Exchange) -> ft.Control:
        t = self.t
        title = t("draft_title", number=index + 1)
        if draft.instruction:
            title += f" · {draft.instruction}"
        if draft.error:
            body: ft.Control = ft.Text(t("draft_failed", error=draft.error), color=ft.Colors.ERROR,
                                       size=13)
        else:
            body = ft.Text(draft.text or t("draft_writing"), size=13,
                           italic=not draft.text)
        use = ft.TextButton(t("use_draft"), icon=ft.Icons.EDIT_NOTE, disabled=not draft.text,
                            on_click=lambda _event, chosen=draft: self.on_use(exchange, chosen))
        chosen = exchange.chosen_draft_id == draft.id
        return ft.Container(
            ft.Row([ft.Column([ft.Text(title, size=11, color=ft.Colors.ON_SURFACE_VARIANT), body], spacing=2,
                              tight=True, expand=True), use],
                   vertical_alignment=ft.CrossAxisAlignment.START),
            bgcolor=ft.Colors.SURFACE_CONTAINER_LOWEST, padding=8, border_radius=6,
            border=ft.Border.all(2, ft.Colors.PRIMARY) if chosen else None,
        )

    def _regenerate(self, _event: ft.Event) -> None:
        if self.exchange is not None and self.copilot is not None:
            self.copilot.regenerate(self.exchange.id, (self.instruction.value or "").strip() or None)
            self.instruction.value = ""

    def _take_over(self, _event: ft.Event) -> None:
        if self.exchange is not None and self.copilot is not None:
            self.copilot.take_over(self.exchange.id)
