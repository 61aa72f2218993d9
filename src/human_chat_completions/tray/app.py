"""The tray icon and its menu. Menu actions are plain methods (tested without any tray); the
pystray module is passed in or imported lazily (`import pystray` fails without a display)."""

from __future__ import annotations

import concurrent.futures
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from human_chat_completions import autostart
from human_chat_completions.app_log import log_dir, open_folder
from human_chat_completions.core.exchange import Mode
from human_chat_completions.i18n import resolve_language
from human_chat_completions.instance import connect_host
from human_chat_completions.tray.controller import ServerController
from human_chat_completions.tray.icon import draw_icon
from human_chat_completions.tray.strings import TrayTranslator

log = logging.getLogger(__name__)



def copy_to_clipboard(text: str) -> bool:
    """Put text on the clipboard: the platform's tool (pbcopy, clip, wl-copy, xclip, xsel), else
    tkinter if importable. Returns False (and logs the text) when nothing can."""
    if sys.platform == "darwin":
        tools = [["pbcopy"]]
    elif sys.platform == "win32":
        tools = [["clip"]]
    else:
        tools = []
        if os.environ.get("WAYLAND_DISPLAY"):
            tools.append(["wl-copy"])
        tools += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    for tool in tools:
        if shutil.which(tool[0]):
            try:
                subprocess.run(tool, input=text.encode("utf-16-le" if tool == ["clip"] else "utf-8"),
                               check=True, timeout=5, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                return True
            except (OSError, subprocess.SubprocessError) as error:
                log.warning("%s could not copy: %s", tool[0], error)
    try:
        import tkinter

        root = tkinter.Tk()
    except Exception as error:  # noqa: BLE001 - no tkinter, or no display for it
        log.warning("no clipboard available (%s); the address is %s", error, text)
        return False
    try:
        root.withdraw()
        root.clipboard_clear()
        root.clipboard_append(text)
        root.update()  # on X11 the text stays only while a clipboard manager or this app holds it
    finally:
        root.destroy()
    return True


def _done(value: Any = None) -> concurrent.futures.Future:
    future: concurrent.futures.Future = concurrent.futures.Future()
    future.set_result(value)
    return future


class _OnceFilter(logging.Filter):
    """pystray's X11 backend logs "Failed to dock icon" with a traceback at every icon update while
    no system tray is there (a bare X server, some Wayland desktops): keep only the first."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != "Failed to dock icon":
            return True
        if self.seen:
            return False
        self.seen = True
        record.msg, record.exc_info, record.exc_text = (
            "Failed to dock icon: no system tray found yet (further failures not logged)", None, None)
        return True


def _wait_for_the_x11_loop(icon, seconds: float = 2) -> None:
    """pystray's X11 backend lets setup begin just before it notes which thread runs the icon's
    loop, and a show from another thread before that fails (its dispatcher reads `_thread`): the
    icon would never appear. Wait until it has, `seconds` at most."""
    if type(icon).__module__ != "pystray._xorg":
        return
    deadline = time.monotonic() + seconds
    while not hasattr(icon, "_thread") and time.monotonic() < deadline:
        time.sleep(0.005)


class TrayApp:
    """The icon (state + waiting badge) and the menu, for one ServerController."""

    def __init__(self, controller: ServerController, pystray_module: Any = None,
                 open_window: Callable[[str], None] | None = None) -> None:
        if pystray_module is None:
            import pystray

            pystray_module = pystray
        self.pystray = pystray_module
        self.controller = controller
        self.open_window_with: Callable[[str], None] = open_window or controller.open_window
        self._dirty = threading.Event()
        self._closing = False
        self._refresher: threading.Thread | None = None
        self.menu_language = ""  # the language the menu was built in (set by build_menu)
        self.icon = pystray_module.Icon(
            "human-chat-completions", self.image(), self.controller.status_text(),
            menu=self.build_menu(),
        )
        controller.listeners.append(self.request_refresh)
        logging.getLogger("pystray._base").addFilter(_OnceFilter())

    # -- what the icon shows --------------------------------------------------------------------

    def icon_state(self) -> str:
        state = self.controller.state
        return {"running": "running", "error": "error"}.get(state, "stopped")

    def image(self, size: int = 64):
        return draw_icon(self.icon_state(), self.controller.waiting, size)  # type: ignore[arg-type]

    def title(self) -> str:
        # ASCII only: the X11 backend sends the title as Latin-1.
        return "Human Chat Completions - " + self.controller.status_text()

    def request_refresh(self) -> None:
        """Called on the server loop: only flags, the refresher thread draws."""
        self._dirty.set()

    def refresh(self) -> None:
        self.icon.icon = self.image()
        self.icon.title = self.title()
        try:
            if self.menu_language != self._language():
                self.icon.menu = self.build_menu()  # its texts are fixed when built
            else:
                self.icon.update_menu()  # checks and states are read again
        except NotImplementedError:  # pystray's dummy backend
            pass

    def _language(self) -> str:
        return resolve_language(self.controller.settings.language)

    def _refresh_loop(self) -> None:
        while not self._closing:
            self._dirty.wait()
            if self._closing:
                return
            self._dirty.clear()
            try:
                self.refresh()
            except Exception:
                log.exception("could not update the tray icon")
            self._dirty.wait(0.1)  # coalesce bursts of events

    # -- menu actions (plain methods; each returns a Future so callers can wait) -----------------

    def open_window(self) -> concurrent.futures.Future:
        self.open_window_with(self.controller.window_url)
        return _done()

    open_settings = open_window  # the settings are a tab of the operator window

    def start_server(self) -> concurrent.futures.Future:
        return self.controller.submit(self.controller._start())

    def stop_server(self) -> concurrent.futures.Future:
        return self.controller.submit(self.controller._stop())

    def restart_server(self) -> concurrent.futures.Future:
        return self.controller.submit(self.controller._restart())

    def set_mode(self, mode: Mode) -> concurrent.futures.Future:
        return self.controller.submit(self.controller._set_default_mode(mode))

    def toggle(self, name: str) -> concurrent.futures.Future:
        value = not getattr(self.controller.settings, name)
        if name == "start_at_login":
            try:
                autostart.set_enabled(value)
            except OSError as error:
                log.error("could not change start at login: %s", error)
                return _done(False)
        return self.controller.change_settings(**{name: value})

    def copy_api_base_url(self) -> concurrent.futures.Future:
        url = self.controller.api_base_url
        copied = copy_to_clipboard(url)
        if copied:
            log.info("copied %s to the clipboard", url)
        return _done(copied)

    def open_logs(self) -> concurrent.futures.Future:
        return _done(open_folder(log_dir()))

    def quit(self) -> concurrent.futures.Future:
        """Stop the icon and the server. Waiting requests end with a clear error to their client
        (the server's shutdown does it; there is no dialog to ask)."""
        waiting = self.controller.waiting
        if waiting:
            log.warning("quit with %d requests waiting; their clients get an error", waiting)
        log.info("quit")
        self._closing = True
        self._dirty.set()
        future = self.controller.submit(self.controller._stop())
        self.icon.stop()
        return future

    def quit_on_signal(self) -> None:
        """Quit from a signal handler. Python runs it on the main thread, the icon's X11 loop,
        between any two steps, also inside python-xlib while it holds its display lock; Quit's X
        calls would then wait for that lock forever, on the thread that holds it. Quitting from
        another thread is no way out: python-xlib can then lose the event that ends the loop. So
        while the lock is held the loop gets a moment to leave python-xlib and is signalled again."""
        if not self._inside_xlib():
            self.quit()
            return
        main = threading.main_thread().ident
        assert main is not None
        again = threading.Timer(0.05, signal.pthread_kill, (main, signal.SIGTERM))
        again.daemon = True
        again.start()

    def _inside_xlib(self) -> bool:
        """Whether python-xlib holds its display lock at this moment (X11 only; never elsewhere)."""
        display = getattr(getattr(self.icon, "_display", None), "display", None)
        lock = getattr(display, "send_recv_lock", None)
        return bool(lock is not None and lock.locked())

    # -- pystray --------------------------------------------------------------------------------

    def status_line(self, t: TrayTranslator) -> str:
        """The controller's state in the user's language (the controller's own text is for logs)."""
        controller = self.controller
        if controller.state == "running":
            count = controller.waiting
            waiting = (t("tray_waiting_none") if count == 0 else t("tray_waiting_one") if count == 1
                       else t("tray_waiting_many", count=count))
            return t("tray_running", address=f"{connect_host(controller.host)}:{controller.port}",
                     waiting=waiting)
        if controller.state == "error":
            return t("tray_error", error=controller.error)
        return t(f"tray_{controller.state}") if controller.state in ("starting", "stopping") \
            else t("tray_stopped")

    def build_menu(self):
        Item, Menu = self.pystray.MenuItem, self.pystray.Menu
        controller = self.controller
        self.menu_language = self._language()
        t = TrayTranslator(self.menu_language)

        # Checks read the settings' current value each time pystray asks: never a copy.
        def mode_item(mode: Mode):
            return Item(t(f"mode_{mode.value}"), lambda: self.set_mode(mode), radio=True,
                        checked=lambda _item: controller.settings.default_mode == mode)

        def check(label: str, name: str):
            return Item(label, lambda: self.toggle(name),
                        checked=lambda _item: bool(getattr(controller.settings, name)))

        return Menu(
            Item(lambda _item: self.status_line(t), None, enabled=False),
            Item(t("tray_open"), lambda: self.open_window(), default=True),
            Menu.SEPARATOR,
            Item(t("tray_start"), lambda: self.start_server(),
                 enabled=lambda _item: controller.state in ("stopped", "error")),
            Item(t("tray_stop"), lambda: self.stop_server(),
                 enabled=lambda _item: controller.state == "running"),
            Item(t("tray_restart"), lambda: self.restart_server(),
                 enabled=lambda _item: controller.state in ("running", "error")),
            Item(t("tray_default_mode"), Menu(*(mode_item(mode) for mode in Mode))),
            Menu.SEPARATOR,
            check(t("tray_notify"), "notifications"),
            check(t("tray_open_on_request"), "open_window_on_request"),
            check(t("tray_start_at_login"), "start_at_login"),
            Menu.SEPARATOR,
            Item(t("tray_copy_url"), lambda: self.copy_api_base_url()),
            Item(t("tray_open_logs"), lambda: self.open_logs()),
            Item(t("tray_open_settings"), lambda: self.open_settings()),
            Menu.SEPARATOR,
            Item(t("tray_quit"), lambda: self.quit()),
        )

    def _setup(self, icon) -> None:
        # pystray calls this on a thread the process waits for at exit, and showing the icon waits
        # for the icon's loop to do it: a Quit just before ends that loop, the wait never ends, and
        # neither would the process. So the icon is shown from a thread the exit does not wait for.
        self._refresher = threading.Thread(target=self._show_and_refresh, args=(icon,),
                                           name="tray-refresh", daemon=True)
        self._refresher.start()

    def _show_and_refresh(self, icon) -> None:
        _wait_for_the_x11_loop(icon)
        if self._closing:  # Quit came while the icon was starting
            icon.stop()
            return
        icon.visible = True
        self._dirty.set()
        self._refresh_loop()

    def run(self) -> None:
        """Blocks (on the main thread) until Quit."""
        self.icon.run(setup=self._setup)
