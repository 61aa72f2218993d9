"""Export formats for the exchange log: the full record, a flat table, and training datasets.

Every writer takes records (`core.record.ExchangeRecord`), which never hold an API key, and writes
text. The training formats flatten content parts to their text; only `jsonl` keeps the request as
the client sent it. CSV cells that a spreadsheet would run as a formula get a leading `'`; the
JSON formats keep every text exactly as it was.

An export knows what it holds: `Rules` say which records it leaves out (unfinished exchanges, a
chat app's side requests, replies by authors not asked for), and `write` returns an
`ExportReport` counting what each rule dropped, which goes beside the file as `<file>.meta.json`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from human_chat_completions.core.drafts import edit_distance
from human_chat_completions.core.exchange import message_text
from human_chat_completions.core.record import DraftRecord, ExchangeRecord
from human_chat_completions.store.queries import UNFINISHED

Record = ExchangeRecord
Row = dict[str, Any]

KTO_THRESHOLD = 0.3
# A cell starting like this is a formula to Excel, LibreOffice and Sheets (OWASP: CSV injection);
# a participant's text could otherwise make the researcher's spreadsheet open links or run DDE.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "id", "conversation_id", "participant", "received_at", "done_at", "outcome", "mode", "author",
    "model", "user_input", "final", "draft", "drafts", "edit_distance", "response_seconds",
    "delivery_style", "operator_session", "note", "tag", "error", "side_request", "study",
    "condition", "operator", "guard_phrase", "guard_action", "tool_calls", "injected_error",
)
# Keys a training example keeps from a request message; the rest (`refusal: null`, client
# extras) is noise to a trainer.
MESSAGE_KEYS = ("name", "tool_calls", "tool_call_id")
SHAREGPT_ROLES = {"system": "system", "developer": "system", "user": "human", "assistant": "gpt",
                  "tool": "observation", "function": "observation"}
TRAINING_FORMATS = ("openai-sft", "openai-dpo", "trl-preference", "trl-kto", "sharegpt")
# Replies a person stands behind: typed by hand, an edited draft, or a draft the operator read and
# sent as is (`copilot`). The last is in because sending a draft unchanged is the same judgement as
# sending it with one character changed, and leaving it out would keep only the drafts the operator
# found wanting (KTO would lose every accepted draft). LLM answers nobody reviewed first (`auto`,
# `auto+takeover`) and the timeout policy's canned text only when asked.
TRAINING_AUTHORS = ("human", "edited", "copilot")


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
    return text_messages(list(record.request.get("messages") or []))


def assistant(text: str) -> list[dict[str, Any]]:
    return [{"role": "assistant", "content": text}]


def reply(record: Record) -> list[dict[str, Any]]:
    """The reply as an assistant message, with the tool calls an upstream LLM made, if any."""
    if not record.tool_calls:
        return assistant(record.final)
    return [{"role": "assistant", "content": record.final or None, "tool_calls": record.tool_calls}]


def _usable_drafts(record: Record) -> list[DraftRecord]:
    return [draft for draft in record.drafts if draft.text and not draft.error]


def _distance(record: Record, draft: DraftRecord) -> int:
    known = record.edit_distance if draft.id == record.chosen_draft_id else None
    return known if known is not None else edit_distance(draft.text, record.final)


def rejected_draft(record: Record) -> str | None:
    """The draft the operator did not send as is, when there is one: the chosen draft if it was
    edited, else (no draft chosen) the first draft, if the final reply differs from it."""
    if not record.final:
        return None
    chosen = record.chosen_draft
    if chosen is not None:
        return chosen.text if chosen.text and _distance(record, chosen) > 0 else None
    drafts = _usable_drafts(record)
    if drafts and drafts[0].text != record.final:
        return drafts[0].text
    return None


def kto_example(record: Record, threshold: float = KTO_THRESHOLD) -> tuple[str, bool] | None:
    """(draft, desirable): a draft sent unchanged or lightly edited is desirable; a heavily edited
    or discarded one is not. `threshold` is edit distance / length of the longer text."""
    chosen = record.chosen_draft
    if chosen is not None and chosen.text:
        distance = _distance(record, chosen)
        ratio = distance / max(len(chosen.text), len(record.final), 1)
        return chosen.text, distance == 0 or ratio < threshold
    drafts = _usable_drafts(record)
    return (drafts[0].text, False) if drafts else None


# -- one function per format: a record in, its example (or None: it makes none) out ------------


def jsonl_row(record: Record, **_: Any) -> Row:
    return record.model_dump(mode="json")


def openai_sft_row(record: Record, **_: Any) -> Row | None:
    if not (record.final or record.tool_calls):
        return None
    return {"messages": prompt(record) + reply(record)}


def openai_dpo_row(record: Record, **_: Any) -> Row | None:
    draft = rejected_draft(record)
    if draft is None:
        return None
    return {"input": {"messages": prompt(record)},
            "preferred_output": assistant(record.final),
            "non_preferred_output": assistant(draft)}


def trl_preference_row(record: Record, **_: Any) -> Row | None:
    draft = rejected_draft(record)
    if draft is None:
        return None
    return {"prompt": prompt(record), "chosen": assistant(record.final),
            "rejected": assistant(draft)}


def trl_kto_row(record: Record, kto_threshold: float = KTO_THRESHOLD, **_: Any) -> Row | None:
    example = kto_example(record, kto_threshold)
    if example is None:
        return None
    draft, label = example
    return {"prompt": prompt(record), "completion": assistant(draft), "label": label}


def _sharegpt_turns(message: dict[str, Any]) -> Iterator[dict[str, str]]:
    role = str(message.get("role"))
    content = message.get("content")
    if content or not message.get("tool_calls"):
        yield {"from": SHAREGPT_ROLES.get(role, role), "value": content or ""}
    if message.get("tool_calls"):
        yield {"from": "function_call",
               "value": json.dumps(message["tool_calls"], ensure_ascii=False)}


def sharegpt_row(record: Record, **_: Any) -> Row | None:
    if not (record.final or record.tool_calls):
        return None
    messages = prompt(record) + reply(record)
    return {"conversations": [turn for m in messages for turn in _sharegpt_turns(m)]}


def csv_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, prefixed with `'` so it shows as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(record: Record, **_: Any) -> Row:
    return {column: csv_cell(value) for column, value in _csv_values(record).items()}


def _csv_values(record: Record) -> Row:
    chosen = record.chosen_draft
    seconds = record.response_seconds()
    return {
        "id": record.id,
        "conversation_id": record.conversation.id,
        "participant": record.participant,
        "received_at": record.timestamps.received_at,
        "done_at": record.timestamps.done_at,
        "outcome": record.outcome,
        "mode": record.mode,
        "author": record.author,
        "model": record.model,
        "user_input": record.user_input,
        "final": record.final,
        "draft": chosen.text if chosen else "",
        "drafts": len(record.drafts),
        "edit_distance": record.edit_distance,
        "response_seconds": f"{seconds:.3f}" if seconds is not None else None,
        "delivery_style": record.delivery_style,
        "operator_session": record.operator_session,
        "note": record.note,
        "tag": record.tag,
        "error": record.error,
        "side_request": record.side_request,
        "study": record.study,
        "condition": record.condition,
        "operator": record.operator,
        "guard_phrase": record.guard_phrase,
        "guard_action": record.guard_action,
        "tool_calls": json.dumps(record.tool_calls, ensure_ascii=False) if record.tool_calls else None,
        "injected_error": record.injected_error,
    }


EXAMPLES: dict[str, Callable[..., Row | None]] = {
    "jsonl": jsonl_row,
    "csv": csv_row,
    "openai-sft": openai_sft_row,
    "openai-dpo": openai_dpo_row,
    "trl-preference": trl_preference_row,
    "trl-kto": trl_kto_row,
    "sharegpt": sharegpt_row,
}
FORMATS = ("jsonl", "csv", "openai-sft", "openai-dpo", "trl-preference", "trl-kto", "sharegpt")
EXTENSIONS = {name: ("csv" if name == "csv" else "jsonl") for name in FORMATS}
AUTHORS = ("human", "copilot", "edited", "auto", "auto+takeover", "timeout-policy")


# -- what an export leaves out, and the count of it ----------------------------------------------


@dataclass(frozen=True)
class Rules:
    """Which records an export leaves out, before the format picks its examples.

    `include_side_requests` None: kept in `jsonl` and `csv`, left out of the training formats.
    `authors` None: every author in `jsonl` and `csv`, `TRAINING_AUTHORS` in the training formats;
    an empty tuple means every author too.
    """

    include_unfinished: bool = False
    include_side_requests: bool | None = None
    authors: tuple[str, ...] | None = None
    kto_threshold: float = KTO_THRESHOLD

    def for_format(self, format: str) -> tuple[bool, frozenset[str] | None]:
        """(keep side requests, the authors kept or None for all) in `format`."""
        training = format in TRAINING_FORMATS
        side = self.include_side_requests if self.include_side_requests is not None else not training
        authors = self.authors if self.authors is not None else (TRAINING_AUTHORS if training else ())
        return side, frozenset(authors) or None


@dataclass
class ExportReport:
    """What an export read, wrote and left out, rule by rule (in the order the rules apply: a
    record is counted by the first rule that drops it, so `read == written + sum(dropped)`)."""

    format: str
    rules: list[dict[str, Any]] = field(default_factory=list)
    read: int = 0
    written: int = 0

    def drop(self, name: str) -> None:
        next(rule for rule in self.rules if rule["rule"] == name)["dropped"] += 1

    @property
    def dropped(self) -> dict[str, int]:
        return {rule["rule"]: rule["dropped"] for rule in self.rules}

    def meta(self, selection: dict[str, Any] | None = None) -> dict[str, Any]:
        """The sidecar's content; `selection`: the filters the records were read with."""
        return {
            "format": self.format,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "selection": {key: value for key, value in (selection or {}).items() if value},
            "read": self.read,
            "written": self.written,
            "rules": self.rules,
        }


