"""Named, append-only schema migrations. Never edit a step that has shipped; add a new one."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(function: Migration) -> Migration:
    MIGRATIONS.append((function.__name__, function))
    return function


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            identity TEXT,
            mode TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE exchanges (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id),
            state TEXT NOT NULL,
            mode TEXT NOT NULL,
            author TEXT,
            model TEXT,
            stream INTEGER NOT NULL,
            request_json TEXT NOT NULL,
            user_input TEXT NOT NULL,
            reply TEXT NOT NULL DEFAULT '',
            finish_reason TEXT,
            error TEXT,
            regenerate_of TEXT,
            client_address TEXT,
            client_user_agent TEXT,
            api_key_masked TEXT,
            received_at TEXT NOT NULL,
            first_byte_at TEXT,
            done_at TEXT
        )"""
    )
    db.execute("CREATE INDEX exchanges_conversation ON exchanges(conversation_id, received_at)")
    db.execute("CREATE INDEX exchanges_received ON exchanges(received_at)")


@migration
def m002_drafts_and_operator_timings(db: sqlite3.Connection) -> None:
    for column in (
        "delivery_style TEXT",
        "operator_session TEXT",
        "shown_at TEXT",
        "first_keystroke_at TEXT",
        "first_draft_token_at TEXT",
        "chosen_draft_id TEXT",
        "edit_distance INTEGER",
        "note TEXT",
        "tag TEXT",
    ):
        db.execute(f"ALTER TABLE exchanges ADD COLUMN {column}")
    db.execute(
        """CREATE TABLE drafts (
            id TEXT PRIMARY KEY,
            exchange_id TEXT NOT NULL REFERENCES exchanges(id),
            profile TEXT NOT NULL,
            model TEXT,
            instruction TEXT,
            text TEXT NOT NULL DEFAULT '',
            started_at TEXT NOT NULL,
            first_token_at TEXT,
            done_at TEXT,
            error TEXT
        )"""
    )
    db.execute("CREATE INDEX drafts_exchange ON drafts(exchange_id)")


@migration
def m003_conversation_owner(db: sqlite3.Connection) -> None:
    """The participant whose key opened a conversation; only their requests may continue it."""
    db.execute("ALTER TABLE conversations ADD COLUMN owner TEXT")


@migration
def m004_exchange_record(db: sqlite3.Connection) -> None:
    """The exchange's whole record as JSON (`core.record.ExchangeRecord` without the request,
    which `request_json` holds), so that a new field reaches the log without a new column.

    Old rows are filled from their columns. What older versions never stored (side requests,
    notices, tool calls) stays empty. This step spells the record out itself rather than importing
    the model: a migration must do tomorrow what it did the day it shipped.
    """
    db.execute("ALTER TABLE exchanges ADD COLUMN record_json TEXT")
    labels = {row[0]: row[1:] for row in db.execute(
        "SELECT id, label, identity, owner FROM conversations")}
    cursor = db.execute(f"SELECT {', '.join(_M004_COLUMNS)} FROM exchanges")
    while rows := cursor.fetchmany(500):
        exchanges = [dict(zip(_M004_COLUMNS, row, strict=True)) for row in rows]
        drafts = _m004_drafts(db, [row["id"] for row in exchanges])
        db.executemany("UPDATE exchanges SET record_json = ? WHERE id = ?", [
            (json.dumps(_m004_record(row, labels, drafts.get(row["id"], [])), ensure_ascii=False),
             row["id"])
            for row in exchanges
        ])


_M004_COLUMNS = (
    "id", "conversation_id", "state", "mode", "author", "model", "stream", "reply", "finish_reason",
    "error", "regenerate_of", "client_address", "client_user_agent", "received_at", "first_byte_at",
    "done_at", "delivery_style", "operator_session", "shown_at", "first_keystroke_at",
    "first_draft_token_at", "chosen_draft_id", "edit_distance", "note", "tag",
)
_M004_DRAFT_COLUMNS = ("id", "profile", "model", "instruction", "text", "started_at",
                       "first_token_at", "done_at", "error")


def _m004_drafts(db: sqlite3.Connection, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    cursor = db.execute(
        f"SELECT exchange_id, {', '.join(_M004_DRAFT_COLUMNS)} FROM drafts "
        f"WHERE exchange_id IN ({', '.join('?' * len(ids))}) ORDER BY started_at, rowid", ids)
    for exchange_id, *values in cursor:
        found.setdefault(exchange_id, []).append(dict(zip(_M004_DRAFT_COLUMNS, values, strict=True)))
    return found


def _m004_record(row: dict[str, Any], labels: dict[str, tuple[Any, ...]],
                 drafts: list[dict[str, Any]]) -> dict[str, Any]:
    label, identity, owner = labels.get(row["conversation_id"], (None, None, None))
    return {
        "id": row["id"],
        "conversation": {"id": row["conversation_id"], "label": label, "identity": identity,
                         "owner": owner},
        "model": row["model"] or "",
        "stream": bool(row["stream"]),
        "drafts": drafts,
        "chosen_draft_id": row["chosen_draft_id"],
        "final": row["reply"] or "",
        "tool_calls": [],
        "finish_reason": row["finish_reason"],
        "author": row["author"],
        "mode": row["mode"],
        "delivery_style": row["delivery_style"],
        "operator_session": row["operator_session"],
        "timestamps": {name: row[name] for name in (
            "received_at", "shown_at", "first_draft_token_at", "first_keystroke_at",
            "first_byte_at", "done_at")},
        "outcome": row["state"],
        "error": row["error"],
        "edit_distance": row["edit_distance"],
        "note": row["note"],
        "tag": row["tag"],
        "side_request": None,
        "notice": None,
        "notice_code": None,
        "regenerate_of": row["regenerate_of"],
        "client": {"address": row["client_address"], "user_agent": row["client_user_agent"]},
    }


@migration
def m005_requests_apart(db: sqlite3.Connection) -> None:
    """Each request in a table of its own, written once on arrival. SQLite writes a whole row
    again on every UPDATE, so with the request in `exchanges` each change to an exchange (its
    first words, its partial reply, its end) wrote the request again: 60 MB of log for a 20 MB
    request, and a finished reply's commit held the loop as long as a 1 MB history took (7 ms)."""
    if sqlite3.sqlite_version_info < (3, 35, 0):  # DROP COLUMN came in 3.35 (2021)
        raise sqlite3.NotSupportedError(
            f"the exchange log needs SQLite 3.35 or newer, this Python has {sqlite3.sqlite_version}")
    db.execute(
        """CREATE TABLE requests (
            exchange_id TEXT PRIMARY KEY REFERENCES exchanges(id),
            request_json TEXT NOT NULL
        )"""
    )
    db.execute("INSERT INTO requests (exchange_id, request_json) SELECT id, request_json FROM exchanges")
    db.execute("ALTER TABLE exchanges DROP COLUMN request_json")


def migrate(db: sqlite3.Connection) -> list[str]:
    """Run every migration this database has not seen yet; return the names that ran."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    ran = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with _transaction(db):
            step(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (name, datetime.now(UTC).isoformat()),
            )
        ran.append(name)
    return ran


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One step, all or nothing, whatever the connection's isolation level: a step that stopped
    half-way (a crash during a backfill) must neither count as run nor be unable to run again."""
    if not db.in_transaction:
        db.execute("BEGIN")
    try:
        yield
    except BaseException:
        db.rollback()
        raise
    db.commit()
