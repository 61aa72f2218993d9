"""`hcc operators …`: named operators, each with their own operator-API token."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from human_chat_completions import operators

operators_app = typer.Typer(help="Named operators: each answers with their own token.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Operator name: letters, digits, - or _.", show_default=False)]


def _fail(message: str) -> NoReturn:
    """A user error: one clean line on stderr, exit status 1."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


@operators_app.command("add")
def operators_add(name: NameArg) -> None:
    """Add an operator and print their token (shown this once; only its hash is kept)."""
    try:
        token = operators.add(name)
    except operators.OperatorError as error:
        _fail(str(error))
    # The token is the last word, so a script can take it with `| awk '{print $NF}'`.
    typer.echo(f"Added operator {name}. Give them this token; it is shown only now: {token}")


@operators_app.command("list")
def operators_list() -> None:
    """List the named operators."""
    try:
        known = operators.names()
    except operators.OperatorError as error:
        _fail(str(error))
    if not known:
        typer.echo("No named operators yet. Add one with: hcc operators add NAME")
    for name in known:
        typer.echo(name)


@operators_app.command("remove")
def operators_remove(name: NameArg) -> None:
    """Remove an operator; their token stops working at once."""
    try:
        operators.remove(name)
    except operators.OperatorError as error:
        _fail(str(error))
    typer.echo(f"Removed operator {name}; their token no longer works.")
