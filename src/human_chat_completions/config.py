"""Where things live on disk, and the settings file in the platformdirs config dir."""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from human_chat_completions.copilot.schemas import Profile, SideRequestRule
from human_chat_completions.core.exchange import Mode

APP_NAME = "human-chat-completions"
log = logging.getLogger(__name__)

DeliveryStyle = Literal["live", "paced"]
SendKey = Literal["enter", "ctrl_enter"]
Language = Literal["auto", "en", "ja"]
Theme = Literal["light", "dark", "system"]
AwayAction = Literal["send_draft", "send_canned", "wait"]


def _every_mode(default: Any) -> AfterValidator:
    """A per-mode dict always has every mode (a settings file may name only some)."""
    return AfterValidator(lambda given: {**{mode: default for mode in Mode}, **given})


def config_dir() -> Path:
    """The settings and token folder; `HCC_CONFIG_DIR` overrides it (tests, portable installs)."""
    override = os.environ.get("HCC_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, False))


def data_dir() -> Path:
    """The exchange log folder; `HCC_DATA_DIR` overrides it."""
    override = os.environ.get("HCC_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, False))


def _never_away() -> dict[Mode, float | None]:
    return {mode: None for mode in Mode}


def _always_wait() -> dict[Mode, AwayAction]:
    return {mode: "wait" for mode in Mode}


class Settings(BaseModel):
    """What a user can change. Never holds an LLM key: those live in the OS keyring.

    A value: frozen, so what one part of the app reads, another cannot change under it. A change
    is a new value given to the run's `SettingsStore` (settings_store.py), which saves it and tells
    the switchboard, the tray and the windows.
    """

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    default_mode: Mode = Mode.HUMAN
    model_names: list[str] = Field(default_factory=lambda: ["human"])
    client_api_keys: list[str] = Field(
        default_factory=list,
        description="When non-empty, clients must send one of these as `Authorization: Bearer`.",
    )
    participant_keys: dict[str, str] = Field(
        default_factory=dict,
        description="API key -> participant label: one key per participant's app identifies the "
        "conversation (after the header, metadata and `user`); these keys are also accepted "
        "when client keys are on.",
    )
    allow_anonymous_clients: bool = Field(
        default=False,
        description="With participant keys and no client keys, also answer requests without a "
        "participant's key (otherwise they get 401).",
    )
    allowed_client_origins: list[str] = Field(
        default_factory=list,
        description="Web pages (origins such as https://chat.example.org) whose browser requests the "
        "chat API answers; '*' for any. Other pages get 403. Server-side apps send no origin.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (beside 127.0.0.1, localhost, [::1] and the server's own address) "
        "that the operator window answers as, e.g. a lab machine's DNS name.",
    )
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # Connections: bounds on what clients can hold open. 4,096 is twice the 2,000 waiting clients
    # the load benchmark holds; the open-files limit (ulimit -n) must allow as many.
    max_connections: int = Field(
        default=4096, ge=64, le=65536,
        description="Connections (and requests in progress) at once; beyond it new ones get 503.")
    idle_connection_seconds: int = Field(
        default=5, ge=1, le=600,
        description="A keep-alive connection with no new request for this long is closed.")
    max_header_bytes: int = Field(
        default=32 * 1024, ge=8 * 1024, le=1024 * 1024,
        description="Request line and headers larger than this get 400 and a closed connection.")
    keepalive_seconds: float = Field(default=15.0, gt=0)
    nonstream_headers_after: float = Field(
        default=3.0, ge=0, description="Seconds a non-stream request waits before headers go out."
    )
    # Operator window
    # Paced on Send by default: live typing shows the participant typos and half-converted kana.
    # A settings file that says "live" keeps it.
    delivery_style: DeliveryStyle = "paced"
    send_key: SendKey = Field(
        default="enter",
        description="enter: Enter sends, Shift+Enter adds a line; ctrl_enter: Ctrl+Enter (Cmd+Enter) "
        "sends, Enter adds a line.")
    live_idle_seconds: float = Field(default=0.8, gt=0, le=10)
    first_token_delay: float = Field(default=0.35, ge=0, le=10)
    tokens_per_second: float = Field(default=60.0, gt=0, le=1000)
    language: Language = "auto"
    theme: Theme = "light"
    # The longest-waiting conversation's row turns amber, then red, after this many seconds.
    wait_warn_seconds: float = Field(default=30.0, gt=0, le=3600)
    wait_alert_seconds: float = Field(default=60.0, gt=0, le=3600)
    canned_replies: list[str] = Field(
        default_factory=lambda: [
            "Let me think about that for a moment.",
            "Could you tell me a bit more?",
            "少々お待ちください。",
        ]
    )
    # Desktop (tray) app
    notifications: bool = True
    # The window comes to the operator: a request opens it when none is open.
    open_window_on_request: bool = True
    start_at_login: bool = False
    # Copilot. Keys live in the OS keyring (hcc keys set), never in this file.
    profiles: list[Profile] = Field(default_factory=list)
    default_profile: str | None = None
    draft_candidates: int = Field(default=1, ge=1, le=5)
    side_request_rules: list[SideRequestRule] = Field(
        default_factory=list,
        description="Custom side-request rules; one named like a built-in replaces it.",
    )
    builtin_side_request_rules: bool = True
    # When the operator has not answered after this long (None: never), per mode, do `away_action`.
    away_timeout_seconds: Annotated[
        dict[Mode, Annotated[float, Field(gt=0)] | None], _every_mode(None)
    ] = Field(default_factory=_never_away)
    away_action: Annotated[dict[Mode, AwayAction], _every_mode("wait")] = Field(
        default_factory=_always_wait)


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings() -> Settings:
    """The saved settings, or the defaults. A file that cannot be read or holds no valid settings
    is moved aside first (with a warning naming where), so that a later Save cannot destroy it."""
    path = settings_path()
    try:
        return Settings.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValidationError, ValueError) as error:
        # A broken settings file must not keep a study from starting: keep it, say so, go on.
        kept = _move_aside(path)
        if kept is None:
            log.warning("settings file %s is unusable (%s); using defaults", path, _problem(error))
        else:
            log.warning("settings file %s is unusable (%s); moved it to %s and using defaults. "
                        "Fix that file and move it back to use it.", path, _problem(error), kept)
        return Settings()


def _problem(error: Exception) -> str:
    """One line on what is wrong, without the file's content (it may hold client keys)."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(map(str, first['loc'])) or 'file'}: {first['msg']}"
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(error)


def _move_aside(path: Path) -> Path | None:
    """Rename `path` to `<name>.broken-<YYYYmmdd-HHMMSS>` (numbered if that exists); None if it
    cannot be moved."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, number = path.with_name(f"{path.name}.broken-{stamp}"), 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.broken-{stamp}-{number}")
    try:
        path.rename(target)
    except OSError as error:
        log.warning("could not move the unusable settings file %s aside: %s", path, error)
        return None
    return target


def save_settings(settings: Settings) -> None:
    write_private(settings_path(), json.dumps(settings.model_dump(mode="json"), indent=2))


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable by its owner only (0600), atomically.

    The text goes to a temporary file created with that mode in the same folder (so no other
    user can read it even for a moment, whatever the umask), reaches the disk, then takes the
    file's place: a crash leaves the old file or the new one, never half of one.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(text.encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def operator_token(explicit: str | None = None) -> tuple[str, Path]:
    """The operator API token: given, from `HCC_OPERATOR_TOKEN`, or generated once and kept."""
    path = config_dir() / "operator-token"
    token = explicit or os.environ.get("HCC_OPERATOR_TOKEN")
    if token:
        return token, path
    if path.exists():
        stored = path.read_text(encoding="utf-8").strip()
        if stored:
            _owner_only(path)
            return stored, path
    token = secrets.token_urlsafe(32)
    write_private(path, token)
    return token, path


def _owner_only(path: Path) -> None:
    """A token file from an older version (or copied in by hand) may be readable by others."""
    try:
        if os.name != "nt" and stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
            log.warning("%s was readable by other users; it is now readable by its owner only", path)
    except OSError as error:
        log.warning("could not make %s readable by its owner only: %s", path, error)
