"""Plain `hcc` on a desktop: the tray icon on the main thread, the server on a worker thread.

One instance per user: a second start opens the running instance's window and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from human_chat_completions import autostart
from human_chat_completions.app_log import install_excepthooks, setup_logging
from human_chat_completions.config import load_settings
from human_chat_completions.instance import InstanceLock

log = logging.getLogger(__name__)

HIDDEN_ENV = "HCC_START_HIDDEN"  # set by the start-at-login entry: no window at login


def desktop_available() -> bool:
    """Whether a tray can be shown: Windows and macOS always; elsewhere an X display (pystray's
    backends need X; XWayland provides DISPLAY). `HCC_NO_TRAY=1` forces the headless server."""
    if os.environ.get("HCC_NO_TRAY", "").lower() in ("1", "true", "yes"):
        return False
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY"))


def icon_file() -> Path | None:
    package = Path(__file__).resolve().parent
    for candidate in (package / "assets" / "icon.png", package.parent.parent / "assets" / "icon.png"):
        if candidate.exists():
            return candidate
    return None


def _open_window(url: str) -> None:
    from human_chat_completions.ui.launch import open_operator_window

    open_operator_window(url)


def run_desktop(open_window: bool | None = None) -> int:
    """Run the tray app until Quit. Returns the process exit code."""
    log_path = setup_logging()
    if open_window is None:
        open_window = os.environ.get(HIDDEN_ENV, "") not in ("1", "true")
    lock = InstanceLock()
    if not lock.acquire():
        base = lock.running_base_url(timeout=10)
        if base:
            log.info("Human Chat Completions is already running at %s; opening its window", base)
            _open_window(base + "/ui/")
            return 0
        log.error("Human Chat Completions is already running but its server does not answer; "
                  "see its tray icon (lock: %s)", lock.lock_path)
        return 1
    log.info("starting the desktop app (log: %s)", log_path)

    from human_chat_completions.tray.controller import ServerController

    settings = load_settings()
    controller = ServerController(settings, open_window=_open_window, icon_path=icon_file())
    install_excepthooks(controller.report_error)
    controller.on_started.append(lambda host, port: lock.publish(host, port))
    _sync_autostart(settings.start_at_login)

    tray = None
    try:
        import pystray
    except Exception as error:  # noqa: BLE001 - pystray raises whatever its backend raises
        log.warning("no system tray here (%s); running without a tray icon until stopped", error)
        pystray = None
    quitting = threading.Event()

    def quit_app() -> None:  # Ctrl+C / SIGTERM, at any point from here on
        quitting.set()
        if tray is not None:
            tray.quit_on_signal()

    _on_signals(quit_app)
    controller.launch()
    try:
        if pystray is not None:
            from human_chat_completions.tray.app import TrayApp

            tray = TrayApp(controller, pystray)
        started = controller.start()
        if started and open_window and not quitting.is_set():
            threading.Thread(target=controller.show_window,  # noted: a request will not open another
                             name="open-operator-window", daemon=True).start()
        if tray is not None and not quitting.is_set():
            tray.run()
        else:
            while not quitting.wait(0.5):
                pass
    finally:
        ended = controller.shutdown()
        if ended:
            log.warning("%d waiting requests were ended with an error at quit", ended)
        lock.release()
        log.info("desktop app stopped")
    return 0


def _on_signals(callback) -> None:
    """Ctrl+C / SIGTERM quit like the menu's Quit (handlers run on the main thread)."""

    def handler(signum, _frame) -> None:
        log.info("signal %d: quitting", signum)
        callback()

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)


def _sync_autostart(wanted: bool) -> None:
    """The settings file says whether to start at login; make the OS entry match."""
    try:
        if autostart.is_enabled() != wanted:
            autostart.set_enabled(wanted)
    except Exception as error:  # noqa: BLE001 - never block start-up on this
        log.warning("could not update start at login: %s", error)


if __name__ == "__main__":
    sys.exit(run_desktop())
