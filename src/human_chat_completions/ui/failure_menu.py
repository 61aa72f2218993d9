"""Error injection from the window: a small menu beside Send ends the request with a failure.

Researchers cue failures to see how participants meet them. Each preset is what a provider sends
(the API layer gives it the shape and headers of the API the client used); the participant sees
it, so the window asks first. The record names what was injected (`injected_error`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import flet as ft

from human_chat_completions.core import Exchange, ExchangeClosedError, Switchboard
from human_chat_completions.core.stream import DROPPED
from human_chat_completions.core.switchboard import ExchangeClaimedError
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.viewmodel import OperatorState


@dataclass(frozen=True)
class Preset:
    """One failure: `status` is the HTTP status (None: the connection is cut instead)."""

    key: str
    status: int | None
    message: str  # as a provider words it: the client shows it, in English as theirs do


PRESETS = (
    Preset("429", 429, "Rate limit reached. Please try again later."),
    Preset("500", 500, "The server had an error while processing your request. Sorry about that!"),
    Preset("503", 503, "The server is overloaded or not ready yet."),
    Preset("529", 529, "Overloaded"),
    Preset("drop", None, "The connection was closed."),
)


def inject(switchboard: Switchboard, exchange_id: str, preset: Preset) -> Exchange:
    """End the exchange with the preset's failure, marked as injected."""
    code = DROPPED if preset.status is None else "injected_error"
    return switchboard.fail(exchange_id, preset.message, code, status=preset.status, injected=True)


class FailureMenu:
    """The "Inject an error" button and its confirmation, for the exchange the console shows."""

    def __init__(self, switchboard: Switchboard, state: OperatorState, t: Translator,
                 on_done: Callable[[], None]) -> None:
        self.switchboard, self.state, self.t, self.on_done = switchboard, state, t, on_done
        self.exchange: Exchange | None = None
        self.dialog: ft.AlertDialog | None = None
        # The icon's label names the button for screen readers (a tooltip alone does not).
        self.view = ft.PopupMenuButton(
            icon=ft.Icon(ft.Icons.REPORT_GMAILERRORRED, semantics_label=t("fail_menu")),
            tooltip=t("fail_menu"), disabled=True,
            items=[ft.PopupMenuItem(content=t(f"fail_{preset.key}"),
                                    on_click=lambda _event, preset=preset: self.ask(preset))
                   for preset in PRESETS])

    def show(self, exchange: Exchange | None) -> None:
        self.exchange = exchange if exchange is not None and exchange.state.open else None
        held = self.state.signed_in is not None and self.state.held_by_other(exchange) is not None
        self.view.disabled = self.exchange is None or held

    def ask(self, preset: Preset) -> None:
        """The participant will see it: confirm first."""
        exchange, page = self.exchange, self.view.page
        if exchange is None or page is None:
            return
        name = self.t(f"fail_{preset.key}")
        explained = (self.t("fail_drop_explained") if preset.status is None
                     else self.t("fail_explained", message=preset.message))
        self.dialog = ft.AlertDialog(
            modal=True, title=ft.Text(self.t("fail_title", preset=name)),
            content=ft.Container(ft.Text(explained), width=480),
            actions=[ft.TextButton(self.t("fail_cancel"), on_click=lambda _event: self._close()),
                     ft.Button(self.t("fail_send"), icon=ft.Icons.REPORT_GMAILERRORRED,
                               on_click=lambda _event: self._fire(exchange, preset))])
        page.show_dialog(self.dialog)

    def _close(self) -> None:
        page = self.view.page
        if self.dialog is not None and page is not None:
            page.pop_dialog()
        self.dialog = None

    def _fire(self, exchange: Exchange, preset: Preset) -> None:
        self._close()
        with contextlib.suppress(ExchangeClosedError, ExchangeClaimedError):  # answered meanwhile
            if self.state.signed_in is not None:
                self.switchboard.claim(exchange.id, self.state.signed_in)
            inject(self.switchboard, exchange.id, preset)
        self.on_done()
