"""`hcc logs`: read the exchange log as a dataset — list, show, export, stats."""

from __future__ import annotations

import json
import sqlite3
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from human_chat_completions.store import exports, queries

logs_app = typer.Typer(
    help="Read the exchange log: list, show, export and stats.",
    no_args_is_help=True,
    add_completion=False,
)

ExportFormat = StrEnum("ExportFormat", {name: name for name in exports.FORMATS})  # type: ignore[misc]

DataDirOption = Annotated[
    Path | None, typer.Option(help="Folder holding the exchange log (or HCC_DATA_DIR).")
]
SinceOption = Annotated[
    str | None, typer.Option(help="From this ISO date or date-time (local time unless it has an offset).")
]
UntilOption = Annotated[
    str | None, typer.Option(help="Before this ISO date-time; a bare date includes that whole day.")
]
ConversationOption = Annotated[str | None, typer.Option(help="Only this conversation id.")]
ParticipantOption = Annotated[str | None, typer.Option(help="Only this participant (conversation label).")]
AuthorOption = Annotated[
    str | None,
    typer.Option(help="Only replies by: human, copilot, edited, auto, auto+takeover, timeout-policy."),
]
ModeOption = Annotated[str | None, typer.Option(help="Only this mode: human, copilot, auto.")]
StudyOption = Annotated[str | None, typer.Option(help="Only exchanges of this study.")]
ConditionOption = Annotated[str | None, typer.Option(help="Only exchanges in this study condition.")]
OutcomeOption = Annotated[
    str | None, typer.Option(help=f"Only this outcome: {', '.join(queries.OUTCOMES)}.")
]


def log_path(data_dir: Path | None) -> Path:
    from human_chat_completions.config import data_dir as default_data_dir
    from human_chat_completions.server import LOG_FILE

    return (data_dir or default_data_dir()) / LOG_FILE


@contextmanager
def opened_log(data_dir: Path | None) -> Iterator[sqlite3.Connection]:
    """The log's database, migrated to the current schema; a clean error if there is none."""
    from human_chat_completions.store.log import ExchangeLog

    path = log_path(data_dir)
    if not path.is_file():
        raise typer.BadParameter(f"no exchange log at {path} (run `hcc serve` first, or pass "
                                 "--data-dir)", param_hint="--data-dir")
    try:
        log = ExchangeLog(path)
    except sqlite3.Error as error:
        raise typer.BadParameter(f"cannot read the exchange log {path}: {error}",
                                 param_hint="--data-dir") from error
    try:
        yield log.db
    finally:
        log.close()


def make_filters(since: str | None, until: str | None, conversation: str | None,
                 participant: str | None, author: str | None, mode: str | None,
                 outcome: str | None, include_unfinished: bool = True, study: str | None = None,
                 condition: str | None = None) -> queries.Filters:
    try:
        since_at = queries.parse_when(since) if since else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--since") from None
    try:
        until_at = queries.parse_when(until, end=True) if until else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--until") from None
    return queries.Filters(since=since_at, until=until_at, conversation=conversation,
                           participant=participant, author=author, mode=mode, outcome=outcome,
                           include_unfinished=include_unfinished, study=study, condition=condition)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _cell(value: Any, width: int) -> str:
    """`value` on one line, cut and padded to `width` terminal columns (CJK counts double)."""
    text = " ".join(str(value if value is not None else "-").split())
    if _width(text) > width:
        while _width(text) > width - 1:
            text = text[:-1]
        text += "…"
    return text + " " * (width - _width(text))


COLUMNS = (("received (UTC)", 19), ("id", 25), ("participant", 12), ("author", 9), ("mode", 7),
           ("outcome", 11), ("user input", 30), ("final", 30))


