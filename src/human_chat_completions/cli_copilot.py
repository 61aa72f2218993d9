"""`hcc profiles …` and `hcc keys …`: copilot profiles in the settings file, their keys in the OS keyring."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from human_chat_completions.config import Settings, settings_path
from human_chat_completions.copilot import keyring_store
from human_chat_completions.copilot.profiles import Profile, default_profile, find_profile
from human_chat_completions.settings_store import SettingsStore

profiles_app = typer.Typer(help="Copilot profiles: which LLM drafts replies.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys for the copilot profiles, kept in the OS keyring.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Profile name.", show_default=False)]


def _fail(message: str) -> NoReturn:
    """A user error: one clean line on stderr, exit status 1."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def _load() -> Settings:
    """The settings to change. Unlike `load_settings`, a broken file is an error here: saving defaults over it
    would wipe the user's profiles."""
    path = settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    try:
        return Settings.model_validate_json(text)
    except (ValidationError, ValueError) as error:
        _fail(f"The settings file {path} cannot be read ({_first_error(error)}). Fix or remove it first.")


def _first_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "file"
        return f"{where}: {first.get('msg', '')}"
    return str(error).splitlines()[0]


def _save(settings: Settings, **changes: object) -> None:
    """Validate and write `settings` with `changes` (the file is replaced atomically, owner-only)."""
    SettingsStore(settings).update(**changes)


def _profile_or_fail(settings: Settings, name: str) -> Profile:
    profile = find_profile(settings.profiles, name)
    if profile is None:
        known = ", ".join(p.name for p in settings.profiles) or "none yet; add one with `hcc profiles add`"
        _fail(f"No profile named “{name}” (profiles: {known}).")
    return profile


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


# -- profiles -------------------------------------------------------------------------------------------------


@profiles_app.command("list")
def profiles_list() -> None:
    """List the profiles (* marks the default) and whether each has a key."""
    settings = _load()
    if not settings.profiles:
        typer.echo("No profiles yet. Add one, e.g.:")
        typer.echo("  hcc profiles add openai --base-url https://api.openai.com/v1 --model gpt-4o-mini")
        return
    chosen = default_profile(settings.profiles, settings.default_profile)
    keyring_problem: str | None = None
    rows = []
    for profile in settings.profiles:
        try:
            source = keyring_store.key_source(profile)
            key = {"env": f"key: env {profile.key_env}", "keyring": "key: keyring", None: "key: none"}[source]
        except keyring_store.KeyringUnavailable as error:
            keyring_problem = str(error)
            key = "key: unknown (keyring unavailable)"
        rows.append(("*" if profile is chosen else " ", profile.name, profile.model, profile.base_url, key))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for mark, *cells in rows:
        line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths[1:], strict=True))
        typer.echo(f"{mark} {line}".rstrip())
    if keyring_problem:
        typer.echo(f"Note: {keyring_problem}", err=True)


@profiles_app.command("add")
def profiles_add(
    name: NameArg,
    base_url: Annotated[str, typer.Option(help="OpenAI-compatible base URL, e.g. https://api.openai.com/v1.")],
    model: Annotated[str, typer.Option(help="Upstream model name.")],
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (0-2).")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Longest draft, in tokens.")] = None,
    instruction: Annotated[str, typer.Option(help="Copilot instruction, sent as a system message first.")] = "",
    key_env: Annotated[
        str | None, typer.Option(help="Environment variable that can supply the key (checked before the keyring).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds the upstream may stay silent.")] = 60.0,
    usage: Annotated[
        bool, typer.Option("--usage/--no-usage", help="Ask for token usage (turn off if the upstream rejects it).")
    ] = True,
    make_default: Annotated[bool, typer.Option("--default", help="Make it the default profile.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a profile of the same name.")] = False,
) -> None:
    """Add a profile (its key is set separately: hcc keys set NAME)."""
    settings = _load()
    try:
        profile = Profile(
            name=name, base_url=base_url, model=model, temperature=temperature, max_tokens=max_tokens,
            instruction=instruction, key_env=key_env, timeout_seconds=timeout, stream_usage=usage,
        )
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in error.errors()
        )
        raise typer.BadParameter(problems) from None
    existing = find_profile(settings.profiles, name)
    if existing is not None and not replace:
        _fail(f"A profile named “{name}” exists already; use --replace to overwrite it.")
    profiles = [p for p in settings.profiles if p.name != name]
    index = settings.profiles.index(existing) if existing is not None else len(profiles)
    profiles.insert(index, profile)
    _save(settings, profiles=profiles, default_profile=name if make_default else settings.default_profile)
    typer.echo(f"{'Replaced' if existing else 'Added'} profile “{name}” ({model} at {profile.base_url}).")
    if profile.key_env is None:
        typer.echo(f"Set its key with: hcc keys set {name}   (not needed for a local server such as Ollama)")


