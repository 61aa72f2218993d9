"""POST /v1/chat/completions (and the paths clients reach it by), GET /v1/models."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from human_chat_completions.api import failures, requests, responses, wire
from human_chat_completions.config import Settings
from human_chat_completions.core import Exchange, Switchboard

router = APIRouter()

# `base_url=".../v1/chat/completions"` makes the official clients call the doubled path.
CHAT_PATHS = ("/v1/chat/completions", "/chat/completions", "/v1/chat/completions/chat/completions")
STARTED = int(time.time())



async def create_chat_completion(request: Request) -> Response:
    switchboard: Switchboard = request.app.state.switchboard
    settings = requests.current_settings(request)
    requests.check_client_key(request, settings)
    body = await requests.read_body(request, settings.max_body_bytes)
    payload, parsed = requests.parse_chat_request(body)
    exchange = requests.open_exchange(request, switchboard, payload, parsed, settings)
    refused = responses.refused_at_once(exchange)
    if refused is not None:
        return refused
    model = parsed.model or settings.model_names[0]
    switchboard.attach(exchange)
    release = lambda: switchboard.detach(exchange)  # noqa: E731
    if parsed.stream:
        body_stream = responses.sse_body(
            switchboard, exchange, model, parsed.include_usage, settings.keepalive_seconds
        )
        return responses.ExchangeResponse(
            body_stream, release, media_type="text/event-stream", headers=responses.SSE_HEADERS
        )
    return await _non_stream(request, switchboard, exchange, model, release, settings)


async def _non_stream(
    request: Request,
    switchboard: Switchboard,
    exchange: Exchange,
    model: str,
    release: Callable[[], None],
    settings: Settings,
) -> Response:
    """Answer in one JSON body; if the operator takes longer than a moment, start the response
    early so that the connection is not idle for minutes."""
    if not await responses.closed_or_gone(request, exchange, settings.nonstream_headers_after):
        body = responses.late_json_body(switchboard, exchange, model, settings.keepalive_seconds)
        return responses.ExchangeResponse(body, release, media_type="application/json")
    release()
    reply = exchange.reply
    if not reply.closed:
        # The client left; nobody reads this, and the exchange is already marked abandoned.
        return Response(status_code=499)
    if reply.error is not None and reply.error.drops_connection:
        return responses.ExchangeResponse(responses.dropped_body(), lambda: None,
                                          media_type="application/json")
    if reply.error is not None:
        status = responses.failure_status(reply.error)
        return JSONResponse(responses.stream_error(reply.error), status,
                            headers=failures.headers_of(reply.error))
    switchboard.note_first_byte(exchange)
    return JSONResponse(responses.completion_body(exchange, model))


for _path in CHAT_PATHS:
    router.add_api_route(_path, create_chat_completion, methods=["POST"], include_in_schema=_path == CHAT_PATHS[0])


@router.get("/v1/models")
@router.get("/models", include_in_schema=False)
async def list_models(request: Request) -> dict:
    settings = requests.current_settings(request)
    return {"object": "list", "data": [wire.model_card(name, STARTED) for name in settings.model_names]}


@router.get("/v1/models/{model_id:path}")
@router.get("/models/{model_id:path}", include_in_schema=False)
async def get_model(model_id: str) -> dict:
    # Any model name is accepted on chat requests, so every name "exists".
    return wire.model_card(model_id, STARTED)
