"""A Send's redraw comes after the reply has left the window's loop turn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import flet as ft

log = logging.getLogger(__name__)


def redraw_after_the_reply(*first: Callable[[], None]) -> None:
    """Flet redraws the page when an event's handler returns, before the loop turns: 7-20 ms for a
    full console, and the participant's stream, woken by the Send, waited behind it. Two turns
    later the reply's first words are written (a live reply's now, a paced one's first piece in
    its task's first step, a tool call's answer once its exchange closed), so the redraw waits
    that long instead. `first`: changes of the window to make just before it (closing a dialog
    redraws that dialog at once)."""
    page = ft.context.page
    ft.context.disable_auto_update()
    loop = asyncio.get_running_loop()
    loop.call_soon(loop.call_soon, _redraw, page, first)


def _redraw(page: ft.Page, first: tuple[Callable[[], None], ...]) -> None:
    try:
        for change in first:
            change()
        page.update()
    except Exception:  # a window closing meanwhile: nothing left to draw
        log.debug("redraw after a Send failed", exc_info=True)
