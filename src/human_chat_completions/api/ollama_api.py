"""POST /api/chat, GET /api/tags: Ollama's chat API on the same switchboard.

An Ollama chat request is translated into the chat shape the core knows (the original kept under
`ollama_request`), so the operator, the log and conversation matching see an ordinary exchange.
Only the wire differs: NDJSON lines (Ollama streams unless `stream: false`), tool-call arguments
as objects, and errors spelled `{"error": "..."}`.

Like a real Ollama that is still loading its model, a request gets nothing, not even headers,
until the reply starts (up to HEADERS_WITHIN): an error that comes first reaches the client with
its HTTP status. Ollama's clients read every line as JSON, so a stream has no keep-alive line to
send; uvicorn does not time out a request whose response has not started.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from human_chat_completions.api import answering, chat, failures, requests, responses, wire
from human_chat_completions.api.errors import APIError, validation_error
from human_chat_completions.api.json_body import load_json_object
from human_chat_completions.api.ollama_wire import chat_payload, parse_request
from human_chat_completions.config import Settings
from human_chat_completions.core import Exchange, Switchboard
from human_chat_completions.core.stream import StreamError

router = APIRouter()
NDJSON = "application/x-ndjson"
# Clients gate features on the server's version; this is one whose chat API we speak.
OLLAMA_VERSION = "0.12.0"
# Headers wait this long for the reply to start (stream) or end (non-stream). Until they go out,
# a failure the operator injects reaches the client with its HTTP status (Ollama's clients meet
# an error line or body in a 200 as a broken response); then the response starts, a non-stream
# one sending whitespace while it waits. Under undici's 300 s headers timeout (ollama-js runs on
# Node's fetch).
HEADERS_WITHIN = 240.0

Piece = str | dict[str, Any]


# -- response: exchange → Ollama's objects -------------------------------------------------------


def created_at() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False) + "\n"


def ollama_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls as Ollama sends them: arguments as an object, not JSON text."""
    out = []
    for index, call in enumerate(calls):
        try:
            arguments = json.loads(call["function"]["arguments"] or "{}")
        except ValueError:
            arguments = {}
        out.append({"id": call["id"], "function": {
            "index": index, "name": call["function"]["name"],
            "arguments": arguments if isinstance(arguments, dict) else {}}})
    return out


def message_chunk(model: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "created_at": created_at(),
            "message": {"role": "assistant", "content": content, **extra}, "done": False}


def _nanoseconds(seconds: float) -> int:
    return int(seconds * 1e9)


def final_object(exchange: Exchange, model: str, content: str = "", **extra: Any) -> dict[str, Any]:
    """The `done` object with Ollama's counts and timings: tokens estimated, durations measured
    (prompt evaluation is the wait for the operator, evaluation the reply's delivery)."""
    reply = exchange.reply
    counted = wire.usage(exchange.messages, reply.text)
    end = exchange.done_at or time.time()
    total = max(2, _nanoseconds(end - exchange.received_at))
    evaluating = min(total - 1, max(1, _nanoseconds(end - (exchange.first_byte_at or end))))
    return {
        "model": model,
        "created_at": created_at(),
        "message": {"role": "assistant", "content": content, **extra},
        "done": True,
        "done_reason": "length" if reply.finish_reason == "length" else "stop",
        "total_duration": total,
        "load_duration": 0,
        "prompt_eval_count": counted["prompt_tokens"],
        "prompt_eval_duration": total - evaluating,
        "eval_count": counted["completion_tokens"],
        "eval_duration": evaluating,
    }


def complete_object(exchange: Exchange, model: str) -> dict[str, Any]:
    """The non-stream answer: the whole reply in one object."""
    calls = exchange.reply.tool_calls
    extra = {"tool_calls": ollama_tool_calls(calls)} if calls else {}
    return final_object(exchange, model, exchange.reply.text, **extra)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status, headers=headers)


def failure_response(error: StreamError) -> Response:
    """A reply that failed before anything was sent: its status, or a cut connection."""
    if error.drops_connection:
        return responses.ExchangeResponse(responses.dropped_body(), lambda: None, media_type=NDJSON)
    return error_response(failures.status_of(error), error.message, failures.headers_of(error))


async def ndjson_body(
    switchboard: Switchboard, exchange: Exchange, model: str, first: asyncio.Future[Any],
    rest: AsyncIterator[Piece | None],
) -> AsyncIterator[str]:
    """A line per text piece; tool calls in one line once complete; then the `done` line (or an
    `{"error"}` line, as Ollama reports a failure mid-stream). `first` is the reply's first
    piece, perhaps still awaited."""
    piece = await first
    while piece is not _ENDED:
        if isinstance(piece, str) and piece:
            responses.note_first_words(switchboard, exchange)
            yield line(message_chunk(model, piece))
        piece = await anext(rest, _ENDED)
    reply = exchange.reply
    if reply.error is not None:
        failures.raise_if_dropped(reply.error)
        yield responses.LastChunk(line({"error": reply.error.message}))
        return
    calls = ""
    if reply.tool_calls:
        responses.note_first_words(switchboard, exchange)
        calls = line(message_chunk(model, "", tool_calls=ollama_tool_calls(reply.tool_calls)))
    yield responses.LastChunk(calls + line(final_object(exchange, model)))  # one write for the end


