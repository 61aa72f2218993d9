"""Running the server: settings, log, switchboard and app wired together under uvicorn."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import platform
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from human_chat_completions import http_protocol
from human_chat_completions.api import create_app
from human_chat_completions.config import Settings, data_dir, operator_token
from human_chat_completions.copilot.service import Copilot
from human_chat_completions.copilot.upstream import Upstream
from human_chat_completions.core import Switchboard
from human_chat_completions.settings_store import SettingsChange, SettingsStore
from human_chat_completions.store import ExchangeLog
from human_chat_completions.studies import StudyBook
from human_chat_completions.windows import OpenWindows

log = logging.getLogger(__name__)
LOG_FILE = "exchanges.sqlite3"


@dataclass
class Runtime:
    """Everything one running server holds."""

    settings_store: SettingsStore
    switchboard: Switchboard
    exchange_log: ExchangeLog
    operator_token: str
    token_path: Path
    copilot: Copilot
    windows: OpenWindows = field(default_factory=OpenWindows)  # the operator windows open now

    def close(self) -> None:
        self.exchange_log.close()


class ExchangeLogUnavailable(RuntimeError):
    """The exchange log cannot be opened or written: the server must not run without it."""


def open_exchange_log(path: Path) -> ExchangeLog:
    try:
        exchange_log = ExchangeLog(path)
        interrupted = exchange_log.mark_interrupted()  # also proves the file is writable
    except (OSError, sqlite3.Error) as error:
        raise ExchangeLogUnavailable(
            f"Cannot use the exchange log at {path}: {error}. Free some disk space, or choose a "
            "writable folder with --data-dir or the HCC_DATA_DIR environment variable."
        ) from error
    if interrupted:
        log.warning("%d exchanges from a previous run were unfinished; marked interrupted", interrupted)
    return exchange_log


def build_runtime(
    settings: SettingsStore | Settings, data_path: Path | None = None, token: str | None = None
) -> Runtime:
    """Open the log (marking what a previous run left unfinished) and connect it to a switchboard.

    settings: the run's store (the tray shares its own with the server); a plain value starts one.
    """
    store = settings if isinstance(settings, SettingsStore) else SettingsStore(settings)
    exchange_log = open_exchange_log((data_path or data_dir()) / LOG_FILE)
    switchboard = Switchboard(default_mode=store.current.default_mode)
    exchange_log.restore_into(switchboard)
    restore_study_conditions(switchboard, StudyBook())
    switchboard.events.listen(exchange_log.on_event)  # first: a request is logged before anything
    switchboard.requests.archive = exchange_log  # finished requests may leave memory: the log has them
    store.listen(lambda change: _follow_default_mode(switchboard, change))
    copilot = Copilot(switchboard, store, Upstream())
    operator_token_value, token_path = operator_token(token)
    return Runtime(store, switchboard, exchange_log, operator_token_value, token_path, copilot)


def restore_study_conditions(switchboard: Switchboard, studies: StudyBook) -> None:
    """Threads of study participants from earlier runs wear their condition again at once (badge,
    persona, pace), not only after the participant's next request."""
    for conversation in list(switchboard.conversations.conversations.values()):
        condition = studies.condition_of_owner(conversation.owner) if conversation.owner else None
        if condition is not None:
            switchboard.enter_condition(conversation.id, condition)


def _follow_default_mode(switchboard: Switchboard, change: SettingsChange) -> None:
    if change.touches(["default_mode"]):
        switchboard.set_default_mode(change.new.default_mode)