@logs_app.command("list")
def logs_list(
    data_dir: DataDirOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    conversation: ConversationOption = None,
    participant: ParticipantOption = None,
    author: AuthorOption = None,
    mode: ModeOption = None,
    outcome: OutcomeOption = None,
    study: StudyOption = None,
    condition: ConditionOption = None,
    limit: Annotated[int, typer.Option(help="Show only the last N (0: all).")] = 0,
) -> None:
    """List exchanges as a compact table, oldest first."""
    filters = make_filters(since, until, conversation, participant, author, mode, outcome,
                           study=study, condition=condition)
    with opened_log(data_dir) as db:
        found = queries.records(db, filters)
    if limit > 0:
        found = found[-limit:]
    typer.echo("  ".join(_cell(name, width) for name, width in COLUMNS).rstrip())
    for rec in found:
        received = (rec.timestamps.received_at or "").replace("T", " ")[:19]
        values = (received, rec.id, rec.participant, rec.author, rec.mode, rec.outcome,
                  rec.user_input, rec.final)
        typer.echo("  ".join(_cell(v, w) for v, (_, w) in zip(values, COLUMNS, strict=True)).rstrip())
    typer.echo(f"{len(found)} exchanges", err=True)


@logs_app.command("show")
def logs_show(
    exchange_id: Annotated[str, typer.Argument(help="Exchange id (a unique prefix is enough).")],
    data_dir: DataDirOption = None,
) -> None:
    """Print one exchange's complete record as JSON."""
    with opened_log(data_dir) as db:
        found = queries.get_record(db, exchange_id)
    if found is None:
        raise typer.BadParameter(f"no exchange (or several) matching {exchange_id!r}",
                                 param_hint="EXCHANGE_ID")
    typer.echo(json.dumps(found.model_dump(mode="json"), ensure_ascii=False, indent=2))


def export_rules(authors: list[str] | None, include_unfinished: bool,
                 include_side_requests: bool | None, kto_threshold: float,
                 outcome: str | None) -> exports.Rules:
    """What the export leaves out; `--author` may be repeated or comma-separated, `all` for every
    author. An outcome asked for by name is wanted even if it is an unfinished one."""
    names = [name.strip() for value in authors or [] for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - {*exports.AUTHORS, "all"})
    if unknown:
        raise typer.BadParameter(f"unknown author {', '.join(unknown)}; choose from "
                                 f"{', '.join(exports.AUTHORS)} or all", param_hint="--author")
    chosen = None if not names else () if "all" in names else tuple(names)
    return exports.Rules(include_unfinished=include_unfinished or outcome is not None,
                         include_side_requests=include_side_requests, authors=chosen,
                         kto_threshold=kto_threshold)


@logs_app.command("export")
def logs_export(
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="Export format.")],
    out: Annotated[Path | None, typer.Option(
        help="File to write (default: standard output). A sidecar <file>.meta.json says what "
             "was left out; on standard output that goes to standard error.")] = None,
    data_dir: DataDirOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    conversation: ConversationOption = None,
    participant: ParticipantOption = None,
    author: Annotated[list[str] | None, typer.Option(
        help="Only replies by these authors (repeat, or comma-separate): human, copilot, edited, "
             "auto, auto+takeover, timeout-policy, or all. Default: all in jsonl and csv; human, "
             "edited and copilot in the training formats.")] = None,
    mode: ModeOption = None,
    outcome: OutcomeOption = None,
    study: StudyOption = None,
    condition: ConditionOption = None,
    include_unfinished: Annotated[
        bool, typer.Option(help="Also export abandoned, failed and interrupted exchanges.")
    ] = False,
    include_side_requests: Annotated[bool | None, typer.Option(
        "--include-side-requests/--exclude-side-requests",
        help="Keep a chat app's own requests (titles, tags…). Default: kept in jsonl and csv, "
             "left out of the training formats.", show_default=False)] = None,
    kto_threshold: Annotated[
        float, typer.Option(min=0.0, help="trl-kto: edit ratio below which a draft counts as accepted.")
    ] = exports.KTO_THRESHOLD,
) -> None:
    """Export exchanges: jsonl, csv, openai-sft, openai-dpo, trl-preference, trl-kto, sharegpt."""
    filters = make_filters(since, until, conversation, participant, None, mode, outcome,
                           study=study, condition=condition)
    rules = export_rules(author, include_unfinished, include_side_requests, kto_threshold, outcome)
    selection = {"since": since, "until": until, "conversation": conversation,
                 "participant": participant, "mode": mode, "outcome": outcome, "study": study,
                 "condition": condition}
    with opened_log(data_dir) as db:
        found = queries.iter_records(db, filters)
        if out is None:
            report = exports.write(found, format.value, sys.stdout, rules)
            sys.stdout.flush()
            # Not a line in the data: a training loader would read it as an example.
            typer.echo(json.dumps(report.meta(selection), ensure_ascii=False), err=True)
        else:
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                with out.open("w", encoding="utf-8", newline="") as file:
                    report = exports.write(found, format.value, file, rules)
                exports.write_meta(out, report, selection)
            except OSError as error:
                raise typer.BadParameter(f"cannot write {out}: {error}", param_hint="--out") from error
    dropped = ", ".join(f"{count} {name}" for name, count in report.dropped.items() if count)
    typer.echo(f"wrote {report.written} {format.value} rows" + (f" to {out}" if out else "")
               + (f" (left out: {dropped})" if dropped else ""), err=True)


