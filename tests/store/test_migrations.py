"""Migrations: a log written before the record column reads back whole, in every state."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from human_chat_completions.store import migrations, queries
from human_chat_completions.store.log import ExchangeLog
from human_chat_completions.store.migrations import MIGRATIONS, migrate
from tests.store.research_log import LOG_FILE

STATES = ("waiting", "replying", "done", "abandoned", "failed", "timed_out", "interrupted")
NEVER_STORED_BEFORE = ("side_request", "notice", "notice_code", "tool_calls", "study", "condition",
                       "operator", "claimed_by", "guard_phrase", "guard_action", "injected_error")


def schema_before_the_record(path: Path) -> sqlite3.Connection:
    """A log file as the version before `m004_exchange_record` left it."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, step in MIGRATIONS[:3]:
        step(db)
        db.execute("INSERT INTO _migrations VALUES (?, '2025-01-01T00:00:00+00:00')", (name,))
    assert [name for name, _ in MIGRATIONS[:3]][-1] == "m003_conversation_owner"
    return db


def stamp(second: int) -> str:
    return f"2025-01-01T00:00:{second:02d}.000+00:00"


def old_row(index: int, state: str) -> dict:
    """An exchange row as the version before the record wrote it; `done` is an edited draft."""
    answered, done = state != "waiting", state == "done"
    finished = state not in ("waiting", "replying", "interrupted")
    request = {"model": "m", "temperature": 0.5,
               "messages": [{"role": "user", "content": f"question {state}"}]}
    return {
        "id": f"ex_{state}", "conversation_id": "conv_a", "state": state, "mode": "copilot",
        "author": "edited" if done else "human" if answered else None, "model": "m",
        "stream": index % 2, "request_json": json.dumps(request), "user_input": f"question {state}",
        "reply": f"reply {state}" if answered else "", "finish_reason": "stop" if done else None,
        "error": "gone" if state in ("failed", "interrupted") else None, "regenerate_of": None,
        "client_address": "127.0.0.1", "client_user_agent": "App/2", "api_key_masked": "sk-…-old",
        "received_at": stamp(index * 5), "shown_at": stamp(index * 5 + 1),
        "first_draft_token_at": stamp(index * 5 + 1) if done else None,
        "first_keystroke_at": stamp(index * 5 + 2) if answered else None,
        "first_byte_at": stamp(index * 5 + 3) if answered else None,
        "done_at": stamp(index * 5 + 4) if finished else None,
        "delivery_style": "paced", "operator_session": "op-1",
        "chosen_draft_id": "dr_1" if done else None, "edit_distance": 3 if done else None,
        "note": "note" if done else None, "tag": "tag" if done else None,
    }


