"""The server on a worker thread with its own asyncio loop, driven from the tray thread.

The loop lives for the whole app; the uvicorn server is a task on it that Start / Stop / Restart
create and end, so the switchboard, the exchange log and the notifier survive a restart. Everything
the tray asks goes through `asyncio.run_coroutine_threadsafe`; what the tray shows (state, address,
waiting count) is plain attributes written on the loop and read by the tray, plus a change callback.
The settings are the run's `SettingsStore`, shared with the server and its windows: the tray changes
them on the loop and follows every change from there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from human_chat_completions import config
from human_chat_completions.app_log import loop_exception_handler
from human_chat_completions.core.events import Event, ExchangeChanged, ExchangeClosed, ExchangeOpened
from human_chat_completions.core.exchange import Mode
from human_chat_completions.instance import connect_host, healthy
from human_chat_completions.notify import Notifier, first_words
from human_chat_completions.settings_store import SettingsStore

if TYPE_CHECKING:  # the server module pulls in uvicorn and FastAPI: only when the server starts
    from human_chat_completions.server import Runtime, Server

log = logging.getLogger(__name__)

State = Literal["starting", "running", "stopping", "stopped", "error"]
# A window asked for is "on its way" this long: the browser may take seconds to start and connect,
# and meanwhile more requests must not open more windows.
AUTO_OPEN_INTERVAL = 30.0


class PortInUseError(OSError):
    def __init__(self, host: str, port: int, other_hcc: bool) -> None:
        self.host, self.port, self.other_hcc = host, port, other_hcc
        who = "another Human Chat Completions server" if other_hcc else "another program"
        super().__init__(
            f"Port {port} is already in use by {who}. Stop it, or choose another port: set "
            f"\"port\" in {config.settings_path()} and use Start server (or restart the app)."
        )


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so a busy port is a clear error and not uvicorn's exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name != "nt":  # on Windows SO_REUSEADDR would let two servers share the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1), errno.EACCES):
            base = f"http://{connect_host(host)}:{port}"
            raise PortInUseError(host, port, healthy(base, timeout=1) is not None) from error
        raise
    return sock


class ServerController:
    def __init__(self, settings: config.Settings, *, data_path: Path | None = None,
                 token: str | None = None, with_ui: bool = True,
                 open_window: Callable[[str], None] | None = None,
                 notifier: Notifier | None = None, icon_path: Path | None = None) -> None:
        """settings: the run's starting value; the controller keeps it in a store of its own, which
        the server it starts shares."""
        self.settings_store = SettingsStore(settings)
        self.settings_store.listen(lambda _change: self._changed())  # menu checks and language
        self.data_path = data_path
        self.token = token
        self.with_ui = with_ui
        if open_window is None:
            from human_chat_completions.ui.launch import open_operator_window

            open_window = open_operator_window
        self.open_window: Callable[[str], None] = open_window
        self.notifier = notifier or Notifier(lambda: self.settings.notifications, icon_path)
        self.loop = asyncio.new_event_loop()
        self.state: State = "stopped"
        self.error: str | None = None
        self.host = settings.host
        self.port = settings.port
        self.runtime: Runtime | None = None
        self.listeners: list[Callable[[], None]] = []
        self.on_started: list[Callable[[str, int], None]] = []
        self._open: set[str] = set()
        self._server: Server | None = None
        self._serve_task: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._last_auto_open = 0.0  # when a window was last asked for (monotonic)
        self._connections_then = 0  # how many windows had ever connected at that moment
        self._lifecycle: asyncio.Lock | None = None
        self._thread = threading.Thread(target=self._run_loop, name="hcc-server", daemon=True)

    # -- what the tray reads --------------------------------------------------------------------

    @property
    def settings(self) -> config.Settings:
        """The current value (replaced whole on the loop; reading it from the tray thread is safe)."""
        return self.settings_store.current

    @property
    def waiting(self) -> int:
        return len(self._open)

    @property
    def base_url(self) -> str:
        return f"http://{connect_host(self.host)}:{self.port}"

    @property
    def api_base_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def window_url(self) -> str:
        return self.base_url + "/ui/"

    def status_text(self) -> str:
        if self.state == "running":
            waiting = {0: "no requests waiting", 1: "1 request waiting"}.get(
                self.waiting, f"{self.waiting} requests waiting")
            return f"Running on {connect_host(self.host)}:{self.port} - {waiting}"
        if self.state == "error":
            return f"Not running: {self.error}"
        return {"starting": "Starting...", "stopping": "Stopping..."}.get(self.state, "Stopped")

    # -- the loop thread ------------------------------------------------------------------------

    def launch(self) -> None:
        """Start the loop thread (the server itself starts with `start`)."""
        self._thread.start()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.set_exception_handler(loop_exception_handler(self.report_error))
        try:
            self.loop.run_forever()
        finally:
            try:
                pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()

    def call(self, coroutine, timeout: float | None = None):
        """Run a coroutine on the server loop from another thread and wait for its result."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def submit(self, coroutine) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def _changed(self) -> None:
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:
                log.exception("tray update failed")

    def _spawn(self, coroutine) -> None:
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def report_error(self, message: str) -> None:
        """An uncaught error somewhere: the user must see it (any thread)."""
        self.notifier.send_threadsafe(self.loop, "Human Chat Completions: error",
                                      f"{message}\nDetails are in the app log.")

    # -- start / stop (thread-safe entry points) -------------------------------------------------

    def start(self, timeout: float | None = 60) -> bool:
        return self.call(self._start(), timeout)

    def stop(self, timeout: float | None = 60) -> int:
        return self.call(self._stop(), timeout)

    def restart(self, timeout: float | None = 60) -> bool:
        return self.call(self._restart(), timeout)

    def set_default_mode(self, mode: Mode, timeout: float | None = 10) -> None:
        self.call(self._set_default_mode(mode), timeout)

    def change_settings(self, **changes) -> concurrent.futures.Future:
        """Save settings from another thread (the tray menu); the window and the switchboard
        hear of it through the store's change event."""
        return self.submit(self._update_settings(changes))

    def shutdown(self, timeout: float = 60) -> int:
        """Stop the server (ending waiting requests with an error), the loop, and close the log."""
        ended = 0
        if self._thread.is_alive() and self.loop.is_running():
            try:
                ended = self.stop(timeout)
            except Exception:
                log.exception("server did not stop cleanly")
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None
        return ended

    # -- on the loop ----------------------------------------------------------------------------

    def _guard(self) -> asyncio.Lock:
        if self._lifecycle is None:
            self._lifecycle = asyncio.Lock()
        return self._lifecycle

    async def _start(self) -> bool:
        async with self._guard():
            return await self._start_unlocked()

    async def _stop(self) -> int:
        async with self._guard():
            return await self._stop_unlocked()

    async def _restart(self) -> bool:
        async with self._guard():
            await self._stop_unlocked()
            return await self._start_unlocked()

    async def _start_unlocked(self) -> bool:
        if self.state in ("running", "starting"):
            return self.state == "running"
        from human_chat_completions.server import build_runtime, make_server

        self.state, self.error = "starting", None
        self._changed()
        if config.settings_path().exists():  # a port changed in the file applies on Start
            fresh = config.load_settings()
            address = {"host": fresh.host, "port": fresh.port}
            self.settings_store.replace(self.settings.model_copy(update=address), save=False)
        self.host, self.port = self.settings.host, self.settings.port
        try:
            sock = bind_socket(self.host, self.port)
        except OSError as error:
            return await self._failed(str(error) if isinstance(error, PortInUseError)
                                      else f"cannot listen on {self.host}:{self.port}: {error}")
        try:
            if self.runtime is None:
                self.runtime = build_runtime(self.settings_store, self.data_path, self.token)
                self._open = {exchange.id for exchange in self.runtime.switchboard.waiting()}
                self.runtime.switchboard.events.listen(self._on_event)
            self._server = make_server(self.runtime, self.host, self.port, self.with_ui)
        except Exception as error:
            sock.close()
            log.exception("the server could not be set up")
            return await self._failed(f"the server could not be set up: {error}")
        server = self._server
        self._serve_task = self.loop.create_task(self._serve(server, sock), name="uvicorn")
        while not server.started and not self._serve_task.done():
            await asyncio.sleep(0.02)
        if not server.started:
            return await self._failed(self.error or "the server stopped while starting")
        self.state = "running"
        log.info("serving on %s (API base URL %s)", self.base_url, self.api_base_url)
        self._changed()
        for callback in list(self.on_started):
            callback(self.host, self.port)
        return True

    async def _serve(self, server, sock: socket.socket) -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit:  # uvicorn exits on startup failures (e.g. the lifespan failed)
            self.error = "the server failed to start (see the app log)"
            log.error(self.error)
        except Exception as error:
            self.error = f"the server crashed: {error}"
            log.exception("the server crashed")
            self.report_error(self.error)
        finally:
            sock.close()
            if self.state == "running":  # not a Stop: it died
                self.state = "error"
                self.error = self.error or "the server stopped unexpectedly"
                self._changed()

    async def _failed(self, message: str) -> bool:
        self.state, self.error = "error", message
        log.error("%s", message)
        self._changed()
        await self.notifier.send("Human Chat Completions is not running", message, force=True)
        return False

    async def _stop_unlocked(self) -> int:
        if self._serve_task is None or self._server is None:
            if self.state == "error":
                self.state = "stopped"
                self._changed()
            return 0
        waiting = self.waiting
        if waiting:
            log.warning("stopping with %d requests waiting: they end with an error to the client",
                        waiting)
        self.state = "stopping"
        self._changed()
        self._server.should_exit = True
        try:
            await self._serve_task
        finally:
            self._serve_task = self._server = None
            self.state, self.error = "stopped", None
            log.info("server stopped")
            self._changed()
        return waiting

    async def _set_default_mode(self, mode: Mode) -> None:
        # The switchboard and the tray follow the store (see build_runtime and __init__).
        self.settings_store.update(default_mode=mode)
        log.info("default mode for new conversations: %s", mode.value)

    async def _update_settings(self, changes: dict) -> None:
        self.settings_store.update(**changes)

    # -- switchboard events (inline on the loop: keep it tiny) ----------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ExchangeOpened):
            self._open.add(event.exchange.id)
            self._changed()
            if event.exchange.mode is not Mode.AUTO:
                self._spawn(self._announce(event.exchange.id))
        elif isinstance(event, ExchangeClosed):
            if event.exchange.id in self._open:
                self._open.discard(event.exchange.id)
                self._changed()
        elif isinstance(event, ExchangeChanged) and event.exchange.state.open:
            if event.exchange.id not in self._open:  # a retry revived an abandoned exchange
                self._open.add(event.exchange.id)
                self._changed()

    # -- bringing the window to the operator -------------------------------------------------------

    def show_window(self) -> None:
        """Open the operator window (any thread), noting that one is on its way."""
        self._last_auto_open = time.monotonic()
        self._connections_then = self.runtime.windows.connections if self.runtime else 0
        self.open_window(self.window_url)

    def _window_on_its_way(self) -> bool:
        """A window was asked for lately and has not connected yet (so do not ask again)."""
        connected_since = self.runtime is not None and \
            self.runtime.windows.connections > self._connections_then
        return not connected_since and time.monotonic() - self._last_auto_open < AUTO_OPEN_INTERVAL

    def _bring_window(self, conversation_id: str | None) -> None:
        """On the loop: bring an open window forward (showing the conversation), else open one
        (the operator asked: even if one was asked for and has not connected yet)."""
        if self.runtime is not None and self.runtime.windows.focus(conversation_id):
            return
        self.loop.run_in_executor(None, self.show_window)

    def _on_notification_clicked(self, conversation_id: str) -> None:
        # desktop-notifier calls this on the loop that sent the notification (this one); posted
        # anyway, so that a backend calling from its own thread is safe too.
        self.loop.call_soon_threadsafe(self._bring_window, conversation_id)

    async def _announce(self, exchange_id: str) -> None:
        if self.runtime is None:
            return
        switchboard = self.runtime.switchboard
        exchange = switchboard.get(exchange_id)
        conversation_id = exchange.conversation_id
        # The window comes to the operator: when none is open (and none is on its way), a request
        # opens one, together with the notification.
        if self.settings.open_window_on_request and self.runtime.windows.count == 0 and \
                not self._window_on_its_way():
            self.loop.run_in_executor(None, self.show_window)
        label = switchboard.conversation(conversation_id).label
        body = first_words(exchange.user_input) or "(no text)"
        await self.notifier.send(
            label, body, on_clicked=lambda: self._on_notification_clicked(conversation_id))
