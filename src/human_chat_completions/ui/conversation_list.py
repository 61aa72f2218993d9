"""The conversation list: who is waiting, for how long, in which mode."""

from __future__ import annotations

import time
from collections.abc import Callable

import flet as ft

from human_chat_completions.settings_store import SettingsStore
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.viewmodel import ConversationRow, format_wait

# Theme roles (ui/theme.py), so the same row reads well in light and dark. A closed row says in
# words and with its own icon whether it was answered or the participant left.
_STATUS_COLOR = {"waiting": ft.Colors.PRIMARY, "replying": ft.Colors.SECONDARY,
                 "idle": ft.Colors.ON_SURFACE_VARIANT, "abandoned": ft.Colors.TERTIARY,
                 "failed": ft.Colors.ERROR}
_STATUS_ICON = {"waiting": ft.Icons.CIRCLE, "replying": ft.Icons.CIRCLE,
                "idle": ft.Icons.CHECK_CIRCLE_OUTLINE, "abandoned": ft.Icons.CALL_MISSED,
                "failed": ft.Icons.ERROR_OUTLINE}
_MODE_COLOR = {"human": ft.Colors.SURFACE_CONTAINER_HIGHEST, "copilot": ft.Colors.PRIMARY_CONTAINER,
               "auto": ft.Colors.TERTIARY_CONTAINER}
# How long the longest wait has been: (border, chip, chip text, icon) for each level.
_LEVEL_LOOK = {
    "warn": (ft.Colors.TERTIARY, ft.Colors.TERTIARY_CONTAINER, ft.Colors.ON_TERTIARY_CONTAINER,
             ft.Icons.HOURGLASS_BOTTOM),
    "alert": (ft.Colors.ERROR, ft.Colors.ERROR_CONTAINER, ft.Colors.ON_ERROR_CONTAINER,
              ft.Icons.PRIORITY_HIGH),
}


def wait_level(seconds: float, warn_after: float, alert_after: float) -> str:
    """`ok`, `warn` (amber) or `alert` (red) for a participant waiting `seconds`."""
    if seconds >= alert_after:
        return "alert"
    return "warn" if seconds >= warn_after else "ok"


class _RowView:
    """One conversation's row. Kept across renders and changed in place: Flet tracks changes
    to a control it has sent, so the ticker can update a timer without a rebuild (a rebuilt,
    keyed row takes over the old one's place but not its change tracking, and its timer froze)."""

    def __init__(self, conversation_id: str, t: Translator,
                 on_click: Callable[[str], None]) -> None:
        self.t = t
        self.since: float | None = None
        self.waiting = False
        self.status_icon = ft.Icon(ft.Icons.CIRCLE, size=12)
        self.label = ft.Text("", expand=True, max_lines=1, overflow=ft.TextOverflow.ELLIPSIS)
        self.unread = ft.Icon(ft.Icons.MARK_CHAT_UNREAD, size=14, color=ft.Colors.ERROR, visible=False)
        self.armed = ft.Icon(ft.Icons.REPORT_GMAILERRORRED, size=14, color=ft.Colors.ERROR, visible=False,
                             semantics_label=t("armed_row"), tooltip=t("armed_row"))
        self.mode_text = ft.Text("", size=10)
        self.mode = ft.Container(self.mode_text, padding=ft.Padding(6, 1, 6, 1), border_radius=8)
        self.condition_text = ft.Text("", size=10, color=ft.Colors.ON_SECONDARY_CONTAINER)
        self.condition = ft.Container(self.condition_text, padding=ft.Padding(6, 1, 6, 1),
                                      border_radius=8, bgcolor=ft.Colors.SECONDARY_CONTAINER,
                                      border=ft.Border.all(1, ft.Colors.OUTLINE), visible=False)
        self.status = ft.Text("", size=12)
        self.level_icon = ft.Icon(ft.Icons.HOURGLASS_BOTTOM, size=12, visible=False)
        self.timer = ft.Text("", size=12)
        self.timer_chip = ft.Container(ft.Row([self.level_icon, self.timer], spacing=2, tight=True),
                                       padding=ft.Padding(4, 0, 4, 0), border_radius=6)
        self.preview = ft.Text("", size=12, color=ft.Colors.ON_SURFACE_VARIANT, max_lines=1,
                               overflow=ft.TextOverflow.ELLIPSIS)
        self.control = ft.Container(
            ft.Column([
                ft.Row([self.status_icon, self.label, self.armed, self.unread, self.mode], spacing=6),
                ft.Row([self.status, self.timer_chip, self.condition], spacing=8),
                self.preview,
            ], spacing=1, tight=True),
            padding=8, border_radius=8,
            on_click=lambda _event: on_click(conversation_id),
        )

    def show(self, row: ConversationRow, selected: bool) -> None:
        color = _STATUS_COLOR[row.status]
        self.since, self.waiting = row.waiting_since, row.status == "waiting"
        self.status_icon.icon, self.status_icon.color = _STATUS_ICON[row.status], color
        self.label.value = row.label
        self.label.weight = ft.FontWeight.BOLD if row.unread else ft.FontWeight.NORMAL
        self.unread.visible = row.unread
        self.armed.visible = row.armed
        self.mode_text.value = self.t(f"mode_{row.mode.value}")
        self.mode.bgcolor = _MODE_COLOR[row.mode.value]
        self.status.value = self.t(f"state_{row.status}")
        self.status.color = color if row.status in ("abandoned", "failed") else None
        self.status.italic = row.status == "abandoned"
        self.preview.value = row.preview
        self.condition.visible = row.condition is not None
        self.condition_text.value = row.condition or ""
        self.control.bgcolor = ft.Colors.SECONDARY_CONTAINER if selected else None
        self.control.opacity = 0.45 if row.side_only else 1.0

    def tick(self, now: float, level: str) -> None:
        """The timer's text, and its look for the wait `level` (colour never alone: a word too)."""
        self.timer.value = format_wait(now - self.since) if self.since is not None else ""
        look = _LEVEL_LOOK.get(level)
        self.control.border = ft.Border.all(2, look[0]) if look else None
        self.timer_chip.bgcolor = look[1] if look else None
        self.timer.color = look[2] if look else ft.Colors.PRIMARY
        self.timer.weight = ft.FontWeight.BOLD if look else None
        self.level_icon.visible = look is not None
        if look is not None:
            self.level_icon.icon, self.level_icon.color = look[3], look[2]
            self.level_icon.semantics_label = self.t(f"wait_{level}")


