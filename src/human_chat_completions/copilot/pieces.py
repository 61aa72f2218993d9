"""What an upstream stream yields, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ErrorKind = Literal["auth", "unreachable", "rate_limited", "timeout", "bad_response", "other"]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Text of one upstream chunk."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """The raw `choices[0].delta.tool_calls` of one upstream chunk, as dicts (index, id, type, function)."""

    tool_calls: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Finish:
    """Always the last piece: why the upstream stopped (None if it never said) and token usage when sent."""

    finish_reason: str | None
    usage: dict[str, Any] | None = None
    model: str | None = None


Piece = TextDelta | ToolCallDelta | Finish


class UpstreamError(Exception):
    """The upstream could not give a reply. `kind` is for code, `message` for the operator.

    kind: auth (key refused or missing), unreachable (cannot connect, or connection lost), rate_limited (429),
        timeout, bad_response (not an OpenAI-compatible answer), other (the upstream said something else).
    """

    def __init__(self, kind: ErrorKind, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"UpstreamError({self.kind!r}, {self.message!r})"
