"""`hcc study`: load a study file, show it, list its participants' keys, report by condition."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from human_chat_completions.studies import Study, StudyBook, StudyFileError, read_study_file

study_app = typer.Typer(help="Studies: conditions, participants and their keys, reports.",
                        no_args_is_help=True, add_completion=False)


def _study(name: str) -> Study:
    study = StudyBook().get(name)
    if study is None:
        known = ", ".join(StudyBook().names()) or "none loaded yet"
        raise typer.BadParameter(f"no study named {name!r} (studies: {known})", param_hint="NAME")
    return study


def base_url(explicit: str | None) -> str:
    """Where participants' apps point: given, or this machine's server as the settings say."""
    if explicit:
        return explicit.rstrip("/")
    from human_chat_completions.config import load_settings

    settings = load_settings()
    # Bound to every address, the server is for other devices (phones scanning a QR code): give
    # them this machine's address on the network, which 127.0.0.1 is not.
    host = lan_address() if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}/v1"


def lan_address() -> str:
    """This machine's address on its network (no packet is sent: a UDP socket only picks the
    interface a route would use); 127.0.0.1 when there is no network."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def participant_rows(study: Study, url: str) -> list[dict[str, str]]:
    return [{"participant": p.participant, "key": p.key, "condition": p.condition, "base_url": url}
            for p in study.participants]


def print_table(study: Study) -> None:
    counts: dict[str, int] = {name: 0 for name in study.definition.conditions}
    for participant in study.participants:
        counts[participant.condition] += 1
    typer.echo(f"study {study.name}: {len(study.participants)} participants, "
               f"{study.definition.assignment} assignment, seed {study.definition.seed}")
    for name, condition in study.definition.conditions.items():
        pace = (f"first token {condition.first_token_ms} ms, " if condition.first_token_ms is not None
                else "") + (f"{condition.tokens_per_second:g} tokens/s" if condition.tokens_per_second
                            else "settings' pace")
        typer.echo(f"  {name}: {counts[name]} participants, {condition.mode} mode, {pace}")
    typer.echo("participant  condition")
    for participant in study.participants:
        typer.echo(f"  {participant.participant:<11}{participant.condition}")


@study_app.command("load")
def study_load(file: Annotated[Path, typer.Argument(help="The study file (TOML).")]) -> None:
    """Load a study: create its participants with keys and assign their conditions. Loading the
    same study again keeps every existing participant's key and condition."""
    try:
        definition = read_study_file(file)
    except StudyFileError as error:
        typer.echo(f"{file}: this study file cannot be used:\n{error}", err=True)
        raise typer.Exit(2) from None
    print_table(StudyBook().load(definition))
    typer.echo(f"keys: hcc study participants {definition.name}")


@study_app.command("show")
def study_show(name: str) -> None:
    """The study's conditions and who is in which."""
    print_table(_study(name))


@study_app.command("list")
def study_list() -> None:
    """The studies loaded."""
    for name in StudyBook().names():
        typer.echo(name)


@study_app.command("participants")
def study_participants(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of objects.")] = False,
    qr: Annotated[Path | None, typer.Option(
        help="Write a QR code per participant (base URL and key) into this folder.")] = None,
    url: Annotated[str | None, typer.Option(
        "--base-url", help="The base URL participants' apps use (default: this server).")] = None,
) -> None:
    """Participant, key, condition and base URL of everyone in the study."""
    rows = participant_rows(_study(name), base_url(url))
    if qr is not None:
        write_qr_codes(rows, qr)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['participant']:<11}{row['condition']:<20}{row['key']}  {row['base_url']}")


def write_qr_codes(rows: list[dict[str, str]], folder: Path) -> None:
    """One PNG per participant holding `{"base_url", "api_key"}`, for phone-based studies."""
    import qrcode  # type: ignore[import-untyped]  # no stubs published

    folder.mkdir(parents=True, exist_ok=True)
    for row in rows:
        payload = json.dumps({"base_url": row["base_url"], "api_key": row["key"]})
        qrcode.make(payload).save(folder / f"{row['participant']}.png")
    typer.echo(f"wrote {len(rows)} QR codes to {folder}", err=True)


@study_app.command("report")
def study_report(
    name: str,
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding the exchange log.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the numbers as JSON.")] = False,
) -> None:
    """Per condition: participants, exchanges, median response time, edit distance, guard holds."""
    from human_chat_completions.cli_logs import opened_log
    from human_chat_completions.store import queries

    study = _study(name)
    with opened_log(data_dir) as db:
        groups = queries.by_condition(queries.iter_records(db, queries.Filters(study=name)))
    report = {condition: groups.get(f"{name}/{condition}", _empty())
              for condition in study.definition.conditions}
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{'condition':<20}{'participants':>13}{'exchanges':>10}{'median s':>10}"
               f"{'edit dist':>10}{'guard holds':>12}")
    for condition, numbers in report.items():
        typer.echo(f"{condition:<20}{numbers['participants']:>13}{numbers['exchanges']:>10}"
                   f"{_cell(numbers['median_response_seconds']):>10}"
                   f"{_cell(numbers['median_edit_distance']):>10}{numbers['guard_holds']:>12}")


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def _empty() -> dict[str, Any]:
    return {"participants": 0, "exchanges": 0, "median_response_seconds": None,
            "median_edit_distance": None, "guard_holds": 0, "paced_replies": 0,
            "median_first_token_ms": None, "median_tokens_per_second": None}
