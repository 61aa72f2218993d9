"""The console laid out for the room it gets.

From a wide window down to 800 × 500 the transcript and the editor must stay: in a window
narrower than `NARROW_BELOW`, the conversation list leaves the row and slides over the
transcript as a drawer instead, opened from the rail's menu button (and at once while no
conversation is chosen) and closed once one is.
"""

from __future__ import annotations

from collections.abc import Callable

import flet as ft

from human_chat_completions.ui.console import Console
from human_chat_completions.ui.i18n import Translator

NARROW_BELOW = 1000  # the window's width, in logical pixels
DRAWER_WIDTH = 300


class ResponsiveConsole:
    """Wraps `console.view`: `.view` goes in the window, `.toggle` in the rail, `.on_resize`
    on the page.

    `show_console`: called before the drawer opens, so the button works from any page.
    """

    def __init__(self, console: Console, t: Translator,
                 show_console: Callable[[], None] | None = None) -> None:
        self.console = console
        self.show_console = show_console
        self.narrow = False
        self.list = console.conversations.view
        self.slot, self.divider = self._find_slot()
        self.drawer = ft.Container(
            left=0, top=0, bottom=0, width=DRAWER_WIDTH, padding=8, visible=False,
            bgcolor=ft.Colors.SURFACE_CONTAINER_LOW, border_radius=ft.BorderRadius.only(
                top_right=12, bottom_right=12),
            shadow=ft.BoxShadow(blur_radius=16, color=ft.Colors.with_opacity(0.4, ft.Colors.SHADOW)),
        )
        self.scrim = ft.Container(left=0, top=0, right=0, bottom=0, visible=False,
                                  bgcolor=ft.Colors.with_opacity(0.4, ft.Colors.SCRIM),
                                  on_click=lambda _event: self.close())
        self.view = ft.Stack([console.view, self.scrim, self.drawer], fit=ft.StackFit.EXPAND,
                             expand=True)
        # The icon's label names the button for screen readers (a tooltip alone does not).
        self.toggle = ft.IconButton(ft.Icon(ft.Icons.MENU, semantics_label=t("show_conversations")),
                                    tooltip=t("show_conversations"), visible=False,
                                    on_click=lambda _event: self.open())
        chosen = console.conversations.on_select

        def select_and_close(conversation_id: str) -> None:
            chosen(conversation_id)
            self.close()

        console.conversations.on_select = select_and_close

    def _find_slot(self) -> tuple[ft.Container | None, ft.Control | None]:
        """The console's own place for the list (and the divider after it); None if its layout
        changed, and then the list simply stays where the console put it."""
        row = self.console.view
        controls = list(getattr(row, "controls", []))
        for index, control in enumerate(controls):
            if isinstance(control, ft.Container) and control.content is self.list:
                after = controls[index + 1] if index + 1 < len(controls) else None
                return control, after if isinstance(after, ft.VerticalDivider) else None
        return None, None

    def fit(self, width: float | None) -> bool:
        """Lay out for a window `width` px wide (None: not known, wide); True if anything moved."""
        narrow = width is not None and width < NARROW_BELOW and self.slot is not None
        if narrow == self.narrow:
            return False
        self.narrow = narrow
        self.toggle.visible = narrow
        if self.slot is not None:
            self.slot.visible = not narrow
            self.slot.content = None if narrow else self.list
        if self.divider is not None:
            self.divider.visible = not narrow
        self.drawer.content = self.list if narrow else None
        # Nothing chosen yet: the list is what the operator needs first.
        self._show(narrow and self.console.state.selected is None)
        return True

    def open(self) -> None:
        if not self.narrow:
            return
        if self.show_console is not None:
            self.show_console()
        self._show(True)
        self._update()

    def close(self) -> None:
        if self.drawer.visible:
            self._show(False)
            self._update()

    def _show(self, drawer: bool) -> None:
        self.drawer.visible = self.scrim.visible = drawer

    def on_resize(self, event: ft.PageResizeEvent) -> None:
        if self.fit(event.width):
            self._update()

    def _update(self) -> None:
        """The whole page: opening from another page swaps the body too."""
        for control in (self.toggle, self.view):
            try:
                control.page.update()
                return
            except RuntimeError:
                continue  # not on a page yet: it shows as it is when the window adds it
