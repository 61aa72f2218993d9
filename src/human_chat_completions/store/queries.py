"""The exchange log read as a dataset: filters, complete records and summary numbers."""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from human_chat_completions.core.exchange import last_user_text
from human_chat_completions.store.log import INTERRUPTED

# Rows that never became a finished reply. Exports leave them out unless asked; timed-out
# exchanges stay in, because the timeout policy did answer the client.
UNFINISHED = frozenset({"waiting", "replying", "abandoned", "failed", INTERRUPTED})
OUTCOMES = ("done", "abandoned", "failed", "timed_out", INTERRUPTED, "waiting", "replying")
TIMESTAMPS = ("received_at", "shown_at", "first_draft_token_at", "first_keystroke_at",
              "first_byte_at", "done_at")


def _as_utc(moment: datetime) -> datetime:
    # A time typed without an offset means the researcher's own clock.
    return (moment if moment.tzinfo else moment.astimezone()).astimezone(UTC)


def _stored(moment: datetime) -> str:
    """The form timestamps are stored in, so that boundaries compare as plain strings."""
    return _as_utc(moment).isoformat(timespec="milliseconds")


def parse_when(text: str, *, end: bool = False) -> str:
    """An ISO date or datetime from the command line as a stored-timestamp boundary.

    A bare date covers the whole (local) day: as `end`, it means the end of that day.
    """
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None and len(text) == 10:
        moment = datetime.combine(day + timedelta(days=1) if end else day, time())
        return _stored(moment)
    try:
        return _stored(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"not an ISO date or date-time: {text!r}") from None


