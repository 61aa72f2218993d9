"""The operator window: a Flet app mounted in the server at /ui, one session per window."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import flet as ft

from human_chat_completions.config import Settings
from human_chat_completions.core import Switchboard
from human_chat_completions.core.events import DraftChanged, ExchangeChanged, ExchangeOpened, ReplyDelta
from human_chat_completions.settings_store import SettingsChange, SettingsStore
from human_chat_completions.store import ExchangeLog
from human_chat_completions.token_guard import TokenGuard
from human_chat_completions.ui import theme
from human_chat_completions.ui.console import Console
from human_chat_completions.ui.copilot_panel import CopilotActions
from human_chat_completions.ui.door import HostRules, WindowDoor, window_trusted
from human_chat_completions.ui.downloads import mount_downloads
from human_chat_completions.ui.i18n import Translator, resolve_language
from human_chat_completions.ui.layout import ResponsiveConsole
from human_chat_completions.ui.logs_view import LogsView
from human_chat_completions.ui.settings_view import SettingsView
from human_chat_completions.ui.theme import FONT_FILE
from human_chat_completions.ui.token_form import show_token_form
from human_chat_completions.windows import OpenWindows

log = logging.getLogger(__name__)

UI_PATH = "/ui"


def assets_dir() -> Path:
    """The assets folder: inside the package when installed or frozen, the repo's in development."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "assets", package.parent.parent / "assets"):
        if (candidate / FONT_FILE).exists():
            return candidate
    return package / "assets"


# Notices that ask the operator to step in, shown as alerts; the rest are information.
_ALERT_NOTICES = frozenset({"auto_failed", "auto_needs_profile"})

# The tray's own switches: a change to them alone leaves the window as it is.
_TRAY_ONLY = frozenset({"notifications", "open_window_on_request", "start_at_login"})