def _rule(name: str, description: str, keep_with: str | None) -> dict[str, Any]:
    return {"rule": name, "description": description, "keep_with": keep_with, "dropped": 0}


def _report(format: str, rules: Rules) -> ExportReport:
    side, authors = rules.for_format(format)
    report = ExportReport(format)
    if not rules.include_unfinished:
        report.rules.append(_rule(
            "unfinished", f"left out: outcome {', '.join(sorted(UNFINISHED))}",
            "--include-unfinished"))
    if not side:
        report.rules.append(_rule(
            "side_request", "left out: a chat app's own requests (titles, tags…)",
            "--include-side-requests"))
    if authors is not None:
        report.rules.append(_rule(
            "author", f"kept only replies by: {', '.join(a for a in AUTHORS if a in authors)}",
            "--author"))
    if format in TRAINING_FORMATS:
        report.rules.append(_rule(
            "no_example", f"left out: exchanges that make no {format} example", None))
    return report


def _dropped_by(record: Record, rules: Rules, side: bool, authors: frozenset[str] | None) -> str | None:
    """The first rule that leaves `record` out, or None if it goes on to the format."""
    if not rules.include_unfinished and record.outcome in UNFINISHED:
        return "unfinished"
    if not side and record.side_request:
        return "side_request"
    if authors is not None and record.author not in authors:
        return "author"
    return None


