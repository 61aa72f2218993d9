"""Turning an exchange's reply stream into what the client reads: SSE chunks or one JSON body."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from human_chat_completions.api import failures, wire
from human_chat_completions.core import Exchange, Mode, Switchboard
from human_chat_completions.core.stream import StreamError

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
# How long an auto answer's response waits for the LLM's first words before it starts anyway.
HEAD_HOLD_SECONDS = 0.25


class LastChunk(str):
    """A body's last chunk: it goes out with the end of the response, in one write (a write of
    its own would wake the client once more for five bytes)."""


class ExchangeResponse(StreamingResponse):
    """A streaming response that lets go of its exchange however it ends, even if the body was
    never iterated because the client left first."""

    def __init__(self, content: AsyncIterator[str | bytes], release: Callable[[], None], **kwargs: Any):
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        ended = False
        async for chunk in self.body_iterator:
            ended = isinstance(chunk, LastChunk)
            body = chunk if isinstance(chunk, bytes | memoryview) else chunk.encode(self.charset)
            await send({"type": "http.response.body", "body": body, "more_body": not ended})
        if not ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


# Not on Windows, which has no such call.
_GIVE_WAY: Callable[[], None] | None = getattr(os, "sched_yield", None)


def note_first_words(switchboard: Switchboard, exchange: Exchange) -> None:
    """Record that the reply's first words are being written (call just before the write), and
    give this CPU away once this turn of the loop has written them.

    Linux wakes the reader of a local socket on the writer's CPU (a "synchronous" wake-up) and
    lets it run only when the writer sleeps. The loop had about 0.4 ms of work left after the
    first words (the next chunks, the exchange's bookkeeping), so a client on the same machine
    read them that much later; yielding once lets it read them at once."""
    if exchange.first_byte_at is None:
        if _GIVE_WAY is not None:  # before the first byte's event, which the log may write at once
            asyncio.get_running_loop().call_soon(_GIVE_WAY)
        switchboard.note_first_byte(exchange)


def completion_id(exchange: Exchange) -> str:
    return "chatcmpl-" + exchange.id.removeprefix("ex_")


# One encoder for every chunk: json.dumps with an option builds a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False).encode


def sse(data: dict[str, Any]) -> str:
    return f"data: {_encode(data)}\n\n"


def stream_error(error: StreamError) -> dict[str, Any]:
    return failures.openai_error(error)


async def sse_body(
    switchboard: Switchboard, exchange: Exchange, model: str, include_usage: bool, keepalive: float
) -> AsyncIterator[str]:
    """OpenAI's chunk sequence: role first, content deltas, finish, usage, [DONE]. The role goes
    at once to a person's reply; an LLM's first words come within milliseconds, and the role
    goes out in their chunk (or alone after HEAD_HOLD_SECONDS if they do not come): a client
    parses one chunk fewer before its first token (0.1-0.4 ms of it with openai-python)."""
    cid, created = completion_id(exchange), int(exchange.received_at)
    before, after = wire.content_chunk_frame(cid, created, model)
    before, after = "data: " + before, after + "\n\n"
    reply = exchange.reply
    role = sse(wire.chunk(cid, created, model, {"role": "assistant", "content": ""}))
    if exchange.mode is not Mode.AUTO or not await reply.started(HEAD_HOLD_SECONDS):
        yield role
        role = ""
    # Each write wakes the client once more: what is left once the reply has closed is all here
    # already, so it goes out with the end, in one write.
    held = ""
    async for piece in reply.pieces(keepalive):
        if piece is None:
            chunk = role + ": keep-alive\n\n"
        else:
            note_first_words(switchboard, exchange)
            if role and isinstance(piece, str):
                chunk = sse(wire.chunk(cid, created, model, {"role": "assistant", "content": piece}))
            else:
                chunk = role + (before + _encode(piece) + after if isinstance(piece, str) else
                                sse(wire.chunk(cid, created, model, piece)))
        role = ""
        if reply.closed:
            held += chunk
        else:
            yield chunk
    held += role
    if reply.error is not None:
        if held:
            yield held
        failures.raise_if_dropped(reply.error)
        yield LastChunk(sse(stream_error(reply.error)))
        return
    usage = sse(wire.usage_chunk(cid, created, model, wire.usage(exchange.messages, reply.text))) \
        if include_usage else ""
    yield LastChunk(held + sse(wire.chunk(cid, created, model, {}, reply.finish_reason)) + usage
                    + "data: [DONE]\n\n")


def completion_body(exchange: Exchange, model: str) -> dict[str, Any]:
    reply = exchange.reply
    if reply.error is not None:
        return stream_error(reply.error)
    body = wire.completion(
        completion_id(exchange),
        int(exchange.received_at),
        model,
        reply.text,
        reply.finish_reason or "stop",
        wire.usage(exchange.messages, reply.text),
    )
    tool_calls = reply.tool_calls
    if tool_calls:
        body["choices"][0]["message"]["tool_calls"] = tool_calls
        body["choices"][0]["message"]["content"] = reply.text or None
    return body


async def dropped_body() -> AsyncIterator[bytes]:
    """A body that cuts the connection once the headers are out, as a network failure would."""
    raise failures.ConnectionDropped("dropped on the operator's request")
    yield b""  # pragma: no cover - makes this a generator


async def closed_or_gone(request: Request, exchange: Exchange, seconds: float) -> bool:
    """Wait up to `seconds` for the reply to close or the client to leave; True if either did."""
    closed = asyncio.ensure_future(exchange.reply.wait_closed())
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        finished, _ = await asyncio.wait({closed, gone}, timeout=seconds,
                                         return_when=asyncio.FIRST_COMPLETED)
        return bool(finished)
    finally:
        for task in (closed, gone):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(closed, gone, return_exceptions=True)


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
