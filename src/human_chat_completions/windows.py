"""Which operator windows are open: the window knows, the tray asks.

A window counts while its session is connected and following the switchboard (a closed tab's
session lingers in Flet for a minute, but it is disconnected). The tray reads the count to decide
whether a new request should open a window, and asks the open ones to come forward when the
operator clicks a notification. Kept free of Flet: the tray and the server import it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

Focus = Callable[[str | None], None]


class OpenWindows:
    """The connected operator windows, each with a function that brings it forward.

    Touched on the server loop only (windows connect there; the tray posts its questions there).
    """

    def __init__(self) -> None:
        self._windows: dict[object, Focus] = {}
        self.connections = 0  # every connect ever: a window that came (and perhaps went)

    @property
    def count(self) -> int:
        return len(self._windows)

    @contextlib.contextmanager
    def present(self, window: object, focus: Focus) -> Iterator[None]:
        """While the block runs, `window` is open; `focus(conversation_id)` brings it forward."""
        self._windows[window] = focus
        self.connections += 1
        try:
            yield
        finally:
            self._windows.pop(window, None)

    def focus(self, conversation_id: str | None = None) -> bool:
        """Bring the most recently connected window forward (showing the conversation when
        given); False when none is open."""
        for focus in reversed(list(self._windows.values())):
            try:
                focus(conversation_id)
            except Exception:  # a window closing right now: try the next
                log.debug("an operator window could not come forward", exc_info=True)
                continue
            return True
        return False
