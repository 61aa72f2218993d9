"""POST /v1/responses: OpenAI's Responses API (text in, text out) on the same switchboard.

A Responses request is translated into the chat shape the core knows (`model`, `messages`, the
original body kept under `responses_request`), so the operator, the log and conversation matching
see an ordinary exchange. Only the wire differs: the response object and its named SSE events.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from human_chat_completions.api import answering, failures, requests, responses, wire
from human_chat_completions.api.errors import APIError, validation_error
from human_chat_completions.api.json_body import load_json_object
from human_chat_completions.core import Exchange, Switchboard

router = APIRouter()
RESPONSES_PATHS = ("/v1/responses", "/responses")
_OPEN = ConfigDict(extra="allow")


class InputMessage(BaseModel):
    model_config = _OPEN
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[dict[str, Any]]


class ResponsesRequest(BaseModel):
    """What we honour of a Responses request; everything else is accepted and kept in the log."""

    model_config = _OPEN
    model: str | None = None
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    stream: bool | None = False
    previous_response_id: str | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_output_tokens: int | None = Field(default=None, ge=1)


# -- request: Responses → chat ------------------------------------------------------------------


def parse_request(body: bytes) -> tuple[dict[str, Any], ResponsesRequest]:
    payload = load_json_object(body)
    if "input" not in payload:
        raise APIError(400, "Missing required parameter: 'input'.", param="input",
                       code="missing_required_parameter")
    try:
        return payload, ResponsesRequest.model_validate(payload)
    except ValidationError as exc:
        raise validation_error(exc) from None


def chat_content(content: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Input parts in chat spelling; all-text content becomes one string."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": str(part.get("text") or "")})
        elif kind == "refusal":
            parts.append({"type": "text", "text": str(part.get("refusal") or "")})
        elif kind == "input_image" and part.get("image_url"):
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"]}})
        else:
            parts.append(part)
    if all(part.get("type") == "text" for part in parts):
        return "".join(part["text"] for part in parts)
    return parts


def chat_messages(items: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`input` as chat messages: messages keep their role; tool traffic becomes tool messages."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        kind = item.get("type", "message")
        if kind == "message":
            try:
                message = InputMessage.model_validate(item)
            except ValidationError as exc:
                error = validation_error(exc)
                error.param = f"input[{index}].{error.param}" if error.param else f"input[{index}]"
                error.message = f"Invalid value for '{error.param}'."
                raise error from None
            messages.append({"role": message.role, "content": chat_content(message.content)})
        elif kind == "function_call":
            messages.append({"role": "assistant", "content": None, "tool_calls": [{
                "id": item.get("call_id"), "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments", "")},
            }]})
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"),
                             "content": output if isinstance(output, str) else json.dumps(output)})
        # Other items (reasoning, item references, built-in tool calls) carry no text for the
        # operator; they stay in the logged request.
    if not messages:
        raise APIError(400, "'input' holds no message.", param="input", code="invalid_value")
    return messages


def previous_history(switchboard: Switchboard, response_id: str | None) -> list[dict[str, Any]]:
    """The turns a `previous_response_id` stands for: that exchange's messages and its reply.

    Response ids are derived from exchange ids, so any exchange of this run can be continued. Its
    instructions are not carried over (as OpenAI does), and with the same instructions the result
    equals the earlier history plus reply, which is what history matching needs to find the thread.
    """
    if not response_id or not response_id.startswith("resp_"):
        return []
    try:
        previous = switchboard.get("ex_" + response_id.removeprefix("resp_"))
    except KeyError:
        return []
    messages = previous.messages
    if previous.request.get("responses_request", {}).get("instructions") and messages:
        messages = messages[1:]
    said: dict[str, Any] = {"role": "assistant", "content": previous.reply.text}
    if previous.reply.tool_calls:
        said["tool_calls"] = previous.reply.tool_calls
    return [*messages, said]


def chat_payload(
    switchboard: Switchboard, payload: dict[str, Any], parsed: ResponsesRequest
) -> dict[str, Any]:
    messages = previous_history(switchboard, parsed.previous_response_id)
    messages += chat_messages(parsed.input)
    if parsed.instructions:
        messages.insert(0, {"role": "system", "content": parsed.instructions})
    chat: dict[str, Any] = {"model": parsed.model, "messages": messages,
                            "stream": bool(parsed.stream), "responses_request": payload}
    for name in ("metadata", "user", "temperature", "top_p"):
        if payload.get(name) is not None:
            chat[name] = payload[name]
    if parsed.max_output_tokens is not None:
        chat["max_completion_tokens"] = parsed.max_output_tokens
    chat.update(chat_tools(payload))
    wanted = (payload.get("text") or {}).get("format") if isinstance(payload.get("text"), dict) else None
    if isinstance(wanted, dict) and wanted.get("type") == "json_schema":
        spec = {key: wanted[key] for key in ("name", "schema", "strict", "description") if key in wanted}
        chat["response_format"] = {"type": "json_schema", "json_schema": spec}
    elif isinstance(wanted, dict) and wanted.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    return chat


def chat_tools(payload: dict[str, Any]) -> dict[str, Any]:
    """Function tools and tool_choice in chat spelling (Responses puts name and parameters at the
    top of a tool); built-in tools (web search, files) are for OpenAI to run, not the operator."""
    tools = [{"type": "function", "function": {key: tool[key] for key in
                                               ("name", "description", "parameters", "strict")
                                               if key in tool}}
             for tool in payload.get("tools") or []
             if isinstance(tool, dict) and tool.get("type") == "function" and tool.get("name")]
    if not tools:
        return {}
    choice = payload.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        choice = {"type": "function", "function": {"name": choice.get("name")}}
    return {"tools": tools, **({"tool_choice": choice} if choice is not None else {})}


# -- response: exchange → Responses shape ----------------------------------------------------------


def response_id(exchange: Exchange) -> str:
    return "resp_" + exchange.id.removeprefix("ex_")


def message_id(exchange: Exchange) -> str:
    return "msg_" + exchange.id.removeprefix("ex_")


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def output_message(exchange: Exchange, text: str, status: str) -> dict[str, Any]:
    content = [output_text(text)] if status == "completed" or text else []
    return {"type": "message", "id": message_id(exchange), "status": status,
            "role": "assistant", "content": content}


def function_call_item(call: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    """An operator's tool call as a Responses `function_call` output item."""
    return {"type": "function_call", "id": "fc_" + call["id"].removeprefix("call_"),
            "call_id": call["id"], "name": call["function"]["name"],
            "arguments": call["function"]["arguments"] if status == "completed" else "",
            "status": status}


