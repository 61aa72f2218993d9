"""POST /v1/chat/completions (and the paths clients reach it by), GET /v1/models."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.routing import request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from human_chat_completions.api import answering, requests, responses, wire
from human_chat_completions.core import Switchboard

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
    model = parsed.model or settings.model_names[0]

    def events() -> AsyncIterator[str]:
        return responses.sse_body(switchboard, exchange, model, parsed.include_usage,
                                  settings.keepalive_seconds)

    return await answering.answer(
        request, exchange, settings, events=events if parsed.stream else None,
        final=lambda: responses.completion_body(exchange, model), error_body=responses.stream_error)


# Kept though `ChatLane` answers their POSTs: other methods get their 405 from the router.
for _path in CHAT_PATHS:
    router.add_api_route(_path, create_chat_completion, methods=["POST"], include_in_schema=_path == CHAT_PATHS[0])


class ChatLane:
    """ASGI middleware: a POST to a chat path goes straight to its endpoint, past the router and
    FastAPI's per-route machinery (0.1-0.3 ms of every first token on a 2-core machine), with the
    app's exception handlers around it as the router's routes have them. Install it inside the
    origin gate: the gate still decides first."""

    def __init__(self, app: ASGIApp, exception_handlers: Mapping[Any, Callable]) -> None:
        self.app = app
        self.chat = request_response(create_chat_completion)
        # What Starlette's ExceptionMiddleware hands its routes (their wrapper applies them), split
        # as FastAPI splits them: 500 and Exception belong to the outermost error middleware.
        handlers = {key: value for key, value in exception_handlers.items() if key not in (500, Exception)}
        self.handlers = ({key: value for key, value in handlers.items() if not isinstance(key, int)},
                         {key: value for key, value in handlers.items() if isinstance(key, int)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in CHAT_PATHS:
            scope["starlette.exception_handlers"] = self.handlers
            await self.chat(scope, receive, send)
        else:
            await self.app(scope, receive, send)


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
