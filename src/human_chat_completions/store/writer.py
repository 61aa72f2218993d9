"""The log's batches written in order, on a thread of their own beside the event loop.

SQLite's work (the write itself, and now and then a checkpoint that waits for the disk) happens
on the writer thread, which sqlite3 lets run while the loop goes on. A batch that must be on disk
before the caller continues (a finished exchange, a read) is written at once, after every batch
handed over before it: rows are written in the order their changes happened.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from human_chat_completions.core.exchange import Exchange

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Write:
    exchange: Exchange | None  # whose row it writes (None: a conversation's)
    event_type: str  # the last event that touched the row
    sql: str
    params: dict[str, Any] | tuple[Any, ...]

    @property
    def inserts_exchange(self) -> bool:
        return self.sql.startswith("INSERT INTO exchanges")


class BatchWriter:
    """Writes batches of writes to `db`, each in one transaction. A batch the file refuses is
    retried write by write, so one that cannot be written (a request too big for a full disk)
    takes none of the others with it; `refused(write, error)` hears of each that failed, and
    `skipped(write)` says which not to try (an exchange whose row never made it)."""

    def __init__(self, db: sqlite3.Connection, refused: Callable[[Write, sqlite3.Error], None],
                 skipped: Callable[[Write], bool]) -> None:
        self._db = db
        self._refused = refused
        self._skipped = skipped
        self._queued: deque[list[Write]] = deque()
        self._writing = threading.Lock()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="exchange-log")

    def hand_over(self, batch: list[Write]) -> None:
        """Write `batch` on the writer thread (call in the order the batches were made)."""
        self._queued.append(batch)
        self._thread.submit(self.write_queued)

    def write_now(self, batch: list[Write]) -> None:
        """Write `batch` before returning, after every batch handed over before it."""
        if batch:
            self._queued.append(batch)
        self.write_queued()

    def write_queued(self) -> None:
        with self._writing:
            while self._queued:
                batch = self._queued.popleft()
                try:
                    self._write(batch)
                except Exception:  # a bug, not the disk: say so, and keep writing the rest
                    log.exception("a batch of the exchange log could not be written")

    def close(self) -> None:
        self.write_queued()
        self._thread.shutdown(wait=True)

    def _write(self, batch: list[Write]) -> None:
        try:
            self._db.execute("BEGIN")
            for write in batch:
                self._db.execute(write.sql, write.params)
            self._db.execute("COMMIT")
        except sqlite3.Error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._write_one_by_one(batch)

    def _write_one_by_one(self, batch: list[Write]) -> None:
        for write in batch:
            if self._skipped(write):
                continue
            try:
                self._db.execute(write.sql, write.params)
            except sqlite3.Error as error:
                self._refused(write, error)