@logs_app.command("stats")
def logs_stats(
    data_dir: DataDirOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    conversation: ConversationOption = None,
    participant: ParticipantOption = None,
    author: AuthorOption = None,
    mode: ModeOption = None,
    outcome: OutcomeOption = None,
    study: StudyOption = None,
    condition: ConditionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the numbers as JSON.")] = False,
) -> None:
    """Counts by author, mode and outcome; median response time and edit distance; per study
    condition, the pace participants really saw against the condition's setting."""
    filters = make_filters(since, until, conversation, participant, author, mode, outcome,
                           study=study, condition=condition)
    with opened_log(data_dir) as db:
        numbers = queries.stats(queries.iter_records(db, filters))
        numbers["by_condition"] = paces_checked(queries.by_condition(queries.iter_records(db, filters)))
    if as_json:
        typer.echo(json.dumps(numbers, ensure_ascii=False, indent=2))
        return
    typer.echo(f"exchanges: {numbers['exchanges']}")
    for title, key in (("by author", "by_author"), ("by mode", "by_mode"),
                       ("by outcome", "by_outcome")):
        typer.echo(f"{title}:")
        for name, count in numbers[key].items():
            typer.echo(f"  {name:<16}{count}")
    seconds = numbers["median_response_seconds"]
    typer.echo("median response time: "
               + (f"{seconds:.2f} s (over {numbers['answered']} answered)" if seconds is not None
                  else "-"))
    distance = numbers["median_edit_distance"]
    typer.echo("median edit distance: "
               + (f"{distance:g} (over {numbers['with_edit_distance']} edited or sent drafts)"
                  if distance is not None else "-"))
    for name, group in numbers["by_condition"].items():
        typer.echo(f"condition {name}: {group['exchanges']} exchanges, "
                   f"{group['paced_replies']} paced replies")
        for label, key, unit in (("first token", "first_token_ms", "ms"),
                                 ("token rate", "tokens_per_second", "tokens/s")):
            measured, setting = group[f"median_{key}"], group["setting"].get(key)
            flag = "  OFF BY MORE THAN 10 %" if key in group["off_setting"] else ""
            typer.echo(f"  {label}: {_number(measured)} {unit} delivered (median), "
                       f"setting {_number(setting)}{flag}")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def paces_checked(groups: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each condition's delivered pace beside its setting in the study file; `off_setting` names
    the medians more than 10 % away from it."""
    from human_chat_completions.studies import StudyBook

    book = StudyBook()
    for name, group in groups.items():
        study_name, _, condition_name = name.partition("/")
        study = book.get(study_name)
        found = study.definition.conditions.get(condition_name) if study else None
        setting = {"first_token_ms": found.first_token_ms,
                   "tokens_per_second": found.tokens_per_second} if found else {}
        group["setting"] = setting
        group["off_setting"] = [
            key for key, wanted in setting.items()
            if wanted and group[f"median_{key}"] is not None
            and abs(group[f"median_{key}"] - wanted) > 0.1 * wanted]
    return groups
