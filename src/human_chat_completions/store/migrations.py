"""Named, append-only schema migrations. Never edit a step that has shipped; add a new one."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

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


def migrate(db: sqlite3.Connection) -> list[str]:
    """Run every migration this database has not seen yet; return the names that ran."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    ran = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with db:
            step(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (name, datetime.now(UTC).isoformat()),
            )
        ran.append(name)
    return ran