class OperatorWindow:
    """One browser tab or desktop window: a token gate for remote operators, then the console."""

    def __init__(self, page: ft.Page, switchboard: Switchboard, settings: SettingsStore, token: str,
                 exchange_log: ExchangeLog | None = None, copilot: CopilotActions | None = None,
                 token_guard: TokenGuard | None = None, windows: OpenWindows | None = None,
                 listening_port: int | None = None):
        self.page = page
        self.windows = windows or OpenWindows()
        self.listening_port = listening_port
        self.settings_view: SettingsView | None = None
        self._section = 0  # the rail's page: it stays shown when the window is rebuilt
        self.token_guard = token_guard or TokenGuard()
        self.copilot = copilot
        self.exchange_log = exchange_log
        self.switchboard = switchboard
        self.settings_store = settings
        self.token = token
        self.console: Console | None = None
        self._tasks: list[asyncio.Task] = []
        self._alerted_failure: str | None = None
        self._stale = False  # settings changed while the window was away
        self._unlisten: Callable[[], None] | None = None
        self._show_console: Callable[[], None] = lambda: None
        self.operator_name: str | None = None  # a named operator's token opened this window

    @property
    def settings(self) -> Settings:
        return self.settings_store.current

    def start(self) -> None:
        page = self.page
        page.title = "Human Chat Completions"
        page.padding = 0
        page.on_close = lambda _event: self.stop()
        self._unlisten = self.settings_store.listen(self._on_settings_changed)
        self._apply_theme()
        if window_trusted.get():
            self.open_console()
        else:
            self.ask_token()

    def _apply_theme(self) -> None:
        theme.apply(self.page, self.settings.theme)

    def _translator(self) -> Translator:
        return Translator(resolve_language(self.settings.language))

    def ask_token(self) -> None:
        show_token_form(self.page, self._translator(), self.token, self.token_guard, self._signed_in)

    def _signed_in(self, operator_name: str | None) -> None:
        self.operator_name = operator_name
        self.open_console()

    def open_console(self) -> None:
        t = self._translator()
        previous = self.console
        # A language change rebuilds the widgets; the operator's state carries over.
        console = Console(self.switchboard, self.settings_store, t, session_id=self._session_id(),
                          copilot=self.copilot, state=previous.state if previous else None)
        if previous is not None:
            console.reply.adopt(previous.reply)
            console.answers.adopt(previous.answers)
            console.show_prompts = previous.show_prompts
        console.state.signed_in = self.operator_name
        self.console = console
        forget = getattr(getattr(self.copilot, "upstream", None), "forget", None)
        settings_view = SettingsView(self.settings_store, t, forget,
                                     listening_port=self.listening_port,
                                     previous=self.settings_view)
        self.settings_view = settings_view
        logs_view = LogsView(self.exchange_log, t, download_secret=self.token) \
            if self.exchange_log is not None else None
        layout = ResponsiveConsole(console, t)
        layout.fit(self.page.width)
        body = ft.Container(layout.view, expand=True, padding=8)

        def show_console() -> None:
            rail.selected_index = self._section = 0
            settings_view.leave()
            body.content = layout.view

        layout.show_console = show_console

        def navigate(event: ft.Event | None) -> None:
            self._section = rail.selected_index or 0
            if self._section != 2:
                settings_view.leave()  # a new key was shown once: masked from now on
            if rail.selected_index == 1 and logs_view is not None:
                logs_view.reload()
                logs_view.render()
                body.content = logs_view.view
            elif rail.selected_index == 2:
                body.content = settings_view.view
            else:
                body.content = layout.view

        rail = ft.NavigationRail(
            selected_index=self._section, label_type=ft.NavigationRailLabelType.ALL, min_width=72,
            leading=layout.toggle,
            destinations=[
                ft.NavigationRailDestination(icon=ft.Icons.FORUM_OUTLINED,
                                             selected_icon=ft.Icons.FORUM, label=t("nav_conversations")),
                ft.NavigationRailDestination(icon=ft.Icons.TABLE_ROWS_OUTLINED,
                                             selected_icon=ft.Icons.TABLE_ROWS, label=t("nav_logs"),
                                             disabled=logs_view is None),
                ft.NavigationRailDestination(icon=ft.Icons.SETTINGS_OUTLINED,
                                             selected_icon=ft.Icons.SETTINGS, label=t("nav_settings")),
            ],
            on_change=navigate,
        )
        self.page.controls = [ft.Row([rail, ft.VerticalDivider(width=1), body], expand=True)]
        self._show_console = show_console
        if self._section:  # a Save on the settings page rebuilds the window: it stays there
            navigate(None)
        self.page.on_keyboard_event = self._on_key
        self.page.on_resize = layout.on_resize
        console.render()
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._pump()), loop.create_task(self._tick())]

    def _session_id(self) -> str:
        session = getattr(self.page, "session", None)
        return str(getattr(session, "id", "") or "")

    def _on_settings_changed(self, change: SettingsChange) -> None:
        """Saved here, in another window or from the tray: widgets show the new values (the
        settings page too, so that its next Save does not put the old ones back)."""
        if change.fields <= _TRAY_ONLY:
            return
        if not self._tasks and self.console is not None:
            self._stale = True  # a closed or reconnecting window: rebuild when it is back
            return
        self._apply_theme()
        if self.console is not None:
            self.open_console()
        self._update()

    async def _on_key(self, event: ft.KeyboardEvent) -> None:
        """The console's shortcuts (ui/keys.py); a plain Enter is the editor's own submit."""
        if self.console is not None and self.console.shortcuts.handle(event):
            self.console.render()
        else:
            # Every key typed anywhere comes here: redrawing the page for it is wasted work on
            # the loop that also streams the replies.
            ft.context.disable_auto_update()

    async def _pump(self) -> None:
        """Follow the switchboard: every event re-renders what it touches."""
        ft.context.reset_auto_update()
        self._follow_connection()
        if not self._connected():
            self._pause()  # the window closed before this task first ran
            return
        with self.switchboard.events.subscription() as queue, \
                self.windows.present(self, self._come_forward):
            while True:
                events = [await queue.get()]
                while not queue.empty():
                    events.append(queue.get_nowait())
                self._apply(events)

    def _apply(self, events: list) -> None:
        console = self.console
        if console is None:
            return
        t = console.t
        structural = False
        for event in events:
            if isinstance(event, ReplyDelta):
                console.on_reply_delta(event.exchange)
                continue
            if isinstance(event, DraftChanged):
                console.on_draft(event.exchange)
                continue
            self._notify(console, event)
            structural = True
        if structural:
            console.render()
        failure = self.exchange_log.failure if self.exchange_log is not None else None
        if failure and failure != self._alerted_failure:
            self.page.show_dialog(ft.SnackBar(ft.Text(t("log_failed", error=failure)),
                                              bgcolor=ft.Colors.ERROR, duration=15000))
        self._alerted_failure = failure
        waiting = sum(1 for e in self.switchboard.waiting())
        self.page.title = f"({waiting}) Human Chat Completions" if waiting else "Human Chat Completions"
        self._update()

    def _notify(self, console: Console, event: object) -> None:
        """A new request or the copilot's word on an exchange, once per window, in the header's
        own place: a snack bar sat over the editor and the canned replies."""
        t = console.t
        if isinstance(event, ExchangeChanged) and event.exchange.notice_code and \
                console.state.note_notice(event.exchange):
            code = event.exchange.notice_code
            self._say(console, t(f"notice_{code}"), event.exchange.conversation_id,
                      alert=code in _ALERT_NOTICES)
        elif isinstance(event, ExchangeOpened) and console.state.note_new_exchange(event.exchange) \
                and event.exchange.conversation_id != console.state.selected:
            label = self.switchboard.conversation(event.exchange.conversation_id).label
            self._say(console, t("new_request", label=label), event.exchange.conversation_id)

    def _say(self, console: Console, text: str, conversation_id: str, alert: bool = False) -> None:
        console.notice.show(text, conversation_id, alert=alert)
        if self._section:  # the Logs or Settings page is up: no editor to cover, no header to see
            self.page.show_dialog(ft.SnackBar(ft.Text(text), duration=5000))

    def _come_forward(self, conversation_id: str | None) -> None:
        """The operator clicked a notification: show the conversation here and ask the window
        to come to the front (a desktop window does; a browser tab may only flash)."""
        console = self.console
        if console is not None:
            self._show_console()
            if conversation_id is not None and conversation_id in self.switchboard.conversations.conversations:
                console.select(conversation_id)
            console.render()
            self._update()
        with contextlib.suppress(Exception):
            self.page.run_task(self.page.window.to_front)

    async def _tick(self) -> None:
        """The window's one clock: every waiting timer, the longest wait's colour and the
        notice's time run from here, whatever else redraws."""
        ft.context.reset_auto_update()
        while True:
            # On the second, so that every timer turns over together.
            await asyncio.sleep(1.0 - time.time() % 1.0 + 0.01)
            try:
                if self.console is not None and self.console.tick():
                    self._update()
            except Exception:  # one bad tick must not stop the clock
                log.exception("operator window tick failed")

    def _update(self) -> None:
        try:
            self.page.update()
        except Exception:  # a closing session must not take the pump down with it
            log.debug("operator window update failed", exc_info=True)

    def stop(self) -> None:
        """The session expired: Flet drops it; nothing of it may keep running."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        self._pause()
        if self.console is not None:
            self.console.close()

    def _follow_connection(self) -> None:
        """Flet keeps a closed window's session until its timeout, and every render there is
        wasted work on the loop that also serves the replies (30 closed windows made them 18x
        slower). So the renders stop when the websocket closes and resume when the same session
        reconnects, as Flet's web client does after a network blip."""
        self.page.on_disconnect = lambda _event: self._pause()
        self.page.on_connect = lambda _event: self._resume()

    def _connected(self) -> bool:
        session = getattr(self.page, "session", None)
        return getattr(session, "connection", None) is not None

    def _pause(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    def _resume(self) -> None:
        if self.console is None or self._tasks:
            return  # still at the token gate, or already following
        # Events went by unseen while paused: catch up before following again.
        if self._stale:
            self._stale = False
            self._apply_theme()
            self.open_console()  # starts following again itself
            self._update()
            return
        self.console.render()
        self._update()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump()), loop.create_task(self._tick())]


