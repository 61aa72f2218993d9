"""The log's batches written in order, on a thread of their own beside the event loop.

SQLite's work (the write itself, and now and then a checkpoint that waits for the disk) happens
on the writer thread, which sqlite3 lets run while the loop goes on. A batch that must be on disk
before the caller continues (a finished exchange, a read) is written at once, after every batch
handed over before it: rows are written in the order their changes happened.

Checkpoints (moving the write-ahead log's pages into the file, with a wait for the disk) are the
writer thread's alone, on a connection of its own: SQLite's automatic one ran inside whichever
commit passed 1,000 pages, a finished exchange's on the loop among them, and held that reply's
last bytes 5-6 ms about every 250 exchanges (a 20 MB request's, far longer). The WAL starts over
only once a checkpoint has moved all of it with no commit in between; under a stream of big
requests that moment may never come, so past WAL_LIMIT_PAGES the writer checkpoints with writes
held back, and the file is cut back to nothing.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from human_chat_completions.core.exchange import Exchange

log = logging.getLogger(__name__)
Params = dict[str, Any] | tuple[Any, ...]

CHECKPOINT_SECONDS = 0.5  # how often, at most, the writer thread checkpoints while rows come in
WAL_LIMIT_PAGES = 8_192  # 32 MB of 4 KB pages: a WAL this long has not started over for a while


@dataclass(frozen=True, slots=True)
class Write:
    exchange: Exchange | None  # whose row it writes (None: a conversation's)
    event_type: str  # the last event that touched the row
    steps: tuple[tuple[str, Params], ...]  # statements written together or not at all

    @property
    def inserts_exchange(self) -> bool:
        return any(sql.startswith("INSERT INTO exchanges") for sql, _ in self.steps)


class BatchWriter:
    """Writes batches of writes to `db`, each in one transaction. A batch the file refuses is
    retried write by write, so one that cannot be written (a request too big for a full disk)
    takes none of the others with it; `refused(write, error)` hears of each that failed, and
    `skipped(write)` says which not to try (an exchange whose row never made it)."""

    def __init__(self, db: sqlite3.Connection, path: Path, refused: Callable[[Write, sqlite3.Error], None],
                 skipped: Callable[[Write], bool]) -> None:
        db.execute("PRAGMA wal_autocheckpoint=0")  # `_checkpoint` does it, off the loop
        self._db = db
        self._path = path
        self._checkpoints: sqlite3.Connection | None = None  # the writer thread's own connection
        self._checkpoint_due = time.monotonic() + CHECKPOINT_SECONDS
        self._checkpoint_queued = False
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
        self._checkpoint_soon()

    def close(self) -> None:
        self.write_queued()
        self._thread.shutdown(wait=True)
        if self._checkpoints is not None:
            self._checkpoints.close()

    def _checkpoint_soon(self) -> None:
        # Unlocked: at worst two checkpoints are queued, and the second finds little to do.
        if not self._checkpoint_queued and time.monotonic() >= self._checkpoint_due:
            self._checkpoint_queued = True
            self._thread.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        """Move what the write-ahead log holds into the file, without waiting for anyone: the
        loop's commits and reads go on meanwhile (a page still being read waits for the next)."""
        self._checkpoint_queued = False
        self._checkpoint_due = time.monotonic() + CHECKPOINT_SECONDS
        try:
            if self._checkpoints is None:
                # No busy wait: a reader in the way (the Logs page) is left for the next one.
                self._checkpoints = sqlite3.connect(self._path, isolation_level=None, timeout=0,
                                                    check_same_thread=False)
            _, wal_pages, _ = self._checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if wal_pages >= WAL_LIMIT_PAGES:
                with self._writing:  # the loop's next write waits for this one
                    self._checkpoints.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as error:  # the log goes on growing; the next checkpoint tries again
            log.warning("the exchange log could not be checkpointed: %s", error)

    def _write(self, batch: list[Write]) -> None:
        try:
            self._in_one_transaction([step for write in batch for step in write.steps])
        except sqlite3.Error:
            self._write_one_by_one(batch)

    def _in_one_transaction(self, steps: Sequence[tuple[str, Params]]) -> None:
        try:
            self._db.execute("BEGIN")
            for sql, params in steps:
                self._db.execute(sql, params)
            self._db.execute("COMMIT")
        except sqlite3.Error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _write_one_by_one(self, batch: list[Write]) -> None:
        for write in batch:
            if self._skipped(write):
                continue
            try:
                self._in_one_transaction(write.steps)
            except sqlite3.Error as error:
                self._refused(write, error)
