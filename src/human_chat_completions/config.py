"""Where things live on disk, and the settings file in the platformdirs config dir."""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from human_chat_completions.copilot.profiles import Profile
from human_chat_completions.copilot.side_requests import SideRequestRule
from human_chat_completions.core.exchange import Mode

APP_NAME = "human-chat-completions"
log = logging.getLogger(__name__)

DeliveryStyle = Literal["live", "paced"]
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


class Settings(BaseModel):
    """What a user can change. Never holds an LLM key: those live in the OS keyring."""

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
    keepalive_seconds: float = Field(default=15.0, gt=0)
    nonstream_headers_after: float = Field(
        default=3.0, ge=0, description="Seconds a non-stream request waits before headers go out."
    )
    # Operator window
    delivery_style: DeliveryStyle = "live"
    live_idle_seconds: float = Field(default=0.8, gt=0, le=10)
    first_token_delay: float = Field(default=0.35, ge=0, le=10)
    tokens_per_second: float = Field(default=60.0, gt=0, le=1000)
    language: Language = "auto"
    theme: Theme = "light"
    canned_replies: list[str] = Field(
        default_factory=lambda: [
            "Let me think about that for a moment.",
            "Could you tell me a bit more?",
            "少々お待ちください。",
        ]
    )
    # Desktop (tray) app
    notifications: bool = True
    open_window_on_request: bool = False
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
    ] = Field(default_factory=lambda: {mode: None for mode in Mode})
    away_action: Annotated[dict[Mode, AwayAction], _every_mode("wait")] = Field(
        default_factory=lambda: {mode: "wait" for mode in Mode}
    )


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings() -> Settings:
    path = settings_path()
    try:
        return Settings.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (ValidationError, ValueError):
        # A broken settings file must not keep a study from starting; say so and use defaults.
        log.warning("settings file %s is unreadable; using defaults", path)
        return Settings()


def save_settings(settings: Settings) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings.model_dump(mode="json"), indent=2), encoding="utf-8")


def operator_token(explicit: str | None = None) -> tuple[str, Path]:
    """The operator API token: given, from `HCC_OPERATOR_TOKEN`, or generated once and kept."""
    path = config_dir() / "operator-token"
    token = explicit or os.environ.get("HCC_OPERATOR_TOKEN")
    if token:
        return token, path
    if path.exists():
        stored = path.read_text(encoding="utf-8").strip()
        if stored:
            return stored, path
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.write_text(token, encoding="utf-8")
    path.chmod(0o600)
    return token, path