class Server(uvicorn.Server):
    """uvicorn waits for open responses before it stops; ours wait for a human, so end them first
    with a clear error (logged as failed) instead of leaving clients hanging."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime
        self.switchboard = runtime.switchboard

    async def startup(self, sockets: list | None = None) -> None:
        await super().startup(sockets)
        freeze_startup_objects()

    async def shutdown(self, sockets: list | None = None) -> None:
        ended = self.switchboard.fail_all_open(
            "The Human Chat Completions server is shutting down; this request was not answered."
        )
        if ended:
            log.warning("ended %d unanswered requests at shutdown", ended)
        self._spare_websockets_already_closing()
        await self._close_connections(sockets)
        if not self.force_exit:
            await self.lifespan.shutdown()
        await self.runtime.copilot.upstream.aclose()

    async def _close_connections(self, sockets: list | None) -> None:
        """uvicorn's own shutdown, but without its fixed 0.1 s pause and 0.1 s polling: the
        connections are usually gone within milliseconds, and the tray's Stop and Restart (and
        hundreds of test servers) should not wait a constant for them."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            await asyncio.wait_for(self._connections_and_tasks_done(),
                                   timeout=self.config.timeout_graceful_shutdown)
        except TimeoutError:
            log.error("cancelling %d running task(s): the graceful shutdown timed out",
                      len(self.server_state.tasks))
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")

    async def _connections_and_tasks_done(self) -> None:
        state = self.server_state
        while (state.connections or state.tasks) and not self.force_exit:
            await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()

    def _spare_websockets_already_closing(self) -> None:
        """A window whose browser sent its close frame stays in uvicorn's connections until its
        transport has flushed; uvicorn's shutdown would send a second close there, which the
        websockets protocol refuses (InvalidState), ending the server thread mid-shutdown with
        sockets left open. Marking the close as sent makes uvicorn just close the transport."""
        for connection in list(self.server_state.connections):
            protocol = getattr(connection, "conn", None)  # the websockets-sansio protocol
            state = getattr(protocol, "state", None)
            if state is not None and state.name != "OPEN" and hasattr(connection, "close_sent"):
                connection.close_sent = True


def freeze_startup_objects() -> None:
    """The objects alive once the server is up (the app, the window's framework, schemas: about
    160,000) leave the garbage collector's view. Each full collection walked them all, 50-80 ms
    with the loop stopped every few hundred requests: the slowest replies' first tokens. Once per
    process (a restarted server's, or a test's second, would freeze what the first left behind)."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def return_big_blocks_to_the_os() -> None:
    """glibc raises its mmap threshold to the size of a big block once one is freed (up to
    32 MB), so later request bodies of a few MB land in the heap and their pages stay with the
    process after they are freed: 20 abandoned 20 MB requests left RSS 100-160 MB up instead of
    40 MB. A fixed threshold keeps every block from 1 MB on in its own mapping, returned when
    freed. macOS and Windows allocators already return big blocks."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    m_mmap_threshold = -3  # from <malloc.h>
    try:
        ctypes.CDLL(None).mallopt(m_mmap_threshold, 1 << 20)
    except (OSError, AttributeError):  # a frozen build without the symbol: only memory is at stake
        log.debug("mallopt is not available; big blocks stay with glibc's defaults")


def make_server(
    runtime: Runtime, host: str | None = None, port: int | None = None, with_ui: bool = True
) -> Server:
    """The uvicorn server for a runtime; `with_ui` mounts the operator window at /ui."""
    return_big_blocks_to_the_os()
    lifespan = None
    if with_ui:
        from human_chat_completions.ui import flet_lifespan

        lifespan = lambda _app: flet_lifespan()  # noqa: E731
    app = create_app(runtime.settings_store, runtime.switchboard, runtime.operator_token, lifespan)
    app.state.copilot = runtime.copilot
    app.state.exchange_log = runtime.exchange_log
    # Connection limits and the address apply when the server starts (a restart picks up changes).
    settings = runtime.settings_store.current
    port = port if port is not None else settings.port
    if with_ui:
        from human_chat_completions.ui import mount_operator_ui

        mount_operator_ui(app, runtime.switchboard, runtime.settings_store, runtime.operator_token,
                          runtime.exchange_log, runtime.copilot, app.state.token_guard,
                          windows=runtime.windows, listening_port=port)
    config = uvicorn.Config(
        app,
        host=host or settings.host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        lifespan="on",
        http=http_protocol.protocol(settings.max_header_bytes),
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.idle_connection_seconds,
        # No proxy stands in front of a desktop tool: trusting X-Forwarded-For from 127.0.0.1 let
        # any local process name a new address per wrong operator token and slip the guard.
        proxy_headers=False,
    )
    return Server(config, runtime)