def operator_main(switchboard: Switchboard, settings: SettingsStore, token: str,
                  exchange_log: ExchangeLog | None = None,
                  copilot: CopilotActions | None = None,
                  token_guard: TokenGuard | None = None, windows: OpenWindows | None = None,
                  listening_port: int | None = None) -> Callable[[ft.Page], Awaitable[None]]:
    async def main(page: ft.Page) -> None:
        OperatorWindow(page, switchboard, settings, token, exchange_log, copilot, token_guard,
                       windows, listening_port).start()
        page.update()

    return main


def mount_operator_ui(app, switchboard: Switchboard, settings: SettingsStore, token: str,
                      exchange_log: ExchangeLog | None = None,
                      copilot: CopilotActions | None = None,
                      token_guard: TokenGuard | None = None, *,
                      windows: OpenWindows | None = None, listening_port: int | None = None) -> None:
    """Mount the operator window at /ui on the server's FastAPI app, behind its door; `settings`
    is the run's store, which every window follows. `windows` counts the open windows (the tray
    asks it); `listening_port` is the port the server really listens on (the settings page
    shows it)."""
    import flet.fastapi as flet_fastapi

    window = flet_fastapi.app(
        operator_main(switchboard, settings, token, exchange_log, copilot, token_guard, windows,
                      listening_port),
        assets_dir=str(assets_dir()),
        no_cdn=True,
        app_name="Human Chat Completions",
        session_timeout_seconds=60,  # a closed window's session is dropped within a minute
    )
    mount_downloads(app, token, exchange_log, lambda: settings.current.allowed_hosts)
    app.mount(UI_PATH, WindowDoor(window, HostRules(lambda: settings.current.allowed_hosts)))


@contextlib.asynccontextmanager
async def flet_lifespan() -> AsyncIterator[None]:
    """A mounted app's lifespan never runs: the root app starts and stops Flet's session manager."""
    import flet.fastapi as flet_fastapi

    manager = flet_fastapi.app_manager
    _forget_manager_tasks(manager)
    await manager.start()
    try:
        yield
    finally:
        await manager.shutdown()
        _forget_manager_tasks(manager)


def _forget_manager_tasks(manager: object) -> None:
    """Flet's manager is process-wide and `start()` does nothing once it has a task, even a
    cancelled one from a stopped server; a restarted server (tray Restart) needs its own."""
    for name in ("evict_sessions_task", "evict_oauth_states_task"):
        attribute = f"_FletAppManager__{name}"
        task = getattr(manager, attribute, None)
        if task is not None and (task.done() or not _same_loop(task)):
            setattr(manager, attribute, None)


def _same_loop(task: asyncio.Task) -> bool:
    try:
        return task.get_loop() is asyncio.get_running_loop()
    except RuntimeError:
        return False
