"""Opening the operator window: Flet's desktop client where a build bundles one, else a browser."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import webbrowser
from collections.abc import Callable

log = logging.getLogger(__name__)


def bundled_desktop_client() -> bool:
    """True only where the client ships with the app: fetching one at run time is not allowed."""
    if sys.platform not in ("win32", "darwin"):
        return False
    try:
        import flet_desktop
    except ImportError:
        return False
    archive = os.path.join(flet_desktop.get_package_bin_dir(), flet_desktop.get_artifact_filename())
    return os.path.exists(archive)


def open_operator_window(url: str) -> None:
    if bundled_desktop_client():
        import flet_desktop

        from human_chat_completions.ui.app import assets_dir

        flet_desktop.open_flet_view(url, str(assets_dir()), False)
        return
    if not webbrowser.open(url):
        log.warning("no browser could be opened; open %s by hand", url)


def open_when_ready(started: Callable[[], bool], url: str, timeout: float = 30.0) -> threading.Thread:
    """Open the window once the server answers, from a helper thread (the server owns the main one)."""

    def wait_and_open() -> None:
        deadline = time.monotonic() + timeout
        while not started():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        open_operator_window(url)

    thread = threading.Thread(target=wait_and_open, name="open-operator-window", daemon=True)
    thread.start()
    return thread
