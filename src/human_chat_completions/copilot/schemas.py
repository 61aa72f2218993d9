"""The copilot's settings schemas: what an upstream profile and a side-request rule hold.

Settings (`config.py`) embed them, so this module imports nothing but pydantic: loading the settings
must not pull in the copilot's service, its upstream client or `openai`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Profile(BaseModel):
    """One upstream LLM the copilot can use.

    name: how the operator and the keyring know it (letters, digits, `.`, `_`, `-`).
    base_url: the upstream's OpenAI-compatible base, e.g. `https://api.openai.com/v1` or
        `http://127.0.0.1:11434/v1` (Ollama).
    model: the upstream model name.
    temperature, max_tokens: sent when set; they override what the client asked for.
    instruction: the copilot instruction, sent as a system message before the conversation (the client's own
        system prompt is kept after it).
    key_env: optional name of an environment variable that supplies the key (checked before the keyring).
    timeout_seconds: the longest the upstream may stay silent (connecting, before the first token, between chunks).
    stream_usage: ask for a usage chunk (`stream_options.include_usage`); turn off for upstreams that reject it.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    base_url: str
    model: str = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    instruction: str = ""
    key_env: str | None = None
    timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    stream_usage: bool = True

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "a profile name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _valid_base_url(cls, value: str) -> str:
        value = value.strip()
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("base_url must be an http:// or https:// address, e.g. https://api.openai.com/v1")
        return value.rstrip("/")

    @field_validator("key_env")
    @classmethod
    def _valid_env_name(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not _ENV_NAME.match(value):
            raise ValueError("key_env must be an environment variable name, e.g. OPENAI_API_KEY")
        return value


SideAction = Literal["canned", "copilot", "operator"]
Where = Literal["last_user", "system", "any"]


class SideRequestRule(BaseModel):
    """One kind of side request.

    name: identifies the rule (a custom rule with a built-in's name replaces it).
    pattern: a regular expression, matched case-insensitively anywhere in the text (`re.search`).
    where: `last_user` (the last user message), `system` (the system/developer messages) or `any`.
    action: `canned` (answer `reply` at once), `copilot` (let the copilot answer it unattended; fall back to
        `reply` when it cannot), `operator` (show it to the operator like any request).
    reply: the canned answer, in the format the app parses.
    enabled: False switches a built-in rule off (give a custom rule with its name and `enabled: false`).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1)
    pattern: str = Field(min_length=1)
    where: Where = "last_user"
    action: SideAction = "canned"
    reply: str = ""
    enabled: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from error
        return value

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.pattern)


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)
