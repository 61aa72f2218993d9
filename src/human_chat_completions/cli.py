"""The `hcc` command."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from human_chat_completions.cli_copilot import keys_app, profiles_app
from human_chat_completions.cli_logs import logs_app
from human_chat_completions.cli_operators import operators_app
from human_chat_completions.cli_study import study_app
from human_chat_completions.config import load_settings
from human_chat_completions.settings_store import SettingsStore

app = typer.Typer(
    help="Human Chat Completions: an OpenAI-compatible API answered by a human operator.",
    no_args_is_help=False,
    add_completion=False,
)
app.add_typer(logs_app, name="logs")
app.add_typer(profiles_app, name="profiles")
app.add_typer(keys_app, name="keys")
app.add_typer(operators_app, name="operators")
app.add_typer(study_app, name="study")

HostOption = Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")]
DataDirOption = Annotated[
    Path | None, typer.Option(help="Folder for the exchange log (or HCC_DATA_DIR).")
]
# argv is visible to every user of the machine (ps, /proc): the variable is the safer way in.
TokenOption = Annotated[
    str | None,
    typer.Option(help="Operator API token. Prefer setting HCC_OPERATOR_TOKEN instead: other users "
                 "of this computer can see command-line options (e.g. with ps). Default: "
                 "generated once and kept, owner-only, in the config folder."),
]


@app.callback(invoke_without_command=True)
def main_callback(ctx: typer.Context) -> None:
    """Plain `hcc` runs the app: the tray app on a desktop, else the server with its window."""
    if ctx.invoked_subcommand is None:
        from human_chat_completions.desktop import desktop_available, run_desktop

        if desktop_available():
            raise typer.Exit(run_desktop())
        serve(host=None, port=None, data_dir=None, operator_token=None, open_window=True)


@app.command()
def serve(
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    operator_token: TokenOption = None,
    open_window: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the operator window once running.")
    ] = False,
) -> None:
    """Run the server (no tray); the operator window is at /ui."""
    from human_chat_completions.server import ExchangeLogUnavailable, build_runtime, make_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if data_dir is not None:
        os.environ["HCC_DATA_DIR"] = str(data_dir)
    settings = SettingsStore(load_settings())  # this run's: the server and its windows follow it
    try:
        runtime = build_runtime(settings, data_dir, operator_token)
    except ExchangeLogUnavailable as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(1) from None
    server = make_server(runtime, host, port)
    base = f"http://{server.config.host}:{server.config.port}"
    typer.echo(f"OpenAI-compatible API: {base}/v1   (set this as base_url)")
    typer.echo(f"Operator API:          {base}/operator/api   (Authorization: Bearer <token>)")
    typer.echo(f"Operator window:       {base}/ui/")
    typer.echo(f"Operator token file:   {runtime.token_path}")
    typer.echo(f"Exchange log:          {runtime.exchange_log.path}")
    if open_window:
        from human_chat_completions.ui.launch import open_when_ready

        open_when_ready(lambda: server.started, f"{base}/ui/")
    try:
        server.run()
    finally:
        runtime.close()
    if not server.started:
        raise typer.Exit(1)


def main() -> None:
    app()
