"""N concurrent drafts, each fed by its own task from the moment it exists."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from human_chat_completions.copilot.pieces import Piece, UpstreamError

_END = object()


class Candidate:
    """One of N concurrent drafts: an async iterator of pieces, fed by its own task from the moment it exists.

    Iterating gives the pieces, then raises UpstreamError if that draft failed (also kept in `error`), then
    ends. A cancelled candidate just ends. `cancel()` / `aclose()` stop it and close its upstream stream.
    """

    def __init__(self, index: int, source: AsyncGenerator[Piece, None]) -> None:
        self.index = index
        self.error: UpstreamError | None = None
        self._source = source
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._pump(), name=f"draft-candidate-{index}")
        # Also when cancelled before it ever ran: a reader must never wait forever.
        self._task.add_done_callback(lambda _: self._queue.put_nowait(_END))

    async def _pump(self) -> None:
        async with contextlib.aclosing(self._source) as pieces:
            try:
                async for piece in pieces:
                    self._queue.put_nowait(piece)
            except UpstreamError as error:
                self.error = error
                self._queue.put_nowait(error)

    def __aiter__(self) -> Candidate:
        return self

    async def __anext__(self) -> Piece:
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # stay exhausted
            raise StopAsyncIteration
        if isinstance(item, UpstreamError):
            raise item
        return item

    @property
    def done(self) -> bool:
        return self._task.done()

    @property
    def cancelled(self) -> bool:
        return self._task.cancelled()

    def cancel(self) -> None:
        self._task.cancel()

    async def aclose(self) -> None:
        """Cancel and wait until the upstream stream is closed."""
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def close_candidates(candidates: Iterable[Candidate]) -> None:
    """Cancel drafts and wait until their upstream streams are closed."""
    await asyncio.gather(*(c.aclose() for c in candidates))
