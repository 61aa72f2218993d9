"""Ollama's chat request in the chat shape the core knows: messages, images, tool calls found
again by their arguments (Ollama's clients echo them without ids), options and `format`."""

from __future__ import annotations

import json
from itertools import islice
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from human_chat_completions.api.errors import APIError, validation_error
from human_chat_completions.api.json_body import load_json_object
from human_chat_completions.core import Switchboard
from human_chat_completions.core.conversation import history_key

_OPEN = ConfigDict(extra="allow")
# How many recent exchanges to search for the tool calls a follow-up echoes (it carries no ids).
_CALL_SEARCH = 2000


class OllamaMessage(BaseModel):
    model_config = _OPEN
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = ""
    images: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None


class OllamaChatRequest(BaseModel):
    """What we honour of an Ollama chat request; everything else is accepted and kept in the log."""

    model_config = _OPEN
    model: str = ""
    messages: list[OllamaMessage] = Field(default_factory=list)
    stream: bool | None = None  # absent or null: Ollama streams
    format: str | dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    keep_alive: str | float | None = None
    think: bool | str | None = None

    @property
    def streams(self) -> bool:
        return self.stream is not False


# -- request: Ollama → chat ----------------------------------------------------------------------


def parse_request(body: bytes) -> tuple[dict[str, Any], OllamaChatRequest]:
    payload = load_json_object(body)
    try:
        parsed = OllamaChatRequest.model_validate(payload)
    except ValidationError as exc:
        raise validation_error(exc) from None
    if not parsed.model:
        raise APIError(400, "model is required", param="model")
    return payload, parsed


_IMAGE_MAGIC = (("iVBORw0KGgo", "image/png"), ("/9j/", "image/jpeg"), ("R0lGOD", "image/gif"),
                ("UklGR", "image/webp"), ("Qk", "image/bmp"))


def image_url(image: str) -> str:
    """A base64 image as the data: URL a chat image part carries (type read from its first bytes)."""
    if image.startswith("data:"):
        return image
    mime = next((kind for magic, kind in _IMAGE_MAGIC if image.startswith(magic)), "image/png")
    return f"data:{mime};base64,{image}"


def _arguments_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def _same_arguments(text: str) -> str:
    """Arguments as a comparison sees them: key order and spacing do not count."""
    try:
        return json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)
    except ValueError:
        return text


def earlier_call_ids(
    switchboard: Switchboard, history: list[dict[str, Any]], calls: list[tuple[str, str]]
) -> list[str] | None:
    """The ids of the tool calls an assistant turn echoes: Ollama's clients send the calls back
    without the ids we gave them, and conversation matching compares ids. The exchange that made
    these calls (name and arguments) after this very history is preferred; else the latest."""
    wanted = [(name, _same_arguments(arguments)) for name, arguments in calls]
    fallback = None
    for exchange in islice(reversed(switchboard.exchanges.values()), _CALL_SEARCH):
        if exchange.reply.finish_reason != "tool_calls":
            continue
        made = exchange.reply.tool_calls
        if not made or [(c["function"]["name"], _same_arguments(c["function"]["arguments"]))
                        for c in made] != wanted:
            continue
        ids = [str(call["id"]) for call in made]
        if history_key(exchange.messages) == history_key(history):
            return ids
        fallback = fallback or ids
    return fallback


def chat_messages(switchboard: Switchboard, messages: list[OllamaMessage]) -> list[dict[str, Any]]:
    """Ollama's messages in chat spelling: images as data: URL parts, tool-call arguments as JSON
    text with their ids found again, tool results matched to their call by name or position."""
    out: list[dict[str, Any]] = []
    pending: list[tuple[str, str]] = []  # (id, name) of the last turn's calls not yet answered
    for message in messages:
        text = message.content or ""
        if message.role == "tool":
            call_id = message.tool_call_id or _answered_call(pending, message.tool_name)
            out.append({"role": "tool", "tool_call_id": call_id, "content": text})
            continue
        said: dict[str, Any] = {"role": message.role, "content": text}
        if message.images:
            said["content"] = [*([{"type": "text", "text": text}] if text else []),
                               *({"type": "image_url", "image_url": {"url": image_url(image)}}
                                 for image in message.images)]
        if message.role == "assistant" and message.tool_calls:
            said["tool_calls"] = _chat_tool_calls(switchboard, out, message.tool_calls)
            pending = [(call["id"], call["function"]["name"]) for call in said["tool_calls"]]
        out.append(said)
    return out


def _chat_tool_calls(
    switchboard: Switchboard, history: list[dict[str, Any]], calls: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    functions = [call.get("function") or {} for call in calls]
    named = [(str(f.get("name") or ""), _arguments_text(f.get("arguments") or {})) for f in functions]
    given = [call.get("id") for call in calls]
    found = None if all(given) else earlier_call_ids(switchboard, history, named)
    ids = [given[i] or (found[i] if found else f"call_{i}") for i in range(len(calls))]
    return [{"id": ids[i], "type": "function", "function": {"name": name, "arguments": arguments}}
            for i, (name, arguments) in enumerate(named)]


def _answered_call(pending: list[tuple[str, str]], tool_name: str | None) -> str | None:
    """The call a tool result answers: the first unanswered one of that name, else the next."""
    for index, (call_id, name) in enumerate(pending):
        if tool_name is None or name == tool_name:
            del pending[index]
            return call_id
    return pending.pop(0)[0] if pending else None


def chat_payload(
    switchboard: Switchboard, payload: dict[str, Any], parsed: OllamaChatRequest
) -> dict[str, Any]:
    chat_request: dict[str, Any] = {
        "model": parsed.model, "messages": chat_messages(switchboard, parsed.messages),
        "stream": parsed.streams, "ollama_request": payload,
    }
    options = parsed.options or {}
    # Options the chat request can hold; others (num_ctx, top_k, ...) stay in the logged original.
    if _number(options.get("temperature"), 0, 2):
        chat_request["temperature"] = options["temperature"]
    if _number(options.get("top_p"), 0, 1):
        chat_request["top_p"] = options["top_p"]
    if isinstance(options.get("seed"), int):
        chat_request["seed"] = options["seed"]
    if isinstance(options.get("stop"), (str, list)) and options["stop"]:
        chat_request["stop"] = options["stop"]
    if isinstance(options.get("num_predict"), int) and options["num_predict"] > 0:
        chat_request["max_tokens"] = options["num_predict"]
    if parsed.tools:
        chat_request["tools"] = parsed.tools
    if parsed.format == "json":
        chat_request["response_format"] = {"type": "json_object"}
    elif isinstance(parsed.format, dict):
        chat_request["response_format"] = {
            "type": "json_schema", "json_schema": {"name": "format", "schema": parsed.format}}
    return chat_request


def _number(value: Any, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high
