"""The window's door: only the server's own page may reach the operator window.

Flet's websocket trusts its peer address, and a web page on any site runs in the operator's own
browser on this very machine. So every request under /ui must name a host this server answers as
(DNS rebinding makes a foreign name resolve to 127.0.0.1), a websocket or a state-changing request
must come from the server's own origin when the browser says where it comes from, and only the
window's own page on this machine (loopback peer, own Host and own Origin) or Flet's desktop client
skips the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]

CLOSED_WINDOW_GRACE_SECONDS = 2.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

# Set for the lifetime of one websocket connection; the window's session reads it when it starts.
window_trusted: contextvars.ContextVar[bool] = contextvars.ContextVar("window_trusted", default=False)


def split_host(host: str) -> tuple[str, int | None]:
    """`name:port`, `[v6]:port` or a bare name → (lower-case name, port or None)."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return name + "]", int(port) if port.isdigit() else None
    name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    return name, int(port) if port.isdigit() else None


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


class HostRules:
    """Which `Host` headers this server answers as: a loopback name or the address the connection
    really arrived at, with the port it really listens on, or a name the settings list."""

    def __init__(self, allowed_hosts: Callable[[], Iterable[str]]) -> None:
        self.allowed_hosts = allowed_hosts

    def accepts(self, host_header: str, server: tuple[str, int] | None) -> bool:
        local_address, port = server or ("", None)
        name, given_port = split_host(host_header)
        if not name or (given_port or 80) != port:
            return False
        if name in LOOPBACK_NAMES or (is_ip_literal(name) and same_address(name, local_address)):
            return True
        return any(self._listed(name, given_port, entry) for entry in self.allowed_hosts())

    @staticmethod
    def _listed(name: str, port: int | None, entry: str) -> bool:
        listed_name, listed_port = split_host(entry)
        return listed_name == name and listed_port in (None, port)


def same_address(name: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(name.strip("[]")) == ipaddress.ip_address(address)
    except ValueError:
        return False


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return None


class WindowDoor:
    """ASGI middleware in front of the Flet app mounted at /ui."""

    def __init__(self, app: ASGIApp, hosts: HostRules) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = header(scope, b"host") or ""
        origin = header(scope, b"origin")
        if not self.hosts.accepts(host, scope.get("server")):
            await refuse(scope, receive, send, "This address is not one the operator window answers as.")
            return
        own_origin = origin is not None and origin.lower() == f"http://{host.lower()}"
        changes_state = scope["type"] == "websocket" or scope.get("method", "GET") not in SAFE_METHODS
        if origin is not None and not own_origin and changes_state:
            await refuse(scope, receive, send, "The operator window only answers its own page.")
            return
        # Browsers always name the page behind a websocket; a request without Origin is a program
        # of this machine (Flet's desktop client), which could read the token file anyway.
        peer = (scope.get("client") or ("", 0))[0]
        token = window_trusted.set((origin is None or own_origin) and is_loopback(peer))
        try:
            sending = without_open_cors(dropping_moot_frames(send))
            if scope["type"] == "websocket":
                await ending_once_gone(self.app, scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        finally:
            window_trusted.reset(token)


def without_open_cors(send: Callable) -> Callable:
    """Flet adds `Access-Control-Allow-Origin: *` to every response; other sites may not read ours."""

    async def sending(message: dict) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [(key, value) for key, value in message.get("headers", [])
                                  if key.lower() != b"access-control-allow-origin"]
        await send(message)

    return sending


def dropping_moot_frames(send: Callable) -> Callable:
    """A frame for a window that closed while it was on its way is moot. Raised, uvicorn's
    ClientDisconnected (an OSError) ends Flet's send loop before Flet marks the session
    disconnected, and the closed window would go on rendering every event."""

    async def sending(message: dict) -> None:
        if message["type"] != "websocket.send":
            await send(message)
            return
        try:
            await send(message)
        except OSError:
            pass

    return sending


async def ending_once_gone(app: ASGIApp, scope: Scope, receive: Callable, send: Callable) -> None:
    """Flet's handler only ends its send loop for a window that registered, so a page closed or
    reloaded before that left a handler waiting for ever (and held the server's stop for its
    whole grace period). Once the socket is gone, the handler has a short grace to end."""
    gone = asyncio.Event()

    async def receiving() -> dict:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            gone.set()
        return message

    handler = asyncio.ensure_future(app(scope, receiving, send))
    closed = asyncio.ensure_future(gone.wait())
    try:
        await asyncio.wait({handler, closed}, return_when=asyncio.FIRST_COMPLETED)
        if not handler.done():
            await asyncio.wait({handler}, timeout=CLOSED_WINDOW_GRACE_SECONDS)
    finally:
        closed.cancel()
        if not handler.done():
            handler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await handler
    if not handler.cancelled():
        handler.result()  # the handler's own error is still the handler's


async def refuse(scope: Scope, receive: Callable, send: Callable, reason: str) -> None:
    """403 before anything else happens: a websocket is refused before it is accepted, so no frame
    of the window ever reaches the other side."""
    body = reason.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in (scope.get("extensions") or {}):
        await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})  # uvicorn answers this with a 403