@profiles_app.command("remove")
def profiles_remove(
    name: NameArg,
    keep_key: Annotated[bool, typer.Option("--keep-key", help="Leave its key in the OS keyring.")] = False,
) -> None:
    """Remove a profile, and its key from the OS keyring."""
    settings = _load()
    profile = _profile_or_fail(settings, name)
    _save(settings, profiles=[p for p in settings.profiles if p.name != name],
          default_profile=None if settings.default_profile == name else settings.default_profile)
    typer.echo(f"Removed profile “{name}”.")
    if not keep_key:
        try:
            if keyring_store.delete_key(profile):
                typer.echo("Deleted its key from the OS keyring.")
        except keyring_store.KeyringUnavailable as error:
            typer.echo(f"Could not delete its key from the OS keyring: {error}", err=True)


@profiles_app.command("default")
def profiles_default(
    name: Annotated[str | None, typer.Argument(help="Profile to make the default; none: show it.")] = None,
) -> None:
    """Show or set the default profile."""
    settings = _load()
    if name is None:
        chosen = default_profile(settings.profiles, settings.default_profile)
        typer.echo(chosen.name if chosen else "No profiles yet.")
        return
    _profile_or_fail(settings, name)
    _save(settings, default_profile=name)
    typer.echo(f"Default profile: {name}")


# -- keys -----------------------------------------------------------------------------------------------------


@keys_app.command("set")
def keys_set(profile_name: Annotated[str, typer.Argument(metavar="PROFILE", help="Profile name.")]) -> None:
    """Store a profile's key in the OS keyring (asked without echo, or read from stdin)."""
    settings = _load()
    profile = _profile_or_fail(settings, profile_name)
    if _stdin_is_tty():
        key = typer.prompt(f"Key for profile {profile.name}", hide_input=True, default="", show_default=False)
    else:
        key = sys.stdin.read()
    try:
        keyring_store.set_key(profile, key)
    except ValueError as error:
        _fail(f"Nothing stored: {error}.")
    except keyring_store.KeyringUnavailable as error:
        _fail(str(error))
    typer.echo(f"Stored the key for profile “{profile.name}” in the OS keyring.")
    if keyring_store.key_source(profile) == "env":
        typer.echo(f"Note: ${profile.key_env} is set and is used instead while it is.", err=True)


@keys_app.command("delete")
def keys_delete(profile_name: Annotated[str, typer.Argument(metavar="PROFILE", help="Profile name.")]) -> None:
    """Delete a profile's key from the OS keyring."""
    try:
        deleted = keyring_store.delete_key(profile_name)
    except keyring_store.KeyringUnavailable as error:
        _fail(str(error))
    if not deleted:
        _fail(f"No key stored for “{profile_name}”.")
    typer.echo(f"Deleted the key for “{profile_name}”.")


@keys_app.command("list")
def keys_list() -> None:
    """List the profiles that have a key (names and where it comes from; never the keys)."""
    settings = _load()
    try:
        sources = [(p, keyring_store.key_source(p)) for p in settings.profiles]
    except keyring_store.KeyringUnavailable as error:
        _fail(str(error))
    with_key = [(p, s) for p, s in sources if s is not None]
    if not with_key:
        typer.echo("No keys stored.")
        return
    for profile, source in with_key:
        typer.echo(f"{profile.name}  ({'env ' + str(profile.key_env) if source == 'env' else 'keyring'})")
