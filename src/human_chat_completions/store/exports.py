"""Export formats for the exchange log: the full record, a flat table, and training datasets.

Every writer takes complete records (`queries.record`), which never hold an API key, and writes
text. The training formats flatten content parts to their text; only `jsonl` keeps the request as
the client sent it. CSV cells that a spreadsheet would run as a formula get a leading `'`; the
JSON formats keep every text exactly as it was.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from human_chat_completions.core.drafts import edit_distance
from human_chat_completions.core.exchange import message_text
from human_chat_completions.store.queries import chosen_draft, response_seconds

Record = dict[str, Any]

KTO_THRESHOLD = 0.3
# A cell starting like this is a formula to Excel, LibreOffice and Sheets (OWASP: CSV injection);
# a participant's text could otherwise make the researcher's spreadsheet open links or run DDE.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "id", "conversation_id", "participant", "received_at", "done_at", "outcome", "mode", "author",
    "model", "user_input", "final", "draft", "drafts", "edit_distance", "response_seconds",
    "delivery_style", "operator_session", "note", "tag", "error",
)
# Keys a training example keeps from a request message; the rest (`refusal: null`, client
# extras) is noise to a trainer.
MESSAGE_KEYS = ("name", "tool_calls", "tool_call_id")
SHAREGPT_ROLES = {"system": "system", "developer": "system", "user": "human", "assistant": "gpt",
                  "tool": "observation", "function": "observation"}


def text_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Request messages with content as plain text (text parts joined, images and audio dropped)."""
    flat = []
    for message in messages:
        content = message.get("content")
        text: str | None = message_text(message)
        if content is None and message.get("tool_calls"):
            text = None
        item: dict[str, Any] = {"role": message.get("role"), "content": text}
        item.update({key: message[key] for key in MESSAGE_KEYS if message.get(key) is not None})
        flat.append(item)
    return flat


def prompt(record: Record) -> list[dict[str, Any]]:
    return text_messages(list(record["request"].get("messages") or []))


def assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _usable_drafts(record: Record) -> list[dict[str, Any]]:
    return [draft for draft in record["drafts"] if draft["text"] and not draft["error"]]


def _distance(record: Record, draft: dict[str, Any]) -> int:
    known = record["edit_distance"] if draft["id"] == record["chosen_draft_id"] else None
    return known if known is not None else edit_distance(draft["text"], record["final"])


def rejected_draft(record: Record) -> str | None:
    """The draft the operator did not send as is, when there is one: the chosen draft if it was
    edited, else (no draft chosen) the first draft, if the final reply differs from it."""
    if not record["final"]:
        return None
    chosen = chosen_draft(record)
    if chosen is not None:
        return chosen["text"] if chosen["text"] and _distance(record, chosen) > 0 else None
    drafts = _usable_drafts(record)
    if drafts and drafts[0]["text"] != record["final"]:
        return str(drafts[0]["text"])
    return None


def kto_example(record: Record, threshold: float = KTO_THRESHOLD) -> tuple[str, bool] | None:
    """(draft, desirable): a draft sent unchanged or lightly edited is desirable; a heavily edited
    or discarded one is not. `threshold` is edit distance / length of the longer text."""
    chosen = chosen_draft(record)
    if chosen is not None and chosen["text"]:
        distance = _distance(record, chosen)
        ratio = distance / max(len(chosen["text"]), len(record["final"]), 1)
        return chosen["text"], distance == 0 or ratio < threshold
    drafts = _usable_drafts(record)
    return (drafts[0]["text"], False) if drafts else None


# -- one function per format: records in, JSON-able rows out ------------------------------------


def jsonl_rows(records: Iterable[Record], **_: Any) -> Iterator[Record]:
    yield from records


def openai_sft_rows(records: Iterable[Record], **_: Any) -> Iterator[Record]:
    for record in records:
        if record["final"]:
            yield {"messages": prompt(record) + assistant(record["final"])}