def fill_old_rows(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO conversations VALUES ('conv_a', 'Alice · p-1', 'p-1', 'copilot', ?, "
               "'Alice')", (stamp(0),))
    for index, state in enumerate(STATES):
        row = old_row(index, state)
        db.execute(f"INSERT INTO exchanges ({', '.join(row)}) VALUES "
                   f"({', '.join(':' + name for name in row)})", row)
    for draft_id, started in (("dr_2", 12), ("dr_1", 11)):  # read back in the order they started
        db.execute("INSERT INTO drafts VALUES (?, 'ex_done', 'local', 'llama', NULL, ?, ?, ?, ?, "
                   "NULL)", (draft_id, f"draft {draft_id}", stamp(started), stamp(started),
                             stamp(started + 1)))
    db.commit()


def test_old_rows_in_every_state_get_their_record(tmp_path):
    path = tmp_path / LOG_FILE
    db = schema_before_the_record(path)
    fill_old_rows(db)
    assert migrate(db) == ["m004_exchange_record", "m005_requests_apart"]
    db.close()

    log = ExchangeLog(path)
    try:
        found = {record.id: record for record in queries.records(log.db)}
    finally:
        log.close()
    assert {record.outcome for record in found.values()} == set(STATES)
    for state in STATES:
        record = found[f"ex_{state}"]
        assert record.user_input == f"question {state}" and record.request["temperature"] == 0.5
        assert record.conversation.model_dump() == {"id": "conv_a", "label": "Alice · p-1",
                                                    "identity": "p-1", "owner": "Alice"}
        assert record.participant == "Alice" and record.mode == "copilot"  # the key's owner
        assert record.client.model_dump() == {"address": "127.0.0.1", "user_agent": "App/2"}
        assert (record.side_request, record.notice, record.tool_calls) == (None, None, [])
    done = found["ex_done"]
    assert [d.id for d in done.drafts] == ["dr_1", "dr_2"] and done.chosen_draft.text == "draft dr_1"
    assert (done.final, done.author, done.edit_distance, done.note, done.tag) == (
        "reply done", "edited", 3, "note", "tag")
    assert done.timestamps.first_draft_token_at == stamp(11) and done.response_seconds() == 4.0
    assert found["ex_waiting"].final == "" and found["ex_waiting"].timestamps.first_byte_at is None
    assert found["ex_interrupted"].error == "gone"
    assert found["ex_done"].stream is False and found["ex_replying"].stream is True


def test_the_backfill_agrees_with_the_writer(research_log):
    """Rows the running server wrote: the record the migration would build from their columns is
    the record the writer stored (but for what older versions never stored)."""
    data, ids = research_log
    db = sqlite3.connect(data / LOG_FILE)
    db.row_factory = sqlite3.Row
    labels = {row[0]: tuple(row)[1:] for row in db.execute(
        "SELECT id, label, identity, owner FROM conversations")}
    rows = [dict(row) for row in db.execute("SELECT * FROM exchanges")]
    drafts = migrations._m004_drafts(db, [row["id"] for row in rows])
    db.close()
    assert len(rows) == 10 and sum(len(found) for found in drafts.values()) == 5
    for row in rows:
        stored = json.loads(row["record_json"])
        rebuilt = migrations._m004_record(row, labels, drafts.get(row["id"], []))
        for name in NEVER_STORED_BEFORE:
            stored.pop(name), rebuilt.pop(name, None)
        stored["timestamps"].pop("sent_at")  # studies came after the record
        assert rebuilt == stored, row["id"]


def test_a_step_that_fails_half_way_leaves_nothing_behind(tmp_path, monkeypatch):
    db = sqlite3.connect(tmp_path / LOG_FILE, isolation_level=None)  # autocommit, like the log's
    migrate(db)

    def m999_broken(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE exchanges ADD COLUMN half TEXT")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, ("m999_broken", m999_broken)])
    with pytest.raises(sqlite3.OperationalError):
        migrate(db)
    columns = [row[1] for row in db.execute("PRAGMA table_info(exchanges)")]
    assert "half" not in columns and "record_json" in columns
    assert "m999_broken" not in {row[0] for row in db.execute("SELECT name FROM _migrations")}
    db.close()


def test_requests_move_to_a_table_of_their_own_and_read_back_whole(tmp_path):
    path = tmp_path / LOG_FILE
    db = schema_before_the_record(path)
    fill_old_rows(db)
    migrate(db)
    assert "request_json" not in [row[1] for row in db.execute("PRAGMA table_info(exchanges)")]
    moved = dict(db.execute("SELECT exchange_id, request_json FROM requests").fetchall())
    assert set(moved) == {f"ex_{state}" for state in STATES}
    assert json.loads(moved["ex_done"])["messages"] == [{"role": "user", "content": "question done"}]
    db.close()
    log = ExchangeLog(path)
    try:
        assert log.load_request("ex_waiting") == json.loads(moved["ex_waiting"])
    finally:
        log.close()


def test_opening_a_migrated_log_leaves_no_wal_behind(tmp_path):
    """m005 copies every request: the WAL it leaves is as long as the log, and is cut at once."""
    path = tmp_path / LOG_FILE
    db = schema_before_the_record(path)
    db.execute("PRAGMA journal_mode=WAL")
    fill_old_rows(db)
    db.close()
    log = ExchangeLog(path)
    try:
        assert Path(f"{path}-wal").stat().st_size == 0
        assert len(list(queries.records(log.db))) == len(STATES)
    finally:
        log.close()
