"""The console's keyboard: one table of shortcuts, read by the key handler and by the help list.

Flet reports every key press to `page.on_keyboard_event`, focused field or not, with Flutter's
key label ("Arrow Down", "Enter", "F1", "U") and the modifiers; a field with `shift_enter`
reports a plain Enter as its submit, which is how Enter sends (ui/editor.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import flet as ft

from human_chat_completions.core import Mode
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.viewmodel import ConversationRow

if TYPE_CHECKING:
    from human_chat_completions.ui.console import Console

_ALT_LETTERS = {"U": "use_draft", "R": "regenerate", "T": "take_over",
                "H": "mode:human", "C": "mode:copilot", "A": "mode:auto"}


@dataclass(frozen=True)
class Press:
    """One key press as Flet reports it."""

    key: str
    alt: bool = False
    ctrl: bool = False
    meta: bool = False

    @classmethod
    def of(cls, event: ft.KeyboardEvent) -> Press:
        return cls(event.key, bool(event.alt), bool(event.ctrl), bool(event.meta))


def action_for(press: Press, send_key: str) -> str | None:
    """What a key press asks of the console ("next", "canned:3", "mode:auto"…), or None."""
    if press.key == "F1":
        return "help"
    if press.key == "Enter" and (press.ctrl or press.meta):
        # With Enter to send, the field's own submit already took Ctrl+Enter.
        return "send" if send_key == "ctrl_enter" else None
    if not press.alt or press.ctrl or press.meta:
        return None
    if press.key in ("Arrow Down", "Arrow Up"):
        return "next" if press.key == "Arrow Down" else "previous"
    if len(press.key) == 1 and press.key in "123456789":
        return f"canned:{press.key}"
    return _ALT_LETTERS.get(press.key.upper())


def next_waiting(rows: list[ConversationRow], selected: str | None, step: int,
                 answered: Callable[[ConversationRow], bool]) -> str | None:
    """The conversation Alt+↓ (`step` 1) or Alt+↑ (-1) goes to: the nearest one down (or up) the
    list, wrapping around, that still waits for the operator."""
    ids = [row.id for row in rows]
    start = ids.index(selected) if selected in ids else (-1 if step > 0 else len(ids))
    for offset in range(1, len(rows) + 1):
        row = rows[(start + step * offset) % len(rows)]
        if row.id != selected and row.status != "idle" and not answered(row):
            return row.id
    return None


def shortcut_list(send_key: str) -> list[tuple[str, str]]:
    """(keys, string key of what they do), in the order the help shows them."""
    send, newline = ("Enter", "Shift+Enter") if send_key == "enter" else ("Ctrl+Enter", "Enter")
    return [
        (send, "key_send"), (newline, "key_newline"),
        ("Alt+↓", "key_next"), ("Alt+↑", "key_previous"),
        ("Alt+1 … 9", "key_canned"),
        ("Alt+U", "key_use_draft"), ("Alt+R", "key_regenerate"), ("Alt+T", "key_take_over"),
        ("Alt+H", "key_mode_human"), ("Alt+C", "key_mode_copilot"), ("Alt+A", "key_mode_auto"),
        ("F1", "key_help"),
    ]


def help_dialog(t: Translator, send_key: str, on_close: Callable[[], object]) -> ft.AlertDialog:
    rows: list[ft.Control] = [
        ft.Row([ft.Container(ft.Text(keys, weight=ft.FontWeight.BOLD), width=130), ft.Text(t(label))],
               vertical_alignment=ft.CrossAxisAlignment.START)
        for keys, label in shortcut_list(send_key)
    ]
    rows += [ft.Divider(height=8), ft.Text(t("keys_mac_note"), size=12, italic=True),
             ft.Text(t("keys_ime_note"), size=12, italic=True)]
    return ft.AlertDialog(
        title=ft.Text(t("keys_title")),
        content=ft.Column(rows, tight=True, spacing=6, width=460, scroll=ft.ScrollMode.AUTO),
        actions=[ft.TextButton(t("keys_close"), on_click=lambda _event: on_close())],
    )


class Shortcuts:
    """Runs the console's shortcuts; `handle` returns True when the screen may have changed."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def handle(self, event: ft.KeyboardEvent) -> bool:
        console = self.console
        action = action_for(Press.of(event), console.settings.send_key)
        if action is None or (action == "send" and not console.reply.focused):
            return False
        kind, _, argument = action.partition(":")
        if kind == "canned":
            return self._canned(int(argument))
        if kind == "mode":
            return self._mode(Mode(argument))
        run: dict[str, Callable[[], bool]] = {
            "send": self._send, "next": lambda: self._move(1), "previous": lambda: self._move(-1),
            "use_draft": self._use_draft, "regenerate": self._regenerate,
            "take_over": self._take_over, "help": self.show_help,
        }
        return run[action]()

    def _send(self) -> bool:
        self.console.reply.send_from_ui()
        return True

    def _move(self, step: int) -> bool:
        console = self.console
        rows = console.state.rows(console.switchboard)
        target = next_waiting(rows, console.state.selected, step, console.answered_here)
        if target is None:
            return False
        console.select(target, from_keys=True)  # the focus never left the editor
        console.reply.request_focus()
        return True

    def _canned(self, number: int) -> bool:
        replies = self.console.settings.canned_replies
        if number > len(replies):
            return False
        self.console.reply.insert(replies[number - 1])
        return True

    def _use_draft(self) -> bool:
        exchange = self.console.reply.exchange
        draft = next((d for d in exchange.drafts if d.text and not d.error), None) if exchange else None
        if exchange is None or draft is None:
            return False
        self.console.use_draft(exchange, draft)
        return True

    def _regenerate(self) -> bool:
        console, exchange = self.console, self.console.reply.exchange
        copilot = console.copilot
        if exchange is None or copilot is None or not copilot.available:
            return False
        instruction = (console.copilot_panel.instruction.value or "").strip() or None
        console.copilot_panel.instruction.value = ""
        copilot.regenerate(exchange.id, instruction)
        return True

    def _take_over(self) -> bool:
        console, exchange = self.console, self.console.reply.exchange
        if exchange is None or console.copilot is None or not console.copilot.auto_running(exchange.id):
            return False
        console.copilot.take_over(exchange.id)
        console.reply.request_focus()
        return True

    def _mode(self, mode: Mode) -> bool:
        console = self.console
        if console.state.selected is None or mode not in console.available_modes:
            return False
        console.choose_mode(mode)
        return True

    def show_help(self) -> bool:
        try:
            page = self.console.view.page
        except RuntimeError:
            return False  # the console is not on screen (yet)
        page.show_dialog(help_dialog(self.console.t, self.console.settings.send_key, page.pop_dialog))
        return True
