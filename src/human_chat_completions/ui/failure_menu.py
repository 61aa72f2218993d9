"""Error injection from the window: a small menu beside Send ends a request with a failure.

Researchers cue failures to see how participants meet them. Each preset is what a provider sends
(the API layer gives it the shape and headers of the API the client used); the participant sees
it, so the window asks first. The record names what was injected (`injected_error`).

A response whose headers already went out (a stream, or a non-stream request past
`nonstream_headers_after`) can no longer change its status: the menu's second part arms a preset
for the conversation's *next* request instead, which then fails before its response starts, so
even a streaming app meets the real status. Arming reaches nobody until that request comes, so
it is not asked about; a banner over the reply box shows it, with Cancel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import flet as ft

from human_chat_completions.core import Exchange, ExchangeClosedError, Switchboard
from human_chat_completions.core.conversation import Conversation
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

    @property
    def code(self) -> str:
        return DROPPED if self.status is None else "injected_error"


PRESETS = (
    Preset("429", 429, "Rate limit reached. Please try again later."),
    Preset("500", 500, "The server had an error while processing your request. Sorry about that!"),
    Preset("503", 503, "The server is overloaded or not ready yet."),
    Preset("529", 529, "Overloaded"),
    Preset("drop", None, "The connection was closed."),
)


def inject(switchboard: Switchboard, exchange_id: str, preset: Preset) -> Exchange:
    """End the exchange with the preset's failure, marked as injected."""
    return switchboard.fail(exchange_id, preset.message, preset.code, status=preset.status, injected=True)


def arm(switchboard: Switchboard, conversation_id: str, preset: Preset) -> Conversation:
    """The conversation's next request gets the preset's failure before its response starts."""
    return switchboard.arm_failure(conversation_id, preset.message, preset.code, preset.status)


def armed_preset(conversation: Conversation | None) -> Preset | None:
    """What the conversation's next request will get, as a preset (found by its status: the
    operator API may word the message otherwise)."""
    error = conversation.armed_failure if conversation is not None else None
    if error is None:
        return None
    key = "drop" if error.drops_connection else str(error.status)
    return next((preset for preset in PRESETS if preset.key == key),
                Preset(key, error.status, error.message))


def preset_name(t: Translator, preset: Preset) -> str:
    key = f"fail_{preset.key}"
    return t(key) if key in t.strings else str(preset.status)


class FailureMenu:
    """The "Inject an error" button beside Send (this request's failure, or the next request's)
    and the banner of a failure armed for the conversation the console shows."""

    def __init__(self, switchboard: Switchboard, state: OperatorState, t: Translator,
                 on_done: Callable[[], None]) -> None:
        self.switchboard, self.state, self.t, self.on_done = switchboard, state, t, on_done
        self.exchange: Exchange | None = None
        self.conversation_id: str | None = None
        self.dialog: ft.AlertDialog | None = None
        self.now_items = [ft.PopupMenuItem(content=preset_name(t, preset),
                                           on_click=lambda _event, preset=preset: self.ask(preset))
                          for preset in PRESETS]
        self.divider = ft.PopupMenuItem()  # an item without content is a divider
        self.next_items = [ft.PopupMenuItem(content=t("fail_next_item", preset=preset_name(t, preset)),
                                            on_click=lambda _event, preset=preset: self.arm(preset))
                           for preset in PRESETS]
        # The icon's label names the button for screen readers (a tooltip alone does not).
        self.view = ft.PopupMenuButton(
            icon=ft.Icon(ft.Icons.REPORT_GMAILERRORRED, semantics_label=t("fail_menu")),
            tooltip=t("fail_menu"), disabled=True,
            items=[*self.now_items, self.divider, *self.next_items])
        self.banner_text = ft.Text("", size=13, weight=ft.FontWeight.BOLD,
                                   color=ft.Colors.ON_ERROR_CONTAINER)
        self.banner = ft.Container(
            ft.Row([ft.Icon(ft.Icons.REPORT_GMAILERRORRED, size=18, color=ft.Colors.ON_ERROR_CONTAINER),
                    self.banner_text,
                    ft.TextButton(t("armed_cancel"), on_click=lambda _event: self.disarm(),
                                  style=ft.ButtonStyle(color=ft.Colors.ON_ERROR_CONTAINER))],
                   spacing=8, wrap=True, vertical_alignment=ft.CrossAxisAlignment.CENTER),
            bgcolor=ft.Colors.ERROR_CONTAINER, border_radius=8, padding=ft.Padding(10, 2, 4, 2),
            visible=False)

    def show(self, exchange: Exchange | None, conversation: Conversation | None = None) -> None:
        """The console shows `conversation` and its open `exchange` (None between turns)."""
        self.exchange = exchange if exchange is not None and exchange.state.open else None
        self.conversation_id = conversation.id if conversation is not None else None
        held = self.state.signed_in is not None and self.state.held_by_other(exchange) is not None
        now = self.exchange is not None and not held
        for item in (*self.now_items, self.divider):
            item.visible = now
        self.view.disabled = self.conversation_id is None and not now
        armed = armed_preset(conversation)
        self.banner.visible = armed is not None
        if armed is not None:
            self.banner_text.value = self.t("armed_banner", preset=preset_name(self.t, armed))

    def ask(self, preset: Preset) -> None:
        """The participant will see it: confirm first."""
        exchange, page = self.exchange, self.view.page
        if exchange is None or page is None:
            return
        name = preset_name(self.t, preset)
        explained = (self.t("fail_drop_explained") if preset.status is None
                     else self.t("fail_explained", message=preset.message))
        self.dialog = ft.AlertDialog(
            modal=True, title=ft.Text(self.t("fail_title", preset=name)),
            content=ft.Container(ft.Text(explained), width=480),
            actions=[ft.TextButton(self.t("fail_cancel"), on_click=lambda _event: self._close()),
                     ft.Button(self.t("fail_send"), icon=ft.Icons.REPORT_GMAILERRORRED,
                               on_click=lambda _event: self._fire(exchange, preset))])
        page.show_dialog(self.dialog)

    def arm(self, preset: Preset) -> None:
        """The conversation's next request gets this failure (replacing one armed before)."""
        if self.conversation_id is None:
            return
        with contextlib.suppress(KeyError):  # the conversation is gone
            arm(self.switchboard, self.conversation_id, preset)
        self.on_done()

    def disarm(self) -> None:
        if self.conversation_id is None:
            return
        with contextlib.suppress(KeyError):
            self.switchboard.disarm_failure(self.conversation_id)
        self.on_done()

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
