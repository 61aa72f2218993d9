"""Desktop notifications (desktop-notifier), sent from the server's event loop.

Clicks on Linux arrive over D-Bus on the loop that sent the notification, so the notifier lives on
the server loop for the life of the app. Where no notification service exists (no D-Bus session,
an unsigned macOS bundle) it says so once in the log and carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

APP_DISPLAY_NAME = "Human Chat Completions"
BODY_WORDS = 16
BODY_CHARS = 140


def first_words(text: str, words: int = BODY_WORDS, chars: int = BODY_CHARS) -> str:
    """The start of a message, for a notification body: whole words, one line, an ellipsis if cut."""
    parts = text.split()
    short = " ".join(parts[:words])
    cut = len(parts) > words
    if len(short) > chars:
        short, cut = short[: chars - 1].rstrip(), True
    return short + ("…" if cut else "")


class Notifier:
    """Sends notifications; `enabled` is read at each send (the user can mute at any time)."""

    def __init__(self, enabled: Callable[[], bool] = lambda: True, icon: Path | None = None,
                 app_name: str = APP_DISPLAY_NAME) -> None:
        self.enabled = enabled
        self.icon = icon
        self.app_name = app_name
        self.available: bool | None = None  # None: not probed yet
        self.sent = 0
        self._backend: Any = None
        self._lock: asyncio.Lock | None = None

    async def _ready(self) -> bool:
        if self.available is not None:
            return self.available
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.available is not None:
                return self.available
            try:
                from desktop_notifier import DesktopNotifier, Icon

                icon = Icon(path=self.icon) if self.icon and self.icon.exists() else None
                backend = DesktopNotifier(app_name=self.app_name, app_icon=icon)
                # Connects to the notification service; raises where there is none.
                await asyncio.wait_for(backend.get_capabilities(), timeout=5)
            except Exception as error:  # noqa: BLE001 - any failure means: no notifications here
                log.warning("no desktop notification service (%s: %s); notifications are off "
                            "for this run, the tray icon still shows waiting requests",
                            type(error).__name__, error)
                self.available = False
                return False
            self._backend = backend
            self.available = True
            return True

    async def send(self, title: str, body: str, on_clicked: Callable[[], Any] | None = None,
                   force: bool = False) -> bool:
        """Show a notification. `force` ignores the mute setting (errors the user must see).
        Returns whether it was handed to the notification service."""
        if not (force or self.enabled()):
            return False
        if not await self._ready():
            return False
        try:
            await self._backend.send(title=title, message=body, on_clicked=on_clicked)
        except Exception:
            log.warning("notification failed", exc_info=True)
            return False
        self.sent += 1
        return True

    def send_threadsafe(self, loop: asyncio.AbstractEventLoop | None, title: str, body: str,
                        force: bool = True) -> None:
        """From another thread (the tray, an excepthook): hand the notification to the loop, or
        just log when the loop is gone."""
        if loop is None or loop.is_closed() or not loop.is_running():
            log.info("notification not shown (no event loop): %s: %s", title, body)
            return
        asyncio.run_coroutine_threadsafe(self.send(title, body, force=force), loop)
