"""Anthropic Messages API wire: the request model, its translation into the chat shape the core
knows, and the message, usage and error shapes Anthropic sends back.

A Messages request becomes an ordinary chat exchange (`model`, `messages`, `tools`, ..., the body
as sent kept under `anthropic_request`): the system prompt a system message, `tool_use` blocks the
assistant's `tool_calls`, `tool_result` blocks `tool` messages. Tool-call ids pass through
unchanged, so a follow-up that echoes our `tool_use` blocks matches the history the core
remembered and threads into the same conversation.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from human_chat_completions.api import wire
from human_chat_completions.api.errors import APIError
from human_chat_completions.core import Exchange

_OPEN = ConfigDict(extra="allow")

# HTTP status → Anthropic's error type (https://docs.anthropic.com/en/api/errors).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# Chat finish reason → Anthropic stop reason.
STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens",
                "content_filter": "refusal"}


class AnthropicMessage(BaseModel):
    model_config = _OPEN
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class CountTokensRequest(BaseModel):
    """What `/v1/messages/count_tokens` reads; everything else is accepted."""

    model_config = _OPEN
    model: str | None = None
    messages: list[AnthropicMessage]
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None


class MessagesRequest(CountTokensRequest):
    """What we honour of a Messages request; everything else is accepted and kept in the log."""

    max_tokens: int = Field(ge=1)
    stream: bool | None = False
    metadata: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    stop_sequences: list[str] | None = None
    tool_choice: dict[str, Any] | None = None


# -- errors -----------------------------------------------------------------------------------


def error_type(status: int) -> str:
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(status), "message": message}}


def validation_error(exc: ValidationError) -> APIError:
    """The first problem pydantic found, spelled as Anthropic does: `messages.0.role: ...`."""
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first.get("loc", ()))
    message = first.get("msg", "Invalid request")
    return APIError(400, f"{location}: {message}" if location else message)


def parse(model: type[CountTokensRequest], payload: dict[str, Any]) -> Any:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise validation_error(exc) from None


# -- request: Messages → chat -------------------------------------------------------------------


def system_text(system: str | list[dict[str, Any]] | None) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    return "\n".join(str(block.get("text") or "") for block in system if block.get("type") == "text")


def image_part(block: dict[str, Any]) -> dict[str, Any]:
    """An image block as a chat `image_url` part: base64 data as a data: URL, or its URL."""
    source = block.get("source")
    if not isinstance(source, dict):
        return block
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url":
        url = str(source.get("url") or "")
    else:
        return block  # a file id or a kind we do not know: kept as sent
    return {"type": "image_url", "image_url": {"url": url}}


def chat_content(blocks: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Content blocks in chat spelling; all-text content becomes one string."""
    if isinstance(blocks, str):
        return blocks
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text") or "")})
        elif kind == "image":
            parts.append(image_part(block))
        elif kind not in ("thinking", "redacted_thinking"):  # a model's own reasoning is not a turn
            parts.append(block)
    if all(part.get("type") == "text" for part in parts):
        return "".join(part["text"] for part in parts)
    return parts


