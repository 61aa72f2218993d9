"""Writes every exchange to SQLite as it happens, so a crash loses nothing already received."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from human_chat_completions.core.conversation import Conversation
from human_chat_completions.core.events import (
    ConversationChanged,
    DraftChanged,
    Event,
    ExchangeChanged,
    ExchangeClosed,
    ExchangeOpened,
    ReplyDelta,
)
from human_chat_completions.core.exchange import Draft, Exchange, Mode
from human_chat_completions.core.record import (
    ConversationRef,
    ExchangeRecord,
    compact_json,
    conversation_ref,
    iso,
    record_of,
)
from human_chat_completions.core.switchboard import Switchboard
from human_chat_completions.store import restart
from human_chat_completions.store.migrations import migrate
from human_chat_completions.store.writer import BatchWriter, Write

log = logging.getLogger(__name__)
PARTIAL_REPLY_SECONDS = 0.5
FLUSH_SECONDS = 0.005  # how long a change waits to be written with others in one transaction
# `requests.request_json` holds the request whole; this column only previews its last user message, for
# whoever reads the file with plain SQL (the readers in queries.py take the text from the request).
USER_INPUT_PREVIEW = 1000


def user_input_preview(text: str) -> str:
    return text if len(text) <= USER_INPUT_PREVIEW else text[:USER_INPUT_PREVIEW] + "…"


def columns(record: ExchangeRecord) -> dict[str, Any]:
    """The columns a record fills: the ones queries filter and sort on, and the ones a researcher
    reads with plain SQL. `record_json` holds the whole record (a new field needs no new column);
    the request has its own column, written once on arrival."""
    stamps = record.timestamps
    return {
        "id": record.id, "conversation_id": record.conversation.id, "state": record.outcome,
        "mode": record.mode, "author": record.author, "model": record.model,
        "stream": int(record.stream), "reply": record.final, "finish_reason": record.finish_reason,
        "error": record.error, "regenerate_of": record.regenerate_of,
        "client_address": record.client.address, "client_user_agent": record.client.user_agent,
        "received_at": stamps.received_at, "first_byte_at": stamps.first_byte_at,
        "done_at": stamps.done_at, "delivery_style": record.delivery_style,
        "operator_session": record.operator_session, "shown_at": stamps.shown_at,
        "first_keystroke_at": stamps.first_keystroke_at,
        "first_draft_token_at": stamps.first_draft_token_at,
        "chosen_draft_id": record.chosen_draft_id, "edit_distance": record.edit_distance,
        "note": record.note, "tag": record.tag, "record_json": record.stored_json(),
    }


class ExchangeLog:
    """The exchange log file. `listen` it to a switchboard's events to record a run.

    On a running loop, writes wait a moment beside the work they record and go in one transaction,
    each row written once with its latest state however many events touched it: a new request's
    row right after the loop has started answering it (in auto mode within FLUSH_SECONDS, so not
    in front of the first words), changes within FLUSH_SECONDS, and a finished exchange's at once,
    before its client reads the end of it. Batches waiting on a timer are written on the writer
    thread (`writer.py`), off the loop; the rest before the caller goes on. Reading `db` writes
    what is pending first. Without a running loop (scripts, synchronous tests), every event is written at
    once.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process; only a power cut can lose the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        if migrate(self._db):
            # A step may have moved the whole log (m005 copied every request): put it in the file
            # now, and cut the WAL it left (as long as the log) back to nothing.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._writer = BatchWriter(self._db, path, self._refused, self._skipped)
        self._partial_saved: dict[str, float] = {}
        self._partial_flush: dict[str, asyncio.TimerHandle] = {}
        self.failure: str | None = None
        self._unlogged: set[str] = set()
        self._conversations: dict[str, ConversationRef] = {}
        # What waits to be written: rows by id, each with the type of the last event that touched it.
        self._lock = threading.RLock()  # `db` may be read (and so flush) from another thread
        self._new_conversations: dict[str, Conversation] = {}
        self._inserts: dict[str, tuple[Exchange, str]] = {}
        self._updates: dict[str, tuple[Exchange, str]] = {}
        self._drafts: dict[str, tuple[Exchange, Draft]] = {}
        self._flush_soon = False
        self._flush_later: asyncio.TimerHandle | None = None

    @property
    def db(self) -> sqlite3.Connection:
        """The log's connection, with everything recorded so far written."""
        self.flush()
        return self._db

    def close(self) -> None:
        for handle in self._partial_flush.values():
            handle.cancel()
        self._partial_flush.clear()
        self.flush()
        self._writer.close()
        self._db.close()

    def on_event(self, event: Event) -> None:
        """Record an event. A failed write (disk full, file gone) stays in `failure` for the rest
        of the run (some exchange is incomplete in the log, the operator must know); the reply
        itself still reaches the participant."""
        exchange = getattr(event, "exchange", None)
        if exchange is not None and exchange.id in self._unlogged:
            self._spill(exchange, event.type)  # its row never made it: updates would change nothing
            return
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            self._note(event)
        if loop is None or (exchange is not None and not exchange.state.open):
            # Nothing could write later; or the exchange is finished and its client is about to
            # read the last byte of it.
            self.flush()
        elif isinstance(event, ExchangeOpened) and event.exchange.mode is Mode.AUTO:
            # The upstream's first words race this write, and an LLM's first token takes longer
            # than FLUSH_SECONDS: written within it, not in front of the first words.
            self._later(loop)
        elif isinstance(event, ExchangeOpened):
            self._soon(loop)
        elif self._pending():
            self._later(loop)

    def _note(self, event: Event) -> None:
        if isinstance(event, ConversationChanged):
            conversation = event.conversation
            self._conversations[conversation.id] = conversation_ref(conversation)
            self._new_conversations[conversation.id] = conversation
        elif isinstance(event, ExchangeOpened):
            self._inserts[event.exchange.id] = (event.exchange, event.type)
        elif isinstance(event, ExchangeChanged | ExchangeClosed):
            self._update(event.exchange, event.type)  # the row holds the whole reply so far
            if isinstance(event, ExchangeClosed):
                self._partial_saved.pop(event.exchange.id, None)
                self._cancel_partial_flush(event.exchange.id)
        elif isinstance(event, ReplyDelta):
            self._save_partial_reply(event.exchange)
        elif isinstance(event, DraftChanged) and not event.text:
            # Drafts are written when they start and when they finish, not on every token.
            self._drafts[event.draft.id] = (event.exchange, event.draft)
            self._update(event.exchange, event.type)

    def _update(self, exchange: Exchange, event_type: str) -> None:
        if exchange.id in self._inserts:
            self._inserts[exchange.id] = (exchange, event_type)  # its row is written as it is then
        else:
            self._updates[exchange.id] = (exchange, event_type)

    def _pending(self) -> bool:
        return bool(self._new_conversations or self._inserts or self._updates or self._drafts)

    def _soon(self, loop: asyncio.AbstractEventLoop) -> None:
        """Write at the loop's turn after next, before that turn ends: the callbacks the request set
        off run first, and once the operator can see a request it is in the file."""
        if not self._flush_soon:
            self._flush_soon = True
            loop.call_soon(loop.call_soon, self.flush)

    def _later(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._flush_later is None and not self._flush_soon:
            self._flush_later = loop.call_later(FLUSH_SECONDS, self._flush_now)

    def _flush_now(self) -> None:
        self._flush(wait=False)

    def flush(self) -> None:
        """Write everything pending, in one transaction, before returning."""
        self._flush(wait=True)

    def _flush(self, wait: bool) -> None:
        """Make the pending rows' writes (on this thread: they read the exchanges as they are now)
        and have them written: now, or on the writer thread."""
        with self._lock:
            self._flush_soon = False
            if self._flush_later is not None:
                self._flush_later.cancel()
                self._flush_later = None
            writes = self._pending_writes()
            if writes and not wait:
                self._writer.hand_over(writes)  # in the lock: batches go in the order they were made
                return
        if wait:
            self._writer.write_now(writes)

    def _pending_writes(self) -> list[Write]:
        conversations, self._new_conversations = self._new_conversations, {}
        inserts, self._inserts = self._inserts, {}
        updates, self._updates = self._updates, {}
        drafts, self._drafts = self._drafts, {}
        writes: list[Write] = []
        writes += [Write(None, "", (self._conversation_sql(c),)) for c in conversations.values()]
        writes += [Write(e, t, (self._insert_sql(e), self._request_sql(e))) for e, t in inserts.values()]
        writes += [Write(e, "draft.changed", (self._draft_sql(d),)) for e, d in drafts.values()
                   if e.id not in self._unlogged]
        writes += [Write(e, t, (self._update_sql(e),)) for e, t in updates.values()
                   if e.id not in self._unlogged]
        return writes

    def _skipped(self, write: Write) -> bool:
        """A write of an exchange whose row never made it: kept in the spill file instead."""
        if write.exchange is None or write.exchange.id not in self._unlogged:
            return False
        self._spill(write.exchange, write.event_type)
        return True

    def _refused(self, write: Write, error: sqlite3.Error) -> None:
        self._failed(error)
        if write.exchange is not None:
            if write.inserts_exchange:
                self._unlogged.add(write.exchange.id)
            self._spill(write.exchange, write.event_type)

    def _failed(self, error: sqlite3.Error) -> None:
        self.failure = f"{type(error).__name__}: {error}"
        log.error("the exchange log could not be written (%s); replies still go out", error)

    def _spill(self, exchange: Exchange, event_type: str) -> None:
        """Keep what the database refused in a plain JSON-lines file beside it, if the disk
        still takes that, so the record can be recovered by hand."""
        line = {"event": event_type, **self.record(exchange).model_dump(mode="json")}
        try:
            with self.spill_path.open("a", encoding="utf-8") as spill:
                spill.write(json.dumps(line, ensure_ascii=False) + "\n")
        except OSError as error:
            log.error("the spill file %s could not be written either: %s", self.spill_path, error)

    @property
    def spill_path(self) -> Path:
        return self.path.with_name("exchanges-unlogged.jsonl")

    def record(self, exchange: Exchange) -> ExchangeRecord:
        """The exchange's record, in the conversation this log has seen it open in."""
        conversation = self._conversations.get(exchange.conversation_id)
        return record_of(exchange, conversation or ConversationRef(id=exchange.conversation_id))

    def _conversation_sql(self, conversation: Conversation) -> tuple[str, tuple[Any, ...]]:
        return (
            """INSERT INTO conversations (id, label, identity, owner, mode, created_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET label = excluded.label, mode = excluded.mode""",
            (
                conversation.id,
                conversation.label,
                conversation.identity,
                conversation.owner,
                conversation.mode.value,
                iso(conversation.created_at),
            ),
        )

    def _insert_sql(self, exchange: Exchange) -> tuple[str, dict[str, Any]]:
        row = columns(self.record(exchange))
        row.update(user_input=user_input_preview(exchange.user_input),
                   api_key_masked=exchange.client.api_key_masked)
        names = ", ".join(row)
        values = ", ".join(f":{name}" for name in row)
        return f"INSERT INTO exchanges ({names}) VALUES ({values})", row

    def _request_sql(self, exchange: Exchange) -> tuple[str, tuple[Any, ...]]:
        """The request, once: in a row of its own, which the exchange's updates leave alone. Its
        UTF-8 bytes are stored as text as they are (a 20 MB request took json 98 ms on the loop,
        orjson and no decoding 12 ms)."""
        return ("INSERT INTO requests (exchange_id, request_json) VALUES (?, CAST(? AS TEXT))",
                (exchange.id, compact_json(exchange.request)))

    def _update_sql(self, exchange: Exchange) -> tuple[str, dict[str, Any]]:
        row = columns(self.record(exchange))
        assignments = ", ".join(f"{name} = :{name}" for name in row if name != "id")
        return f"UPDATE exchanges SET {assignments} WHERE id = :id", row

    def _save_partial_reply(self, exchange: Exchange) -> None:
        """A reply in progress is saved at most every PARTIAL_REPLY_SECONDS, so a crash mid-reply
        keeps what the client already received without a write per token. A delta that comes too
        soon is written by a flush scheduled for the end of the interval: the last text of a burst
        must not wait for the exchange to close."""
        waited = time.monotonic() - self._partial_saved.get(exchange.id, float("-inf"))
        if waited >= PARTIAL_REPLY_SECONDS:
            self._cancel_partial_flush(exchange.id)
            self._write_partial_reply(exchange)
            return
        if exchange.id in self._partial_flush:
            return  # the flush already scheduled reads the reply as it is then
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write_partial_reply(exchange)  # written at once with the event
            return
        self._partial_flush[exchange.id] = loop.call_later(
            PARTIAL_REPLY_SECONDS - waited, self._flush_partial_reply, exchange)

    def _flush_partial_reply(self, exchange: Exchange) -> None:
        self._partial_flush.pop(exchange.id, None)
        if exchange.id in self._unlogged:
            return
        with self._lock:
            self._write_partial_reply(exchange)
        self._flush(wait=False)

    def _write_partial_reply(self, exchange: Exchange) -> None:
        self._partial_saved[exchange.id] = time.monotonic()
        self._update(exchange, ReplyDelta.type)

    def _cancel_partial_flush(self, exchange_id: str) -> None:
        handle = self._partial_flush.pop(exchange_id, None)
        if handle is not None:
            handle.cancel()

    def _draft_sql(self, draft: Draft) -> tuple[str, tuple[Any, ...]]:
        return (
            """INSERT INTO drafts (id, exchange_id, profile, model, instruction, text, started_at,
                   first_token_at, done_at, error)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET text = excluded.text,
                   first_token_at = excluded.first_token_at, done_at = excluded.done_at,
                   error = excluded.error""",
            (
                draft.id,
                draft.exchange_id,
                draft.profile,
                draft.model,
                draft.instruction,
                draft.text,
                iso(draft.started_at),
                iso(draft.first_token_at),
                iso(draft.done_at),
                draft.error,
            ),
        )

    # -- reading --------------------------------------------------------------------------------

    def has_request(self, exchange_id: str) -> bool:
        """True if the exchange's request is in the file (its row was written on arrival)."""
        if exchange_id in self._inserts:
            self.flush()
        return exchange_id not in self._unlogged

    def load_request(self, exchange_id: str) -> dict[str, Any] | None:
        """The request as logged, for a switchboard that let it go from memory."""
        row = self.db.execute("SELECT request_json FROM requests WHERE exchange_id = ?",
                              (exchange_id,)).fetchone()
        return json.loads(row[0]) if row is not None else None

    def mark_interrupted(self) -> int:
        """Rows left open by a previous run that died: say so, keep everything. Returns the count."""
        return restart.mark_interrupted(self.db)

    def restore_into(self, switchboard: Switchboard) -> None:
        """Let a new run continue the conversations of earlier ones (see `restart`)."""
        for conversation in restart.restore_conversations(self.db, switchboard):
            self._conversations[conversation.id] = conversation_ref(conversation)
