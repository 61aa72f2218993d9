"""OpenAI Chat Completions wire types: the request model and the response shapes we send."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

from human_chat_completions.core.exchange import message_text

# Clients send more than we use; unknown fields are kept (the log stores the request as sent).
_OPEN = ConfigDict(extra="allow")


# Messages are checked as typed dicts, not models: nothing reads them back as objects, and a
# long history validated less than half as fast as model instances.
class ContentPart(TypedDict):
    __pydantic_config__ = _OPEN  # type: ignore[misc]
    type: str


class ChatMessage(TypedDict):
    __pydantic_config__ = _OPEN  # type: ignore[misc]
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: NotRequired[str | list[ContentPart] | None]
    name: NotRequired[str | None]
    tool_calls: NotRequired[list[dict[str, Any]] | None]
    tool_call_id: NotRequired[str | None]


class StreamOptions(BaseModel):
    model_config = _OPEN
    include_usage: bool | None = None


class ChatCompletionRequest(BaseModel):
    """Everything the current schema allows is accepted; what an operator cannot honour (tools,
    logprobs, n > 1, response formats) is ignored but kept in the log."""

    model_config = _OPEN
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    stop: str | list[str] | None = None
    seed: int | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: about four Latin characters a token, one a token for CJK."""
    if not text:
        return 0
    wide = sum(1 for char in text if ord(char) > 0x2E7F)
    return wide + (len(text) - wide + 3) // 4


def usage(messages: list[dict[str, Any]], reply: str) -> dict[str, int]:
    prompt = sum(estimate_tokens(message_text(message)) + 4 for message in messages)
    completion = estimate_tokens(reply)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion(
    completion_id: str, created: int, model: str, reply: str, finish_reason: str, usage: dict
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage,
        "system_fingerprint": None,
    }


def chunk(
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        "system_fingerprint": None,
    }


def content_chunk_frame(completion_id: str, created: int, model: str) -> tuple[str, str]:
    """The text of a content chunk before and after the JSON string of its text: a reply's many
    chunks differ only there, so each is two concatenations instead of a dict and its dump. The
    result is exactly `json.dumps(chunk(..., {"content": text}), ensure_ascii=False)`."""
    whole = json.dumps(chunk(completion_id, created, model, {"content": ""}), ensure_ascii=False)
    # Inside a JSON string every quote is escaped, so this can only be the delta itself.
    head, found, tail = whole.partition('"delta": {"content": ""}')
    assert found, whole
    return head + '"delta": {"content": ', "}" + tail


def usage_chunk(completion_id: str, created: int, model: str, usage: dict) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage,
        "system_fingerprint": None,
    }


def model_card(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "human-chat-completions"}