_ENDED: Any = object()  # the reply stream ended


async def first_piece(
    request: Request, pieces: AsyncIterator[Piece | None], seconds: float
) -> asyncio.Future[Any] | None:
    """Wait up to `seconds` for the reply's first piece (or _ENDED, if it closes with none) while
    watching the client. Returns that piece's future, done or still pending; None if the client
    left (the wait for the piece is then cancelled)."""
    first = asyncio.ensure_future(anext(pieces, _ENDED))
    gone = asyncio.ensure_future(_disconnected(request))
    await asyncio.wait({first, gone}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    left = gone.done() and not first.done()
    for task in (gone, first) if left else (gone,):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return None if left else first


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


# -- the endpoints -------------------------------------------------------------------------------


@router.post("/api/chat")
async def ollama_chat(request: Request) -> Response:
    try:
        return await _chat(request)
    except APIError as error:  # Ollama's error shape here, not OpenAI's
        return error_response(error.status, error.message)


async def _chat(request: Request) -> Response:
    switchboard: Switchboard = request.app.state.switchboard
    settings = requests.current_settings(request)
    requests.check_client_key(request, settings)
    payload, parsed = parse_request(await requests.read_body(request, settings.max_body_bytes))
    if not parsed.messages:
        # Ollama answers a chat without messages by loading the model, and says so.
        return JSONResponse({"model": parsed.model, "created_at": created_at(),
                             "message": {"role": "assistant", "content": ""},
                             "done": True, "done_reason": "load"})
    chat_request = chat_payload(switchboard, payload, parsed)
    try:
        as_chat = wire.ChatCompletionRequest.model_validate(chat_request)
    except ValidationError as exc:
        raise validation_error(exc) from None
    exchange = requests.open_exchange(request, switchboard, chat_request, as_chat, settings,
                                      as_sent=payload)
    switchboard.attach(exchange)

    def release() -> None:
        switchboard.detach(exchange)

    if parsed.streams:
        return await _stream(request, switchboard, exchange, parsed.model, release)
    return await _non_stream(request, switchboard, exchange, parsed.model, release, settings)


async def _stream(
    request: Request, switchboard: Switchboard, exchange: Exchange, model: str,
    release: Callable[[], None],
) -> Response:
    pieces = exchange.reply.pieces()
    first = await first_piece(request, pieces, HEADERS_WITHIN)
    if first is None:
        release()
        return Response(status_code=499)  # the client left; nobody reads this
    error = exchange.reply.error
    if first.done() and first.result() is _ENDED and error is not None:
        release()
        return failure_response(error)
    body = ndjson_body(switchboard, exchange, model, first, pieces)
    return responses.ExchangeResponse(body, release, media_type=NDJSON)


async def _non_stream(
    request: Request, switchboard: Switchboard, exchange: Exchange, model: str,
    release: Callable[[], None], settings: Settings,
) -> Response:
    if not await responses.closed_or_gone(request, exchange, HEADERS_WITHIN):
        # A failure by then cuts the connection (late_body): Ollama's clients meet an error
        # body in a 200 as a broken response.
        body = answering.late_body(switchboard, exchange, lambda: complete_object(exchange, model),
                                   settings.keepalive_seconds)
        return responses.ExchangeResponse(body, release, media_type="application/json")
    release()
    reply = exchange.reply
    if not reply.closed:
        return Response(status_code=499)  # the client left; nobody reads this
    if reply.error is not None:
        return failure_response(reply.error)
    responses.note_first_words(switchboard, exchange)
    return JSONResponse(complete_object(exchange, model))


def _model_details() -> dict[str, Any]:
    return {"parent_model": "", "format": "human", "family": "human", "families": ["human"],
            "parameter_size": "", "quantization_level": ""}


def _modified_at() -> str:
    return datetime.fromtimestamp(chat.STARTED, UTC).isoformat().replace("+00:00", "Z")


@router.get("/api/tags")
async def ollama_tags(request: Request) -> dict[str, Any]:
    settings = requests.current_settings(request)
    return {"models": [{
        "name": name, "model": name, "modified_at": _modified_at(), "size": 0,
        "digest": hashlib.sha256(name.encode()).hexdigest(), "details": _model_details(),
    } for name in settings.model_names]}


@router.get("/api/version")
async def ollama_version() -> dict[str, str]:
    return {"version": OLLAMA_VERSION}


@router.post("/api/show")
async def ollama_show(request: Request) -> Response:
    """Any model name is accepted on chat requests, so every name "exists" (as /v1/models says)."""
    try:
        body = await requests.read_body(request, requests.current_settings(request).max_body_bytes)
        payload = load_json_object(body)
    except APIError as error:
        return error_response(error.status, error.message)
    name = payload.get("model") or payload.get("name")
    if not isinstance(name, str) or not name:
        return error_response(400, "model is required")
    return JSONResponse({
        "modelfile": "", "parameters": "", "template": "{{ .Prompt }}", "details": _model_details(),
        "model_info": {"general.architecture": "human"}, "capabilities": ["completion", "tools"],
        "modified_at": _modified_at(),
    })
