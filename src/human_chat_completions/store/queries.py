"""The exchange log read as a dataset: filters, records (`ExchangeRecord`) and summary numbers."""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from human_chat_completions.core.delivery import Pace, paced_pieces
from human_chat_completions.core.record import ExchangeRecord
from human_chat_completions.store.restart import INTERRUPTED

# Rows that never became a finished reply. Exports leave them out unless asked; timed-out
# exchanges stay in, because the timeout policy did answer the client.
UNFINISHED = frozenset({"waiting", "replying", "abandoned", "failed", INTERRUPTED})
OUTCOMES = ("done", "abandoned", "failed", "timed_out", INTERRUPTED, "waiting", "replying")


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
    `until` is exclusive. `participant` is a conversation label. `text`: every whitespace-separated
    term appears, in any case, in the id, participant, user input, reply, author, mode, outcome,
    note, tag, side request, study, condition or a draft."""

    since: str | None = None
    until: str | None = None
    conversation: str | None = None
    participant: str | None = None
    author: str | None = None
    mode: str | None = None
    outcome: str | None = None
    include_unfinished: bool = True
    text: str | None = None
    study: str | None = None
    condition: str | None = None

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
            ("json_extract(e.record_json, '$.study') = ?", self.study),
            ("json_extract(e.record_json, '$.condition') = ?", self.condition),
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


_SELECT = """SELECT r.request_json, e.record_json
             FROM exchanges e LEFT JOIN conversations c ON c.id = e.conversation_id
             LEFT JOIN requests r ON r.exchange_id = e.id"""
# What a search looks through: the columns a researcher sees in the Logs page, and draft texts.
# `user_input` is the stored preview (its first 1,000 characters), not the whole message.
_SEARCHED = """e.id || ' ' || coalesce(c.label, '') || ' ' || coalesce(e.user_input, '') || ' ' ||
    coalesce(e.reply, '') || ' ' || coalesce(e.author, '') || ' ' || e.mode || ' ' || e.state ||
    ' ' || coalesce(e.note, '') || ' ' || coalesce(e.tag, '') || ' ' ||
    coalesce(json_extract(e.record_json, '$.side_request'), '') || ' ' ||
    coalesce(json_extract(e.record_json, '$.study'), '') || ' ' ||
    coalesce(json_extract(e.record_json, '$.condition'), '') || ' ' ||
    coalesce((SELECT group_concat(d.text, ' ') FROM drafts d WHERE d.exchange_id = e.id), '')"""


def _matches(haystack: str | None, query: str) -> bool:
    """Every whitespace-separated term of `query` appears, in any case, in `haystack`."""
    folded = (haystack or "").casefold()
    return all(term in folded for term in query.casefold().split())


def _prepare(db: sqlite3.Connection) -> None:
    # SQLite's own LIKE and lower() fold ASCII only; a search must find 'É' and 'ß' too.
    db.create_function("hcc_matches", 2, _matches, deterministic=True)


def _where(db: sqlite3.Connection, filters: Filters | None) -> tuple[str, list[Any]]:
    filters = filters or Filters()
    where, params = filters.where()
    if filters.text and filters.text.strip():
        _prepare(db)
        clause = f"hcc_matches({_SEARCHED}, ?)"
        where = (where + " AND " + clause) if where else " WHERE " + clause
        params = [*params, filters.text]
    return where, params


def record(row: dict[str, Any] | sqlite3.Row) -> ExchangeRecord:
    """The record of one stored row: `record_json` with the request from `requests.request_json`."""
    try:
        request = json.loads(row["request_json"])
    except (TypeError, ValueError):
        request = {}
    return ExchangeRecord.from_stored(row["record_json"], request if isinstance(request, dict) else {})


def iter_records(db: sqlite3.Connection, filters: Filters | None = None, batch: int = 1000, *,
                 newest_first: bool = False, limit: int | None = None,
                 offset: int = 0) -> Iterator[ExchangeRecord]:
    """Records of the exchanges that match, oldest first (or newest), read in batches; `limit`
    and `offset` read one page of them."""
    where, params = _where(db, filters)
    order = " DESC" if newest_first else ""
    query = _SELECT + where + f" ORDER BY e.received_at{order}, e.rowid{order}"
    if limit is not None or offset:
        query += " LIMIT ? OFFSET ?"
        params = [*params, -1 if limit is None else limit, offset]
    cursor = db.execute(query, params)
    while rows := cursor.fetchmany(batch):
        for row in rows:
            yield record({"request_json": row[0], "record_json": row[1]})


def records(db: sqlite3.Connection, filters: Filters | None = None) -> list[ExchangeRecord]:
    return list(iter_records(db, filters))


def count(db: sqlite3.Connection, filters: Filters | None = None) -> int:
    where, params = _where(db, filters)
    query = "SELECT count(*) FROM exchanges e LEFT JOIN conversations c ON c.id = e.conversation_id"
    return int(db.execute(query + where, params).fetchone()[0])


def get_record(db: sqlite3.Connection, exchange_id: str) -> ExchangeRecord | None:
    """One exchange by id, or by a unique id prefix (ids are long to type)."""
    rows = list(_dicts(db.execute(_SELECT + " WHERE e.id = ?", (exchange_id,))))
    if not rows:
        pattern = exchange_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = list(_dicts(db.execute(_SELECT + " WHERE e.id LIKE ? ESCAPE '\\' LIMIT 2",
                                      (pattern + "%",))))
    if len(rows) != 1:
        return None
    return record(rows[0])


def stats(recs: Iterable[ExchangeRecord]) -> dict[str, Any]:
    """Counts by author, mode and outcome; medians of response time and edit distance."""
    by_author: Counter[str] = Counter()
    by_mode: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    times: list[float] = []
    distances: list[int] = []
    total = 0
    for rec in recs:
        total += 1
        by_author[rec.author or "none"] += 1
        by_mode[rec.mode] += 1
        by_outcome[rec.outcome] += 1
        seconds = rec.response_seconds()
        if seconds is not None:
            times.append(seconds)
        if rec.edit_distance is not None:
            distances.append(rec.edit_distance)
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


def delivered_pace(rec: ExchangeRecord) -> tuple[float, float] | None:
    """What a paced reply's participant really saw: (ms from Send to the first token, tokens per
    second after it), or None for a reply that was not sent that way or never reached a client."""
    stamps = rec.timestamps
    if not (rec.stream and rec.outcome == "done" and stamps.sent_at and stamps.first_byte_at
            and stamps.done_at):
        return None
    sent, first, done = (datetime.fromisoformat(t) for t in (stamps.sent_at, stamps.first_byte_at,
                                                             stamps.done_at))
    tokens = len(paced_pieces(rec.final, Pace()))
    streaming = (done - first).total_seconds()
    if tokens < 2 or streaming <= 0:
        return None
    return (first - sent).total_seconds() * 1000, tokens / streaming


def by_condition(recs: Iterable[ExchangeRecord]) -> dict[str, dict[str, Any]]:
    """Per study condition (`study/condition`): participants, exchanges, median response time,
    median edit distance, guard holds, and the delivered pace's medians."""
    groups: dict[str, list[ExchangeRecord]] = {}
    for rec in recs:
        if rec.condition is not None:
            groups.setdefault(f"{rec.study}/{rec.condition}", []).append(rec)
    return {name: _condition_numbers(group) for name, group in sorted(groups.items())}


def _condition_numbers(group: list[ExchangeRecord]) -> dict[str, Any]:
    times = [t for t in (r.response_seconds() for r in group) if t is not None]
    distances = [r.edit_distance for r in group if r.edit_distance is not None]
    paces = [p for p in (delivered_pace(r) for r in group) if p is not None]
    median = statistics.median
    return {
        "participants": len({r.participant for r in group}),
        "exchanges": len(group),
        "median_response_seconds": median(times) if times else None,
        "median_edit_distance": median(distances) if distances else None,
        "guard_holds": sum(1 for r in group if r.guard_action is not None),
        "paced_replies": len(paces),
        "median_first_token_ms": median(p[0] for p in paces) if paces else None,
        "median_tokens_per_second": median(p[1] for p in paces) if paces else None,
    }
