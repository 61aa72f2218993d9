"""The FastAPI app factory: one app holding the OpenAI API and the operator API."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from human_chat_completions import __version__
from human_chat_completions.api import (
    anthropic_api,
    chat,
    failures,
    ollama_api,
    operator,
    operator_answers,
    responses_api,
)
from human_chat_completions.api.errors import install_error_handlers
from human_chat_completions.api.origins import ClientOriginGate
from human_chat_completions.core import Switchboard
from human_chat_completions.settings_store import SettingsStore
from human_chat_completions.studies import StudyBook
from human_chat_completions.token_guard import TokenGuard


def create_app(
    settings: SettingsStore,
    switchboard: Switchboard,
    operator_token: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """Build the app. `settings` is the run's store (handlers read its current value, so a saved
    change applies to the next request); `switchboard` holds the run's state; `operator_token`
    guards /operator/api; `lifespan` runs around the server (the operator window's session manager
    uses it)."""
    app = FastAPI(
        title="Human Chat Completions",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings_store = settings
    app.state.switchboard = switchboard
    app.state.operator_token = operator_token
    app.state.token_guard = TokenGuard()
    app.state.studies = StudyBook()  # a participant's study key names their condition
    app.state.paced_sends = set()  # operator API replies on their way at a pace
    install_error_handlers(app)
    failures.quiet_drops()
    # Middleware added later wraps what came before: the gate decides before the lane.
    app.add_middleware(chat.ChatLane, exception_handlers=app.exception_handlers)
    app.add_middleware(ClientOriginGate,
                       allowed_origins=lambda: settings.current.allowed_client_origins)
    # The router tries routes in this order (10-20 us a router here): an operator's Send first,
    # then the participants' APIs, the rest of the operator API last. Their paths do not overlap.
    app.include_router(operator_answers.router)
    app.include_router(chat.router)
    app.include_router(responses_api.router)
    app.include_router(anthropic_api.router)
    app.include_router(ollama_api.router)
    app.include_router(operator.router)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict:
        exchange_log = getattr(app.state, "exchange_log", None)
        failure = getattr(exchange_log, "failure", None)
        return {"status": "ok", "version": __version__, "waiting": len(switchboard.waiting()),
                "log": "failing: " + failure if failure else "ok"}

    return app
