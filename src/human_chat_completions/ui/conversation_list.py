"""The conversation list: who is waiting, for how long, in which mode."""

from __future__ import annotations

import time
from collections.abc import Callable

import flet as ft

from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.viewmodel import ConversationRow, format_wait

# Theme roles (ui/theme.py), so the same row reads well in light and dark.
_STATUS_COLOR = {"waiting": ft.Colors.ERROR, "replying": ft.Colors.TERTIARY, "idle": ft.Colors.ON_SURFACE_VARIANT}
_MODE_COLOR = {"human": ft.Colors.SURFACE_CONTAINER_HIGHEST, "copilot": ft.Colors.PRIMARY_CONTAINER,
               "auto": ft.Colors.TERTIARY_CONTAINER}


class ConversationList:
    """Renders rows; keeps each waiting row's timer text so the clock ticks without a rebuild."""

    def __init__(self, t: Translator, on_select: Callable[[str], None]) -> None:
        self.t = t
        self.on_select = on_select
        self.view = ft.ListView(expand=True, spacing=2)
        self._timers: dict[str, tuple[ft.Text, float]] = {}

    def render(self, rows: list[ConversationRow], selected: str | None) -> None:
        self._timers = {}
        if not rows:
            self.view.controls = [ft.Container(ft.Text(self.t("no_conversations"), italic=True), padding=12)]
            return
        self.view.controls = [self._row(row, row.id == selected) for row in rows]

    def _row(self, row: ConversationRow, selected: bool) -> ft.Control:
        timer = ft.Text(self._timer_text(row.waiting_since), size=12, color=_STATUS_COLOR[row.status])
        if row.waiting_since is not None:
            self._timers[row.id] = (timer, row.waiting_since)
        badge = ft.Container(
            ft.Text(self.t(f"mode_{row.mode.value}"), size=10),
            bgcolor=_MODE_COLOR[row.mode.value], padding=ft.Padding(6, 1, 6, 1), border_radius=8,
        )
        title = ft.Row(
            [
                ft.Icon(ft.Icons.CIRCLE, size=10, color=_STATUS_COLOR[row.status]),
                ft.Text(row.label, weight=ft.FontWeight.BOLD if row.unread else ft.FontWeight.NORMAL,
                        expand=True, max_lines=1, overflow=ft.TextOverflow.ELLIPSIS),
                *( [ft.Icon(ft.Icons.MARK_CHAT_UNREAD, size=14, color=ft.Colors.ERROR)] if row.unread else []),
                badge,
            ],
            spacing=6,
        )
        status = ft.Row([ft.Text(self.t(f"state_{row.status}"), size=12), timer], spacing=8)
        preview = ft.Text(row.preview, size=12, color=ft.Colors.ON_SURFACE_VARIANT, max_lines=1,
                          overflow=ft.TextOverflow.ELLIPSIS)
        return ft.Container(
            ft.Column([title, status, preview], spacing=1, tight=True),
            padding=8,
            border_radius=8,
            bgcolor=ft.Colors.SECONDARY_CONTAINER if selected else None,
            opacity=0.45 if row.side_only else 1.0,
            on_click=lambda _event, conversation_id=row.id: self.on_select(conversation_id),
            key=row.id,
        )

    def _timer_text(self, since: float | None) -> str:
        if since is None:
            return ""
        return format_wait(time.time() - since)

    def tick(self) -> bool:
        """Advance the waiting timers; True if anything changed."""
        for text, since in self._timers.values():
            text.value = self._timer_text(since)
        return bool(self._timers)
