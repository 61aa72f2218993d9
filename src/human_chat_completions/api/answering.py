"""Answering an open exchange over HTTP, the same way for every API this server speaks: a stream
of events, or one JSON body (started early when the operator takes long), or the failure the
operator chose. Each API only says how it spells an event stream, an answer and an error."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from human_chat_completions.api import failures, responses
from human_chat_completions.config import Settings
from human_chat_completions.core import Exchange, Mode, Switchboard
from human_chat_completions.core.stream import StreamError

Body = dict[str, Any]

# Turns an auto answer's upstream request takes to leave once its exchange opened: its task's first
# step, and before Python 3.12 one more, for aiohttp writes the body from a task of its own there
# (it starts that task eagerly from 3.12 on).
UPSTREAM_REQUEST_TURNS = 2 if sys.version_info < (3, 12) else 1


async def answer(
    request: Request,
    exchange: Exchange,
    settings: Settings,
    *,
    events: Callable[[], AsyncIterator[str]] | None,
    final: Callable[[], Body],
    error_body: Callable[[StreamError], Body],
    fails_in_body: bool = False,
) -> Response:
    """`events` makes the stream body (None: the client wants one JSON body); `final` is the
    finished answer (with `fails_in_body`, also the API's own way to say the reply failed, once
    a long wait has sent the 200); `error_body` an error in the API's shape, sent with the
    failure's status."""
    switchboard: Switchboard = request.app.state.switchboard
    refused = _refused_at_once(exchange, error_body)
    if refused is not None:
        return refused
    switchboard.attach(exchange)  # before the loop turns: a request seen unattached is a retry's

    def release() -> None:
        switchboard.detach(exchange)

    if exchange.mode is Mode.AUTO:
        try:
            # Turns of the loop for the upstream request the opening set off: it leaves now, before
            # this response starts (0.2-0.3 ms of a fast upstream's first token each). Only then: a
            # request for a person would meet its own log write in that turn, its body still held
            # here (20 MB requests left the process 100 MB bigger).
            for _turn in range(UPSTREAM_REQUEST_TURNS):
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            release()
            raise

    if events is not None:
        return responses.ExchangeResponse(
            events(), release, media_type="text/event-stream", headers=responses.SSE_HEADERS)
    if not await responses.closed_or_gone(request, exchange, settings.nonstream_headers_after):
        body = late_body(switchboard, exchange, final, settings.keepalive_seconds, fails_in_body)
        return responses.ExchangeResponse(body, release, media_type="application/json")
    release()
    reply = exchange.reply
    if not reply.closed:
        return Response(status_code=499)  # the client left; the exchange is already abandoned
    if reply.error is not None:
        return _failure(reply.error, error_body)
    responses.note_first_words(switchboard, exchange)
    return JSONResponse(final())


def _refused_at_once(exchange: Exchange, error_body: Callable[[StreamError], Body]) -> Response | None:
    """An exchange that failed as it opened (a failure the operator armed, or a client's retry of
    an injected one) is answered with the status itself, even for a stream: nothing has started."""
    error = exchange.reply.error
    if error is None or not (error.status or error.drops_connection):
        return None
    return _failure(error, error_body)


def _failure(error: StreamError, error_body: Callable[[StreamError], Body]) -> Response:
    if error.drops_connection:
        return responses.ExchangeResponse(responses.dropped_body(), lambda: None,
                                          media_type="application/json")
    return JSONResponse(error_body(error), failures.status_of(error), headers=failures.headers_of(error))


async def late_body(switchboard: Switchboard, exchange: Exchange, final: Callable[[], Body],
                    keepalive: float, fails_in_body: bool = False) -> AsyncIterator[str | bytes]:
    """Headers and whitespace now, the answer when ready: JSON allows leading whitespace, and the
    bytes keep idle timeouts in clients and proxies away."""
    yield b"\n"
    while not exchange.reply.closed:
        try:
            await asyncio.wait_for(exchange.reply.wait_closed(), keepalive)
        except TimeoutError:
            yield b" "
    failures.raise_if_cut_late(exchange.reply.error, fails_in_body)
    responses.note_first_words(switchboard, exchange)
    yield responses.LastChunk(json.dumps(final(), ensure_ascii=False))
