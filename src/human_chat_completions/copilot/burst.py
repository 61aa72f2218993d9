"""Coalescing an auto answer's text on its way to the exchange."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from human_chat_completions.core import ExchangeClosedError


class Burst:
    """The text of an auto answer on its way to the exchange. What the upstream sent while this
    answer kept the loop busy (its bytes were already there) goes out in one piece as soon as the
    loop turns to other work: the client's response, the log and the windows handle one piece
    instead of many. At a model's own pace every piece still goes out as it comes."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._texts: list[str] = []
        self._handle: asyncio.Handle | None = None
        self.written = False

    @property
    def pending(self) -> bool:
        return bool(self._texts)

    def add(self, text: str) -> None:
        self._texts.append(text)
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._handle = None
        with contextlib.suppress(ExchangeClosedError):  # the client left meanwhile
            self.flush()

    def flush(self) -> None:
        self.drop_handle()
        if self._texts:
            text = "".join(self._texts)
            self._texts.clear()
            self.written = True
            self._write(text)

    def drop_handle(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def drop(self) -> None:
        self.drop_handle()
        self._texts.clear()