def usage(exchange: Exchange) -> dict[str, Any]:
    counted = wire.usage(exchange.messages, exchange.reply.text)
    return {
        "input_tokens": counted["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": counted["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": counted["total_tokens"],
    }


def response_object(exchange: Exchange, model: str, status: str) -> dict[str, Any]:
    """The response as OpenAI's `Response` type spells it; `status` is in_progress, completed or
    failed."""
    asked: dict[str, Any] = exchange.request.get("responses_request", {})
    reply = exchange.reply
    output = [] if status == "in_progress" else [output_message(
        exchange, reply.text, "completed" if status == "completed" else "incomplete")]
    if status == "completed":
        output += [function_call_item(call) for call in reply.tool_calls]
    error = None
    if status == "failed" and reply.error is not None:
        error = {"code": "server_error", "message": reply.error.message}
    return {
        "id": response_id(exchange),
        "object": "response",
        "created_at": int(exchange.received_at),
        "status": status,
        "background": False,
        "completed_at": int(exchange.done_at or time.time()) if status == "completed" else None,
        "error": error,
        "incomplete_details": None,
        "instructions": asked.get("instructions"),
        "max_output_tokens": asked.get("max_output_tokens"),
        "metadata": asked.get("metadata") or {},
        "model": model,
        "output": output,
        "parallel_tool_calls": bool(asked.get("parallel_tool_calls", True)),
        "previous_response_id": asked.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": bool(asked.get("store", True)),
        "temperature": asked.get("temperature", 1.0),
        "text": asked.get("text") or {"format": {"type": "text"}},
        "tool_choice": asked.get("tool_choice", "auto"),
        "tools": asked.get("tools") or [],
        "top_p": asked.get("top_p", 1.0),
        "truncation": asked.get("truncation", "disabled"),
        "usage": usage(exchange) if status != "in_progress" else None,
        "user": asked.get("user"),
    }


def final_status(exchange: Exchange) -> str:
    return "failed" if exchange.reply.error is not None else "completed"


class _Events:
    """Numbers and spells the named events of one streamed response."""

    def __init__(self) -> None:
        self.sequence = 0

    def __call__(self, kind: str, **fields: Any) -> str:
        data = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def sse_body(
    switchboard: Switchboard, exchange: Exchange, model: str, keepalive: float
) -> AsyncIterator[str]:
    """created, in_progress, the message item and its text part at once; a delta per piece;
    then the done events and completed (or failed)."""
    event, item = _Events(), {"item_id": message_id(exchange), "output_index": 0}
    yield event("response.created", response=response_object(exchange, model, "in_progress"))
    yield event("response.in_progress", response=response_object(exchange, model, "in_progress"))
    yield event("response.output_item.added", output_index=0,
                item=output_message(exchange, "", "in_progress"))
    yield event("response.content_part.added", **item, content_index=0, part=output_text(""))
    async for piece in exchange.reply.pieces(keepalive):
        if piece is None:
            yield ": keep-alive\n\n"
            continue
        if isinstance(piece, dict):
            continue  # tool calls are announced whole once the reply is done (below)
        responses.note_first_words(switchboard, exchange)
        yield event("response.output_text.delta", **item, content_index=0, delta=piece, logprobs=[])
    if exchange.reply.error is not None:
        failures.raise_if_dropped(exchange.reply.error)
        yield responses.LastChunk(event("response.failed", response=response_object(exchange, model, "failed")))
        return
    text = exchange.reply.text
    closing = [event("response.output_text.done", **item, content_index=0, text=text, logprobs=[]),
               event("response.content_part.done", **item, content_index=0, part=output_text(text)),
               event("response.output_item.done", output_index=0,
                     item=output_message(exchange, text, "completed"))]
    for index, call in enumerate(exchange.reply.tool_calls, start=1):
        closing += function_call_events(event, index, call)
    closing.append(event("response.completed", response=response_object(exchange, model, "completed")))
    yield responses.LastChunk("".join(closing))  # one write for the end


def function_call_events(event: _Events, index: int, call: dict[str, Any]) -> list[str]:
    item_id = "fc_" + call["id"].removeprefix("call_")
    arguments = call["function"]["arguments"]
    return [
        event("response.output_item.added", output_index=index,
              item=function_call_item(call, "in_progress")),
        event("response.function_call_arguments.delta", item_id=item_id, output_index=index,
              delta=arguments),
        event("response.function_call_arguments.done", item_id=item_id, output_index=index,
              name=call["function"]["name"], arguments=arguments),
        event("response.output_item.done", output_index=index, item=function_call_item(call)),
    ]


# -- the endpoint --------------------------------------------------------------------------------


async def create_response(request: Request) -> Response:
    switchboard: Switchboard = request.app.state.switchboard
    settings = requests.current_settings(request)
    requests.check_client_key(request, settings)
    payload, parsed = parse_request(await requests.read_body(request, settings.max_body_bytes))
    chat = chat_payload(switchboard, payload, parsed)
    try:
        as_chat = wire.ChatCompletionRequest.model_validate(chat)
    except ValidationError as exc:
        raise validation_error(exc) from None
    exchange = requests.open_exchange(request, switchboard, chat, as_chat, settings, as_sent=payload)
    model = parsed.model or settings.model_names[0]

    def events() -> AsyncIterator[str]:
        return sse_body(switchboard, exchange, model, settings.keepalive_seconds)

    return await answering.answer(
        request, exchange, settings, events=events if parsed.stream else None,
        final=lambda: response_object(exchange, model, final_status(exchange)),
        error_body=responses.stream_error, fails_in_body=True)


for _path in RESPONSES_PATHS:
    router.add_api_route(_path, create_response, methods=["POST"],
                         include_in_schema=_path == RESPONSES_PATHS[0])
