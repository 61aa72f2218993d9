"""Which web pages may use the chat API from a browser.

Any page the operator (or a participant) opens could otherwise POST a chat request to this
server and put a made-up participant in front of the operator. Browsers say where a request comes
from in `Origin`; server-side SDKs send none and are unaffected. Origins listed in the settings
(or `*`) get CORS answers, so a web chat app on them works.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.middleware.cors import CORSMiddleware

from human_chat_completions.api.errors import NO_RETRY, APIError, shaped_error_body

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]

WINDOW_PATHS = ("/ui", "/operator/")  # the window's door and the operator token guard these
SAFE_METHODS = frozenset({"GET", "HEAD"})


def origin_of(scope: Scope) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == b"origin":
            return value.decode("latin-1")
    return None


class ClientOriginGate:
    """ASGI middleware: a browser request to the client API from a page not allowed gets 403."""

    def __init__(self, app: ASGIApp, allowed_origins: Callable[[], list[str]]) -> None:
        self.app = app
        self.allowed_origins = allowed_origins
        self._cors: tuple[tuple[str, ...], CORSMiddleware] | None = None

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        origin = origin_of(scope) if scope["type"] == "http" else None
        if origin is None or scope["path"].startswith(WINDOW_PATHS):
            await self.app(scope, receive, send)
            return
        allowed = tuple(self.allowed_origins())
        if "*" in allowed or origin in allowed:
            await self._cors_for(allowed)(scope, receive, send)
        elif scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)  # no CORS headers: the page cannot read the answer
        else:
            await refuse(send, origin, scope["path"])

    def _cors_for(self, allowed: tuple[str, ...]) -> CORSMiddleware:
        """Starlette's CORS answers, rebuilt only when the setting changed."""
        if self._cors is None or self._cors[0] != allowed:
            cors = CORSMiddleware(self.app, allow_origins=list(allowed), allow_methods=["*"],
                                  allow_headers=["*"], max_age=600)
            self._cors = (allowed, cors)
        return self._cors[1]


async def refuse(send: Callable, origin: str, path: str) -> None:
    body = json.dumps(shaped_error_body(path, APIError(
        403,
        f"Requests from the web page {origin} are not accepted. To let a browser-based chat app "
        "use this server, add its origin to 'allowed_client_origins' in the settings.",
        code="origin_not_allowed",
    ))).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *((key.encode(), value.encode()) for key, value in NO_RETRY.items())]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
