"""What a new run takes over from the log of earlier ones: rows a run that died left open, and the
conversations to continue."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from human_chat_completions.core.conversation import Conversation
from human_chat_completions.core.exchange import ExchangeState, Mode
from human_chat_completions.core.switchboard import Switchboard

INTERRUPTED = "interrupted"


def mark_interrupted(db: sqlite3.Connection) -> int:
    """Rows left open by a previous run that died: say so, keep everything. Returns the count."""
    cursor = db.execute(
        """UPDATE exchanges SET state = :state, error = COALESCE(error, :error),
               record_json = json_set(record_json, '$.outcome', :state, '$.error',
                                      COALESCE(json_extract(record_json, '$.error'), :error))
           WHERE state IN (:waiting, :replying)""",
        {
            "state": INTERRUPTED,
            "error": "the server stopped before this exchange was finished",
            "waiting": ExchangeState.WAITING.value,
            "replying": ExchangeState.REPLYING.value,
        },
    )
    return cursor.rowcount


def restore_conversations(db: sqlite3.Connection, switchboard: Switchboard) -> list[Conversation]:
    """Give `switchboard` the conversations of earlier runs, and return them: their identities,
    modes and answered histories, so history matching still finds the thread."""
    conversations: dict[str, Conversation] = {}
    for row in db.execute("SELECT * FROM conversations ORDER BY created_at").fetchall():
        conversation = Conversation(
            id=row["id"],
            label=row["label"],
            mode=Mode(row["mode"]),
            identity=row["identity"],
            owner=row["owner"],
            created_at=datetime.fromisoformat(row["created_at"]).timestamp(),
        )
        switchboard.conversations.add(conversation)
        conversations[conversation.id] = conversation
    # Row by row, not fetchall: a long log of big requests would be in memory all at once.
    answered = db.execute(
        "SELECT e.id, e.conversation_id, r.request_json, e.reply, "
        "json_extract(e.record_json, '$.tool_calls') AS tool_calls "
        "FROM exchanges e JOIN requests r ON r.exchange_id = e.id WHERE e.state = ? "
        "ORDER BY e.received_at, e.rowid", (ExchangeState.DONE.value,))
    for row in answered:
        thread = conversations.get(row["conversation_id"])
        if thread is None:
            continue
        messages = json.loads(row["request_json"]).get("messages") or []
        switchboard.conversations.remember_request(thread, row["id"], messages)
        calls = json.loads(row["tool_calls"]) if row["tool_calls"] else None
        switchboard.conversations.remember_reply(thread, messages, row["reply"], calls)
    return list(conversations.values())
