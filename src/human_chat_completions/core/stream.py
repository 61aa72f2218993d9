"""ReplyStream: the only way text reaches a client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

DROPPED = "connection_dropped"
SHUTDOWN = "server_shutdown"  # the server is going away: no retry will find it


@dataclass(frozen=True, slots=True)
class StreamError:
    """Why a reply stream failed; the HTTP layer turns it into an error the client understands."""

    message: str
    code: str = "reply_failed"
    status: int | None = None  # an HTTP status the operator chose to send (error injection)

    @property
    def drops_connection(self) -> bool:
        """The operator asked for the connection to be cut, as a network failure would."""
        return self.code == DROPPED


class ReplyStream:
    """An append-only reply. Any number of readers replay it from the start.

    Several readers matter because a client's retry attaches to the exchange it is retrying and must
    receive everything already written.
    """

    def __init__(self) -> None:
        self._pieces: list[str | dict[str, Any]] = []
        self._changed = asyncio.Event()
        self.finish_reason: str | None = None
        self.error: StreamError | None = None

    @property
    def text(self) -> str:
        return "".join(piece for piece in self._pieces if isinstance(piece, str))

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """Tool-call deltas (as an upstream LLM streamed them) merged into whole calls."""
        calls: dict[int, dict[str, Any]] = {}
        for piece in self._pieces:
            if not isinstance(piece, dict):
                continue
            for delta in piece.get("tool_calls") or []:
                call = calls.setdefault(int(delta.get("index", 0)),
                                        {"id": "", "type": "function",
                                         "function": {"name": "", "arguments": ""}})
                call["id"] = delta.get("id") or call["id"]
                function = delta.get("function") or {}
                call["function"]["name"] += function.get("name") or ""
                call["function"]["arguments"] += function.get("arguments") or ""
        return [calls[index] for index in sorted(calls)]

    @property
    def closed(self) -> bool:
        return self.finish_reason is not None or self.error is not None

    def write(self, text: str) -> None:
        if self.closed:
            raise RuntimeError("reply stream is closed")
        if text:
            self._pieces.append(text)
            self._wake()

    def write_delta(self, delta: dict[str, Any]) -> None:
        """A non-text delta passed through as is (tool calls from an upstream LLM)."""
        if self.closed:
            raise RuntimeError("reply stream is closed")
        self._pieces.append(delta)
        self._wake()

    def close(self, finish_reason: str = "stop") -> None:
        if not self.closed:
            self.finish_reason = finish_reason
            self._wake()

    def fail(self, error: StreamError) -> None:
        if not self.closed:
            self.error = error
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def pieces(self, keepalive: float | None = None) -> AsyncIterator[str | dict[str, Any] | None]:
        """Yield written pieces in order; yield None after `keepalive` seconds of silence.

        Ends when the stream is closed or failed; the caller reads `finish_reason` / `error` then.
        """
        position = 0
        while True:
            while position < len(self._pieces):
                position += 1
                yield self._pieces[position - 1]
            if self.closed:
                return
            changed = self._changed
            try:
                # asyncio.timeout, not wait_for: in 3.11 wait_for wakes its caller two loop turns
                # late (it runs the wait as a task of its own), in front of every chunk.
                async with asyncio.timeout(keepalive):
                    await changed.wait()
            except TimeoutError:
                yield None

    async def started(self, within: float) -> bool:
        """Wait up to `within` seconds for something to be written or the stream to end; True if
        it was."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while not (self._pieces or self.closed):
                    await self._changed.wait()
        return bool(self._pieces) or self.closed

    async def wait_closed(self) -> None:
        while not self.closed:
            await self._changed.wait()
