"""POST /v1/messages: Anthropic's Messages API on the same switchboard.

The request is translated into the chat shape (see `anthropic_wire`), so the operator, the log and
conversation matching see an ordinary exchange. Only the wire differs: Anthropic's message object,
its named SSE events (`ping` while waiting), its error envelope, and `x-api-key` for the key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from human_chat_completions.api import answering, failures, requests, responses, wire
from human_chat_completions.api import anthropic_wire as aw
from human_chat_completions.api.errors import NO_RETRY, APIError
from human_chat_completions.api.json_body import load_json_object
from human_chat_completions.core import Exchange, Switchboard

log = logging.getLogger(__name__)
router = APIRouter()
MESSAGES_PATHS = ("/v1/messages", "/messages")
COUNT_TOKENS_PATHS = ("/v1/messages/count_tokens", "/messages/count_tokens")


def with_api_key(request: Request) -> Request:
    """The request with its `x-api-key` as the bearer token the key checks read (client keys,
    participant keys, study keys, the retry fingerprint), so both headers count the same."""
    key = request.headers.get("x-api-key", "").strip()
    if not key:
        return request
    headers = [(name, value) for name, value in request.scope["headers"] if name.lower() != b"authorization"]
    headers.append((b"authorization", b"Bearer " + key.encode("latin-1")))
    return Request({**request.scope, "headers": headers}, request.receive)


def error_response(error: APIError) -> JSONResponse:
    return JSONResponse(aw.error_body(error.status, error.message), error.status, headers=NO_RETRY)


def sse(kind: str, **fields: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields}, ensure_ascii=False)}\n\n"


class _Blocks:
    """The content blocks of one streamed message: opened in order as text or tool calls arrive,
    each closed before the next opens."""

    def __init__(self) -> None:
        self.count = 0
        self.open: int | None = None
        self.text_block: int | None = None  # the open block, when it is text
        self.calls: dict[int, int] = {}  # tool call index → block index

    def _start(self, block: dict[str, Any]) -> list[str]:
        events = self.stop()
        self.open, self.count = self.count, self.count + 1
        events.append(sse("content_block_start", index=self.open, content_block=block))
        return events

    def stop(self) -> list[str]:
        if self.open is None:
            return []
        index, self.open, self.text_block = self.open, None, None
        return [sse("content_block_stop", index=index)]

    def text(self, piece: str) -> list[str]:
        events: list[str] = []
        if self.text_block is None:
            events = self._start({"type": "text", "text": ""})
            self.text_block = self.open
        if piece:
            events.append(sse("content_block_delta", index=self.text_block,
                              delta={"type": "text_delta", "text": piece}))
        return events

    def tool_call(self, delta: dict[str, Any]) -> list[str]:
        events: list[str] = []
        call = int(delta.get("index", 0))
        function = delta.get("function") or {}
        if call not in self.calls:
            events = self._start({"type": "tool_use", "id": delta.get("id") or "",
                                  "name": function.get("name") or "", "input": {}})
            self.calls[call] = self.count - 1
        if function.get("arguments"):
            events.append(sse("content_block_delta", index=self.calls[call],
                              delta={"type": "input_json_delta", "partial_json": function["arguments"]}))
        return events

    def piece(self, piece: str | dict[str, Any]) -> list[str]:
        if isinstance(piece, str):
            return self.text(piece)
        return [event for delta in piece.get("tool_calls") or [] for event in self.tool_call(delta)]


async def sse_body(
    switchboard: Switchboard, exchange: Exchange, model: str, keepalive: float
) -> AsyncIterator[str]:
    """message_start at once; a block per text run or tool call with its deltas; message_delta
    with the stop reason and usage, message_stop. `ping` while waiting, `error` on a failure."""
    yield sse("message_start", message=aw.message_object(exchange, model, started=True))
    blocks = _Blocks()
    async for piece in exchange.reply.pieces(keepalive):
        if piece is None:
            yield sse("ping")
            continue
        events = blocks.piece(piece)
        if events:
            responses.note_first_words(switchboard, exchange)
        for event in events:
            yield event
    reply = exchange.reply
    if reply.error is not None:
        failures.raise_if_dropped(reply.error)
        yield responses.LastChunk(
            sse("error", error=aw.error_body(failures.status_of(reply.error), reply.error.message)["error"]))
        return
    # Nothing said at all: one empty text block, as Anthropic sends.
    closing = blocks.stop() if blocks.count else [*blocks.text(""), *blocks.stop()]
    yield responses.LastChunk("".join(closing) + sse(
        "message_delta", delta={"stop_reason": aw.stop_reason(exchange), "stop_sequence": None},
        usage={"output_tokens": aw.output_tokens(exchange)}) + sse("message_stop"))


# -- the endpoints -------------------------------------------------------------------------------


async def create_message(request: Request) -> Response:
    try:
        return await _create_message(with_api_key(request))
    except APIError as error:
        return error_response(error)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(APIError(500, "The server had an internal error."))


async def _create_message(request: Request) -> Response:
    switchboard: Switchboard = request.app.state.switchboard
    settings = requests.current_settings(request)
    requests.check_client_key(request, settings)
    payload = load_json_object(await requests.read_body(request, settings.max_body_bytes))
    parsed: aw.MessagesRequest = aw.parse(aw.MessagesRequest, payload)
    chat = aw.chat_payload(payload, parsed)
    try:
        as_chat = wire.ChatCompletionRequest.model_validate(chat)
    except ValidationError as exc:
        raise aw.validation_error(exc) from None
    exchange = requests.open_exchange(request, switchboard, chat, as_chat, settings, as_sent=payload)
    model = parsed.model or settings.model_names[0]

    def events() -> AsyncIterator[str]:
        return sse_body(switchboard, exchange, model, settings.keepalive_seconds)

    return await answering.answer(request, exchange, settings,
                                  events=events if parsed.stream else None,
                                  final=lambda: aw.message_object(exchange, model),
                                  error_body=lambda error: aw.error_body(failures.status_of(error),
                                                                         error.message))


async def count_tokens(request: Request) -> Response:
    """An estimate (no tokenizer here): about four Latin characters a token."""
    try:
        request = with_api_key(request)
        settings = requests.current_settings(request)
        requests.check_client_key(request, settings)
        payload = load_json_object(await requests.read_body(request, settings.max_body_bytes))
        parsed: aw.CountTokensRequest = aw.parse(aw.CountTokensRequest, payload)
    except APIError as error:
        return error_response(error)
    return JSONResponse({"input_tokens": aw.counted_tokens(parsed)})


async def not_found(request: Request) -> Response:
    return error_response(APIError(404, f"Unknown request URL: {request.method} {request.url.path}."))


for _path in COUNT_TOKENS_PATHS:
    router.add_api_route(_path, count_tokens, methods=["POST"],
                         include_in_schema=_path == COUNT_TOKENS_PATHS[0])
for _path in MESSAGES_PATHS:
    router.add_api_route(_path, create_message, methods=["POST"],
                         include_in_schema=_path == MESSAGES_PATHS[0])
    # Anything else under /v1/messages is Anthropic's to answer, in its own error shape.
    router.add_api_route(_path + "/{rest:path}", not_found,
                         methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