def assistant_message(content: str | list[dict[str, Any]]) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    calls = [{"id": block.get("id"), "type": "function",
              "function": {"name": block.get("name"),
                           "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False)}}
             for block in content if block.get("type") == "tool_use"]
    said = chat_content([block for block in content if block.get("type") != "tool_use"])
    if not calls:
        return {"role": "assistant", "content": said}
    return {"role": "assistant", "content": said or None, "tool_calls": calls}


def tool_message(block: dict[str, Any]) -> dict[str, Any]:
    content = block.get("content")
    message: dict[str, Any] = {"role": "tool", "tool_call_id": block.get("tool_use_id"),
                               "content": chat_content([part for part in content if isinstance(part, dict)])
                               if isinstance(content, list) else str(content or "")}
    if block.get("is_error"):
        message["is_error"] = True
    return message


def user_messages(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A user turn: its tool results as `tool` messages first, then anything else it says."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    results = [tool_message(block) for block in content if block.get("type") == "tool_result"]
    rest = [block for block in content if block.get("type") != "tool_result"]
    if rest or not results:
        results.append({"role": "user", "content": chat_content(rest)})
    return results


def chat_messages(parsed: CountTokensRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = system_text(parsed.system)
    if system:
        messages.append({"role": "system", "content": system})
    for message in parsed.messages:
        if message.role == "assistant":
            messages.append(assistant_message(message.content))
        else:
            messages.extend(user_messages(message.content))
    return messages


def chat_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Client tools as chat function tools; Anthropic's server tools (web search, code execution)
    have no schema for the operator to fill and stay in the logged request only."""
    return [{"type": "function", "function": {
                "name": tool["name"], "description": tool.get("description") or "",
                "parameters": tool.get("input_schema") or {"type": "object"}}}
            for tool in tools or []
            if isinstance(tool.get("name"), str) and tool.get("type", "custom") == "custom"]


def chat_tool_choice(choice: dict[str, Any] | None) -> str | dict[str, Any] | None:
    kind = (choice or {}).get("type")
    if kind == "tool" and choice is not None:
        return {"type": "function", "function": {"name": choice.get("name")}}
    return {"auto": "auto", "any": "required", "none": "none"}.get(str(kind))


def output_schema(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of a structured output (`output_config.format`, or the beta's
    `output_format`), which the operator's answer is then checked against."""
    config = payload.get("output_config")
    wanted = config.get("format") if isinstance(config, dict) else payload.get("output_format")
    if isinstance(wanted, dict) and wanted.get("type") == "json_schema":
        schema = wanted.get("schema")
        return schema if isinstance(schema, dict) else {}
    return None


def chat_payload(payload: dict[str, Any], parsed: MessagesRequest) -> dict[str, Any]:
    chat: dict[str, Any] = {"model": parsed.model, "messages": chat_messages(parsed),
                            "stream": bool(parsed.stream), "max_tokens": parsed.max_tokens,
                            "anthropic_request": payload}
    for name in ("temperature", "top_p"):
        if payload.get(name) is not None:
            chat[name] = payload[name]
    if parsed.stop_sequences:
        chat["stop"] = parsed.stop_sequences
    user = (parsed.metadata or {}).get("user_id")
    if isinstance(user, str) and user:
        chat["user"] = user
    schema = output_schema(payload)
    if schema is not None:
        chat["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "output", "schema": schema, "strict": True}}
    tools = chat_tools(parsed.tools)
    if tools:
        chat["tools"] = tools
        choice = chat_tool_choice(parsed.tool_choice)
        if choice is not None:
            chat["tool_choice"] = choice
    return chat


# -- response: exchange → Messages shape ----------------------------------------------------------


def message_id(exchange: Exchange) -> str:
    return "msg_" + exchange.id.removeprefix("ex_")


def input_tokens(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    counted = wire.usage(messages, "")["prompt_tokens"]
    return counted + wire.estimate_tokens(json.dumps(tools, ensure_ascii=False)) if tools else counted


def output_tokens(exchange: Exchange) -> int:
    calls = exchange.reply.tool_calls
    said = exchange.reply.text + "".join(
        call["function"]["name"] + call["function"]["arguments"] for call in calls)
    return wire.estimate_tokens(said)


def usage(exchange: Exchange, output: int) -> dict[str, Any]:
    asked = exchange.request.get("anthropic_request") or {}
    tools = asked.get("tools") if isinstance(asked.get("tools"), list) else None
    return {"input_tokens": input_tokens(exchange.messages, tools), "output_tokens": output,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "service_tier": "standard"}


def stop_reason(exchange: Exchange) -> str:
    return STOP_REASONS.get(exchange.reply.finish_reason or "stop", "end_turn")


def tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def tool_use_block(call: dict[str, Any]) -> dict[str, Any]:
    function = call["function"]
    return {"type": "tool_use", "id": call["id"], "name": function["name"],
            "input": tool_input(function["arguments"])}


def message_object(exchange: Exchange, model: str, *, started: bool = False) -> dict[str, Any]:
    """The Message as Anthropic spells it; `started`: as `message_start` carries it, empty."""
    reply = exchange.reply
    content: list[dict[str, Any]] = []
    if not started:
        calls = reply.tool_calls
        if reply.text or not calls:
            content.append({"type": "text", "text": reply.text})
        content += [tool_use_block(call) for call in calls]
    return {
        "id": message_id(exchange),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None if started else stop_reason(exchange),
        "stop_sequence": None,
        "usage": usage(exchange, 0 if started else output_tokens(exchange)),
    }


def counted_tokens(parsed: CountTokensRequest) -> int:
    return input_tokens(chat_messages(parsed), parsed.tools)

