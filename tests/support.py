"""A real server on a loopback port, and the operator side played through the operator API."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from human_chat_completions.config import Settings
from human_chat_completions.server import Runtime, Server, build_runtime, make_server

OPERATOR_TOKEN = "test-operator-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


async def eventually(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """wait_until for a test running on the loop that does the work."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout}s")


class RunningServer:
    """`hcc serve` in a thread of the test process: a real uvicorn on 127.0.0.1."""

    def __init__(self, data_dir: Path, settings: Settings | None = None, port: int | None = None,
                 host: str = "127.0.0.1"):
        self.data_dir = data_dir
        self.host = host
        self.settings = settings or Settings()
        self.port = port or free_port()
        self.runtime: Runtime | None = None
        self.server: Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> RunningServer:
        self.runtime = build_runtime(self.settings, self.data_dir, OPERATOR_TOKEN)
        self.server = make_server(self.runtime, self.host, self.port)
        self._stopping: asyncio.Event | None = None
        self.server.main_loop = self._main_loop  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=15)
        return self

    def on_loop(self, function: Callable[[], Any], timeout: float = 10) -> Any:
        """Run `function` on the server's loop, where the app's own changes happen (settings
        listeners, the switchboard), and return its result."""
        assert self.server is not None and self.server.servers, "the server is not running"

        async def call() -> Any:
            return function()

        loop = self.server.servers[0].get_loop()
        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)

    async def _main_loop(self) -> None:
        """uvicorn's own loop looks for `should_exit` every 0.1 s; hundreds of servers a run
        make that seconds, so a test's stop wakes it at once."""
        self._stopping = asyncio.Event()
        while not self.server.should_exit:  # a signal or the app itself may still set it
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=1)
            except TimeoutError:
                continue
            break

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            stopping = self._stopping
            if stopping is not None and self.server.started:
                with contextlib.suppress(RuntimeError):  # the loop has already ended
                    self.server.servers[0].get_loop().call_soon_threadsafe(stopping.set)
            self.thread.join(timeout=20)
            assert not self.thread.is_alive(), "server did not stop"
        if self.runtime is not None:
            self.runtime.close()
        self.server = self.thread = self.runtime = None

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Operator:
    """The operator side, through the operator HTTP API."""

    def __init__(self, base: str, token: str = OPERATOR_TOKEN) -> None:
        self.http = httpx.Client(
            base_url=base + "/operator/api",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )

    def close(self) -> None:
        self.http.close()

    def exchanges(self, outcome: str | None = None) -> list[dict[str, Any]]:
        """Exchange records (`core.record.ExchangeRecord`) of this run, oldest first."""
        params = {"outcome": outcome} if outcome else {}
        response = self.http.get("/exchanges", params=params)
        response.raise_for_status()
        return response.json()

    def exchange(self, exchange_id: str) -> dict[str, Any]:
        return self.http.get(f"/exchanges/{exchange_id}").raise_for_status().json()

    def wait_for(self, count: int, outcome: str = "waiting", timeout: float = 10.0) -> list[dict]:
        return wait_until(lambda: (found := self.exchanges(outcome)) and len(found) >= count and found,
                          timeout=timeout)

    def reply(self, exchange_id: str, text: str, done: bool = True) -> httpx.Response:
        return self.http.post(f"/exchanges/{exchange_id}/reply", json={"text": text, "done": done})

    def call_tools(self, exchange_id: str, calls: list[dict[str, Any]], text: str = "",
                   force: bool = False) -> httpx.Response:
        """Answer with tool calls: `calls` are `{"name": ..., "arguments": {...}}`."""
        body = {"text": text, "tool_calls": calls, "done": True, "force": force}
        return self.http.post(f"/exchanges/{exchange_id}/reply", json=body)

    def fail(self, exchange_id: str, status: int | None = None, drop: bool = False,
             message: str = "Rate limit reached. Please try again later.") -> httpx.Response:
        """End the request with an injected error (`status`) or a cut connection (`drop`)."""
        body = {"message": message, "status": status, "drop": drop}
        return self.http.post(f"/exchanges/{exchange_id}/fail", json=body)


def http_chunks(raw: bytes) -> list[bytes]:
    """The chunks of a chunked HTTP response (`raw` from its status line on), one per write of
    the server; a chunk still arriving at the end is left out."""
    body = raw.split(b"\r\n\r\n", 1)[1]
    chunks = []
    while b"\r\n" in body:
        size_line, rest = body.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0 or len(rest) < size + 2:
            break
        chunks.append(rest[:size])
        body = rest[size + 2:]
    return chunks
