"""The illusion guard in the window: a reply holding a guard phrase waits for the operator's word."""

from __future__ import annotations

from collections.abc import Callable

import flet as ft

from human_chat_completions.core.study import guard_span
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.redraw import redraw_after_the_reply

_MARK = ft.TextStyle(bgcolor=ft.Colors.ERROR_CONTAINER, color=ft.Colors.ON_ERROR_CONTAINER,
                     weight=ft.FontWeight.BOLD)


def marked(text: str, phrase: str) -> ft.Text:
    """The reply with the phrase marked (colour and weight, and the dialog names it in words)."""
    span = guard_span(text, phrase)
    if span is None:
        return ft.Text(text, selectable=False)
    start, end = span
    return ft.Text(spans=[ft.TextSpan(text[:start]), ft.TextSpan(text[start:end], style=_MARK),
                          ft.TextSpan(text[end:])])


class GuardDialog:
    """Asks before a reply with a guard phrase goes: Send anyway, or keep editing."""

    def __init__(self, t: Translator, text: str, phrase: str, on_send: Callable[[], None]) -> None:
        self.on_send = on_send
        self.dialog = ft.AlertDialog(
            modal=True,
            title=ft.Text(t("guard_title")),
            content=ft.Column([ft.Text(t("guard_explained", phrase=phrase)),
                               ft.Container(marked(text, phrase), padding=8, border_radius=8,
                                            border=ft.Border.all(1, ft.Colors.OUTLINE))],
                              tight=True, width=520),
            actions=[ft.TextButton(t("guard_edit"), on_click=self._edit),
                     ft.Button(t("guard_send"), icon=ft.Icons.SEND, on_click=self._send)],
        )
        self.page: ft.Page | None = None

    def open(self, page: ft.Page) -> None:
        self.page = page
        page.show_dialog(self.dialog)

    def _close(self) -> None:
        if self.page is not None:
            self.page.pop_dialog()

    def _edit(self, _event: ft.Event) -> None:
        self._close()

    def _send(self, _event: ft.Event) -> None:
        self.on_send()
        redraw_after_the_reply(self._close)
