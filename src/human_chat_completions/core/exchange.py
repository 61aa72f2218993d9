"""An exchange is one chat-completion request and the reply it gets."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from human_chat_completions.core.stream import ReplyStream

if TYPE_CHECKING:
    from human_chat_completions.core.request_cache import RequestCache

PREVIEW_CHARS = 200


class ExchangeState(StrEnum):
    WAITING = "waiting"
    REPLYING = "replying"
    DONE = "done"
    ABANDONED = "abandoned"
    FAILED = "failed"
    TIMED_OUT = "timed_out"

    @property
    def open(self) -> bool:
        return self in (ExchangeState.WAITING, ExchangeState.REPLYING)


class Mode(StrEnum):
    HUMAN = "human"
    COPILOT = "copilot"
    AUTO = "auto"


class Author(StrEnum):
    HUMAN = "human"
    COPILOT = "copilot"
    EDITED = "edited"
    AUTO = "auto"
    AUTO_TAKEOVER = "auto+takeover"
    TIMEOUT_POLICY = "timeout-policy"


def new_exchange_id() -> str:
    return "ex_" + uuid.uuid4().hex[:20]


@dataclass(eq=False)
class Draft:
    """One LLM draft of a reply (copilot mode), as it streamed in."""

    exchange_id: str
    profile: str
    model: str
    instruction: str | None = None
    id: str = field(default_factory=lambda: "dr_" + uuid.uuid4().hex[:16])
    text: str = ""
    started_at: float = field(default_factory=time.time)
    first_token_at: float | None = None
    done_at: float | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.done_at is not None


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Who sent a request, as far as the log may keep it (the API key is already masked)."""

    address: str = ""
    user_agent: str = ""
    api_key_masked: str = ""


@dataclass(eq=False)
class Exchange:
    """One request: what the client asked, what it was answered, and when each step happened.

    `held_request` is the body while it is in memory; once the exchange is finished, `requests`
    may drop it (the log has it) and `request` reads it back when asked for.
    """

    held_request: dict[str, Any] | None
    conversation_id: str
    mode: Mode
    stream: bool
    client: ClientInfo = field(default_factory=ClientInfo)
    fingerprint: str = ""
    regenerate_of: str | None = None
    id: str = field(default_factory=new_exchange_id)
    state: ExchangeState = ExchangeState.WAITING
    author: Author | None = None
    error: str | None = None
    reply: ReplyStream = field(default_factory=ReplyStream)
    readers: int = 0
    drafts: list[Draft] = field(default_factory=list)
    chosen_draft_id: str | None = None
    edit_distance: int | None = None  # chosen draft → final reply, set when the reply is done
    delivery_style: str | None = None
    operator_session: str | None = None
    note: str | None = None
    tag: str | None = None
    side_request: str | None = None
    study: str | None = None  # the study and condition of the participant who asked
    condition: str | None = None
    operator: str | None = None  # the named operator who wrote the reply
    claimed_by: str | None = None  # the named operator answering it: others may not
    guard_phrase: str | None = None  # a guard phrase the reply held
    guard_action: str | None = None  # "held" (stopped for the operator) or "forced" (sent anyway)
    injected_error: str | None = None  # an error the operator sent on purpose: "429", …, "drop"
    notice: str | None = None  # for the operator, in English (the API and the log)
    notice_code: str | None = None  # the same, for the window to say in its language
    received_at: float = field(default_factory=time.time)
    shown_at: float | None = None
    first_keystroke_at: float | None = None
    sent_at: float | None = None  # the operator's Send: paced delivery starts here
    first_byte_at: float | None = None
    done_at: float | None = None
    requests: RequestCache | None = field(default=None, repr=False)
    preview: str = field(init=False, default="")  # the start of `user_input`, kept in memory

    def __post_init__(self) -> None:
        self.preview = self.user_input[:PREVIEW_CHARS]

    @property
    def request(self) -> dict[str, Any]:
        if self.requests is not None:
            return self.requests.request_of(self)
        assert self.held_request is not None, "an exchange without a cache never drops its body"
        return self.held_request

    @property
    def chosen_draft(self) -> Draft | None:
        return next((d for d in self.drafts if d.id == self.chosen_draft_id), None)

    @property
    def first_draft_token_at(self) -> float | None:
        times = [d.first_token_at for d in self.drafts if d.first_token_at is not None]
        return min(times) if times else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.request.get("messages") or [])

    @property
    def model(self) -> str:
        return str(self.request.get("model") or "")

    @property
    def user_input(self) -> str:
        """The text of the last user message: what the participant just said."""
        return last_user_text(self.messages)


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return ""


def message_text(message: dict[str, Any]) -> str:
    """The plain text of a message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text") or part.get("refusal") or "")
            for part in content
            if isinstance(part, dict)
        )
    return ""