class ConversationList:
    """Renders rows; one ticker (`tick`, called every second by the window) keeps every waiting
    row's timer and the longest wait's colour current, whatever else redraws."""

    def __init__(self, t: Translator, on_select: Callable[[str], None],
                 settings: SettingsStore | None = None,
                 on_filter: Callable[[str | None], None] | None = None) -> None:
        self.t = t
        self.on_select = on_select
        self.on_filter = on_filter
        self.settings_store = settings
        self.rows_view = ft.ListView(expand=True, spacing=2)
        # Shown once conversations of a study arrive: the operator can keep to one condition.
        self.filter = ft.Dropdown(label=t("condition_filter"), dense=True, on_select=self._filtered,
                                  value="")
        # Named for screen readers; shown and hidden as a whole (Flet refuses a Semantics whose
        # content is invisible).
        self.filter_named = ft.Semantics(label=t("condition_filter"), content=self.filter,
                                         visible=False)
        self.view = ft.Column([self.filter_named, self.rows_view], expand=True, spacing=4)
        self._rows: dict[str, _RowView] = {}
        self._order: list[str] = []
        self._shown: dict[str, tuple[str, str]] = {}  # id -> (timer text, level) on screen

    def render(self, rows: list[ConversationRow], selected: str | None,
               conditions: list[str] | None = None) -> None:
        self._show_filter(conditions or [])
        if not rows:
            self._rows, self._order, self._shown = {}, [], {}
            self.rows_view.controls = [ft.Container(ft.Text(self.t("no_conversations"), italic=True),
                                                    padding=12)]
            return
        views = {row.id: self._rows.get(row.id) or _RowView(row.id, self.t, self._clicked) for row in rows}
        for row in rows:
            views[row.id].show(row, row.id == selected)
        self._rows = views
        self._order = [row.id for row in rows]
        self._shown = {}
        self.rows_view.controls = [views[conversation_id].control for conversation_id in self._order]
        self.tick()

    def _show_filter(self, conditions: list[str]) -> None:
        self.filter_named.visible = bool(conditions)
        options = [ft.DropdownOption(key="", text=self.t("condition_all"))]
        options += [ft.DropdownOption(key=name, text=name) for name in conditions]
        if [o.key for o in options] != [o.key for o in self.filter.options or []]:
            self.filter.options = options

    def _filtered(self, event: ft.Event) -> None:
        if self.on_filter is not None:
            self.on_filter(self.filter.value or None)

    def _clicked(self, conversation_id: str) -> None:
        self.on_select(conversation_id)  # looked up at click time: the layout may wrap it

    def _limits(self) -> tuple[float, float]:
        if self.settings_store is None:
            return 30.0, 60.0
        settings = self.settings_store.current
        return settings.wait_warn_seconds, settings.wait_alert_seconds

    def tick(self, now: float | None = None) -> bool:
        """Advance the waiting timers; True if anything on screen changed."""
        now = time.time() if now is None else now
        warn_after, alert_after = self._limits()
        # Rows come longest wait first: the first waiting one is the participant to answer now.
        longest = next((i for i in self._order if self._rows[i].waiting), None)
        changed = False
        for conversation_id in self._order:
            view = self._rows[conversation_id]
            level = "ok"
            if conversation_id == longest and view.since is not None:
                level = wait_level(now - view.since, warn_after, alert_after)
            shown = (format_wait(now - view.since) if view.since is not None else "", level)
            if self._shown.get(conversation_id) != shown:
                view.tick(now, level)
                self._shown[conversation_id] = shown
                changed = True
        return changed