def write(records: Iterable[Record], format: str, out: TextIO,
          rules: Rules | None = None) -> ExportReport:
    """Write the examples `records` make in `format` to `out`, leaving out what `rules` say;
    return the report of what was read, written and dropped.

    Open a file for CSV with `newline=""` so the csv module's line endings stay intact.
    """
    if format not in EXAMPLES:
        raise ValueError(f"unknown export format {format!r}; choose from {', '.join(FORMATS)}")
    rules = rules or Rules()
    side, authors = rules.for_format(format)
    report = _report(format, rules)
    example = EXAMPLES[format]
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS) if format == "csv" else None
    if writer is not None:
        writer.writeheader()
    for record in records:
        report.read += 1
        dropped = _dropped_by(record, rules, side, authors)
        row = None if dropped else example(record, kto_threshold=rules.kto_threshold)
        if row is None:
            report.drop(dropped or "no_example")
            continue
        if writer is not None:
            writer.writerow(row)
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        report.written += 1
    return report


def meta_path(out: Path) -> Path:
    """The sidecar beside an export: `pairs.jsonl` → `pairs.jsonl.meta.json`."""
    return out.with_name(out.name + ".meta.json")


def write_meta(out: Path, report: ExportReport, selection: dict[str, Any] | None = None) -> Path:
    path = meta_path(out)
    path.write_text(json.dumps(report.meta(selection), ensure_ascii=False, indent=2) + "\n",
                    encoding="utf-8")
    return path