@dataclass(frozen=True)
class Filters:
    """Which exchanges to read. `since`/`until` are stored-timestamp boundaries (see `parse_when`);
    `until` is exclusive. `participant` is a conversation label."""

    since: str | None = None
    until: str | None = None
    conversation: str | None = None
    participant: str | None = None
    author: str | None = None
    mode: str | None = None
    outcome: str | None = None
    include_unfinished: bool = True

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("e.received_at >= ?", self.since),
            ("e.received_at < ?", self.until),
            ("e.conversation_id = ?", self.conversation),
            ("c.label = ?", self.participant),
            ("e.author = ?", self.author),
            ("e.mode = ?", self.mode),
            ("e.state = ?", self.outcome),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        # An outcome asked for by name is wanted even if it is an unfinished one.
        if not self.include_unfinished and self.outcome is None:
            clauses.append(f"e.state NOT IN ({', '.join('?' * len(UNFINISHED))})")
            params.extend(sorted(UNFINISHED))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _dicts(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


_SELECT = """SELECT e.*, c.label AS conversation_label, c.identity AS conversation_identity
             FROM exchanges e LEFT JOIN conversations c ON c.id = e.conversation_id"""


def _drafts_by_exchange(db: sqlite3.Connection, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    # Chunked: SQLite caps the number of bound parameters per statement.
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        cursor = db.execute(
            f"SELECT * FROM drafts WHERE exchange_id IN ({', '.join('?' * len(chunk))}) "
            "ORDER BY started_at, rowid",
            chunk,
        )
        for draft in _dicts(cursor):
            found.setdefault(draft["exchange_id"], []).append(draft)
    return found


def iter_records(db: sqlite3.Connection, filters: Filters | None = None,
                 batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Complete records of the exchanges that match, oldest first, read in batches."""
    where, params = (filters or Filters()).where()
    cursor = db.execute(_SELECT + where + " ORDER BY e.received_at, e.rowid", params)
    names = [column[0] for column in cursor.description]
    while rows := cursor.fetchmany(batch):
        exchanges = [dict(zip(names, row, strict=True)) for row in rows]
        drafts = _drafts_by_exchange(db, [row["id"] for row in exchanges])
        for row in exchanges:
            yield record(row, drafts.get(row["id"], []))


def records(db: sqlite3.Connection, filters: Filters | None = None) -> list[dict[str, Any]]:
    return list(iter_records(db, filters))


def get_record(db: sqlite3.Connection, exchange_id: str) -> dict[str, Any] | None:
    """One exchange by id, or by a unique id prefix (ids are long to type)."""
    rows = list(_dicts(db.execute(_SELECT + " WHERE e.id = ?", (exchange_id,))))
    if not rows:
        pattern = exchange_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = list(_dicts(db.execute(_SELECT + " WHERE e.id LIKE ? ESCAPE '\\' LIMIT 2",
                                      (pattern + "%",))))
    if len(rows) != 1:
        return None
    return record(rows[0], _drafts_by_exchange(db, [rows[0]["id"]]).get(rows[0]["id"], []))


def _draft(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in ("id", "profile", "model", "instruction", "text", "started_at",
                                      "first_token_at", "done_at", "error")}


def record(row: dict[str, Any], drafts: list[dict[str, Any]]) -> dict[str, Any]:
    """The complete, export-safe record of one exchange row (no API key, masked or not)."""
    try:
        request = json.loads(row["request_json"])
    except (TypeError, ValueError):
        request = {}
    return {
        "id": row["id"],
        "conversation": {"id": row["conversation_id"], "label": row.get("conversation_label"),
                         "identity": row.get("conversation_identity")},
        "participant": row.get("conversation_label"),
        "model": row["model"],
        "stream": bool(row["stream"]),
        "request": request,
        "user_input": _user_input(request, row["user_input"]),
        "drafts": [_draft(draft) for draft in drafts],
        "chosen_draft_id": row.get("chosen_draft_id"),
        "final": row["reply"] or "",
        "finish_reason": row["finish_reason"],
        "author": row["author"],
        "mode": row["mode"],
        "delivery_style": row.get("delivery_style"),
        "operator_session": row.get("operator_session"),
        "timestamps": {name: row.get(name) for name in TIMESTAMPS},
        "outcome": row["state"],
        "error": row["error"],
        "edit_distance": row.get("edit_distance"),
        "note": row.get("note"),
        "tag": row.get("tag"),
        "regenerate_of": row["regenerate_of"],
        "client": {"address": row["client_address"], "user_agent": row["client_user_agent"]},
    }


def _user_input(request: dict[str, Any], column: str) -> str:
    """The whole last user message: the column is only a preview of it (see store.log)."""
    messages = request.get("messages") if isinstance(request, dict) else None
    return last_user_text(messages) if isinstance(messages, list) else column


def chosen_draft(rec: dict[str, Any]) -> dict[str, Any] | None:
    return next((d for d in rec["drafts"] if d["id"] == rec["chosen_draft_id"]), None)


def response_seconds(rec: dict[str, Any]) -> float | None:
    """How long the operator took: received → done, for exchanges that were answered."""
    stamps = rec["timestamps"]
    if rec["outcome"] != "done" or not stamps["received_at"] or not stamps["done_at"]:
        return None
    received = datetime.fromisoformat(stamps["received_at"])
    return (datetime.fromisoformat(stamps["done_at"]) - received).total_seconds()


def stats(recs: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by author, mode and outcome; medians of response time and edit distance."""
    by_author: Counter[str] = Counter()
    by_mode: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    times: list[float] = []
    distances: list[int] = []
    total = 0
    for rec in recs:
        total += 1
        by_author[rec["author"] or "none"] += 1
        by_mode[rec["mode"]] += 1
        by_outcome[rec["outcome"]] += 1
        seconds = response_seconds(rec)
        if seconds is not None:
            times.append(seconds)
        if rec["edit_distance"] is not None:
            distances.append(rec["edit_distance"])
    return {
        "exchanges": total,
        "by_author": dict(sorted(by_author.items())),
        "by_mode": dict(sorted(by_mode.items())),
        "by_outcome": dict(sorted(by_outcome.items())),
        "median_response_seconds": statistics.median(times) if times else None,
        "answered": len(times),
        "median_edit_distance": statistics.median(distances) if distances else None,
        "with_edit_distance": len(distances),
    }
