"""The console's notice: "new request from …" and the copilot's word on an exchange.

It has its own place in the console's header, so it never covers the editor or the canned
replies (a snack bar sat on top of both for seconds, just when the operator was typing).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import flet as ft

SHOWN_SECONDS = 6.0


class Notice:
    """One line that shows for a few seconds; a click goes to the conversation it is about."""

    def __init__(self, on_open: Callable[[str], None]) -> None:
        self.on_open = on_open
        self.conversation_id: str | None = None
        self.until = 0.0
        self.icon = ft.Icon(ft.Icons.NOTIFICATIONS_ACTIVE, size=16)
        self.text = ft.Text("", size=13, max_lines=1, overflow=ft.TextOverflow.ELLIPSIS)
        self.view = ft.Container(
            ft.Row([self.icon, self.text], spacing=6, tight=True),
            padding=ft.Padding(10, 4, 10, 4), border_radius=16, visible=False,
            on_click=lambda _event: self._open(),
        )

    def show(self, text: str, conversation_id: str | None, alert: bool = False,
             seconds: float = SHOWN_SECONDS) -> None:
        self.text.value, self.conversation_id = text, conversation_id
        self.until = time.time() + seconds
        # Theme role pairs (ui/theme.py): readable in light and dark.
        self.view.bgcolor = ft.Colors.ERROR_CONTAINER if alert else ft.Colors.PRIMARY_CONTAINER
        self.text.color = self.icon.color = (ft.Colors.ON_ERROR_CONTAINER if alert
                                             else ft.Colors.ON_PRIMARY_CONTAINER)
        self.view.visible = True

    def expire(self, now: float | None = None) -> bool:
        """Hide it once its time is up; True if that changed the screen."""
        if self.view.visible and (time.time() if now is None else now) >= self.until:
            self.view.visible = False
            return True
        return False

    def seen(self, conversation_id: str | None) -> None:
        """The operator is looking at that conversation: a notice about it has done its work."""
        if self.view.visible and conversation_id is not None and conversation_id == self.conversation_id:
            self.view.visible = False

    def _open(self) -> None:
        self.view.visible = False
        if self.conversation_id is not None:
            self.on_open(self.conversation_id)