def openai_dpo_rows(records: Iterable[Record], **_: Any) -> Iterator[Record]:
    for record in records:
        draft = rejected_draft(record)
        if draft is not None:
            yield {"input": {"messages": prompt(record)},
                   "preferred_output": assistant(record["final"]),
                   "non_preferred_output": assistant(draft)}


def trl_preference_rows(records: Iterable[Record], **_: Any) -> Iterator[Record]:
    for record in records:
        draft = rejected_draft(record)
        if draft is not None:
            yield {"prompt": prompt(record), "chosen": assistant(record["final"]),
                   "rejected": assistant(draft)}


def trl_kto_rows(records: Iterable[Record], kto_threshold: float = KTO_THRESHOLD,
                 **_: Any) -> Iterator[Record]:
    for record in records:
        example = kto_example(record, kto_threshold)
        if example is not None:
            draft, label = example
            yield {"prompt": prompt(record), "completion": assistant(draft), "label": label}


def _sharegpt_turns(message: dict[str, Any]) -> Iterator[dict[str, str]]:
    role = str(message.get("role"))
    content = message.get("content")
    if content or not message.get("tool_calls"):
        yield {"from": SHAREGPT_ROLES.get(role, role), "value": content or ""}
    if message.get("tool_calls"):
        yield {"from": "function_call",
               "value": json.dumps(message["tool_calls"], ensure_ascii=False)}


def sharegpt_rows(records: Iterable[Record], **_: Any) -> Iterator[Record]:
    for record in records:
        if record["final"]:
            messages = prompt(record) + assistant(record["final"])
            yield {"conversations": [turn for m in messages for turn in _sharegpt_turns(m)]}


def csv_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, prefixed with `'` so it shows as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(record: Record) -> dict[str, Any]:
    return {column: csv_cell(value) for column, value in _csv_values(record).items()}


def _csv_values(record: Record) -> dict[str, Any]:
    chosen = chosen_draft(record)
    seconds = response_seconds(record)
    return {
        "id": record["id"],
        "conversation_id": record["conversation"]["id"],
        "participant": record["participant"],
        "received_at": record["timestamps"]["received_at"],
        "done_at": record["timestamps"]["done_at"],
        "outcome": record["outcome"],
        "mode": record["mode"],
        "author": record["author"],
        "model": record["model"],
        "user_input": record["user_input"],
        "final": record["final"],
        "draft": chosen["text"] if chosen else "",
        "drafts": len(record["drafts"]),
        "edit_distance": record["edit_distance"],
        "response_seconds": f"{seconds:.3f}" if seconds is not None else None,
        "delivery_style": record["delivery_style"],
        "operator_session": record["operator_session"],
        "note": record["note"],
        "tag": record["tag"],
        "error": record["error"],
    }


ROWS: dict[str, Callable[..., Iterator[Record]]] = {
    "jsonl": jsonl_rows,
    "openai-sft": openai_sft_rows,
    "openai-dpo": openai_dpo_rows,
    "trl-preference": trl_preference_rows,
    "trl-kto": trl_kto_rows,
    "sharegpt": sharegpt_rows,
}
FORMATS = ("jsonl", "csv", "openai-sft", "openai-dpo", "trl-preference", "trl-kto", "sharegpt")
EXTENSIONS = {name: ("csv" if name == "csv" else "jsonl") for name in FORMATS}


def write(records: Iterable[Record], format: str, out: TextIO, *,
          kto_threshold: float = KTO_THRESHOLD) -> int:
    """Write `records` to `out` in `format`; return how many examples (rows) were written.

    Open a file for CSV with `newline=""` so the csv module's line endings stay intact.
    """
    count = 0
    if format == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for record in records:
            writer.writerow(csv_row(record))
            count += 1
        return count
    try:
        rows = ROWS[format]
    except KeyError:
        raise ValueError(f"unknown export format {format!r}; choose from {', '.join(FORMATS)}") from None
    for row in rows(records, kto_threshold=kto_threshold):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
