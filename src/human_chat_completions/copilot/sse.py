"""The upstream's streamed answer, sent and read without the client's per-request machinery.

The official client stays the source of the connection settings (its base URL and headers, key
included) and of the errors (its exception classes, with the status and the upstream's message).
The request itself goes out through aiohttp, the HTTP library the client offers as its faster
transport (`openai.DefaultAioHttpClient`), used here directly: its request leaves in one write and
its C parser reads the answer, where the client's default stack (httpx on anyio) wrote headers and
body in two writes with a turn of the loop between them, and spent about 0.8 ms more of a fast
upstream's first token in its layers. The body is serialised once and the SSE is split as bytes,
each event's JSON decoded straight from them.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import urllib.parse
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import aiohttp
import openai
import orjson


def _http_library() -> ModuleType:
    """The HTTP library under `openai` (httpx, or httpx2 in newer versions): its Request and
    Response carry the client's errors."""
    base = openai.DefaultAsyncHttpxClient.__mro__[1]
    return importlib.import_module(base.__module__.split(".")[0])


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeout, other transport) exception types met while a stream is read: aiohttp's (a read
    timeout is a TimeoutError), and those of the HTTP library under `openai` for older versions,
    which let them out of a stream unwrapped."""
    timeouts: list[type[BaseException]] = [TimeoutError]
    transport: list[type[BaseException]] = [aiohttp.ClientError]
    for name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        transport.append(module.TransportError)
    return tuple(timeouts), tuple(transport)


TIMEOUT_ERRORS, TRANSPORT_ERRORS = _transport_errors()

# What an upstream's error status becomes: the client's own classes, so callers tell them apart
# as they would with its `create`.
_STATUS_ERRORS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError, 401: openai.AuthenticationError, 403: openai.PermissionDeniedError,
    404: openai.NotFoundError, 409: openai.ConflictError, 422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}


# How long an idle connection to the upstream is kept: participants read and type between their
# messages, and a short keep-alive meant a new TCP (and TLS) connection for nearly every auto
# answer in a study.
KEEPALIVE_SECONDS = 120.0


def upstream_session(base_url: str, timeout_seconds: float) -> aiohttp.ClientSession:
    """A connection pool to one profile's upstream (call on the running loop). Certificates are
    checked as the client checks them (certifi, or SSL_CERT_FILE / SSL_CERT_DIR) and a proxy the
    environment names is used, as the client would; `timeout_seconds` is the longest wait for
    any byte, 10 s at most to connect."""
    connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=KEEPALIVE_SECONDS,
                                     ssl=_http_library().create_ssl_context())
    timeout = aiohttp.ClientTimeout(total=None, connect=min(10.0, timeout_seconds),
                                    sock_read=timeout_seconds)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, proxy=proxy_for(base_url))


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY and the like, NO_PROXY respected),
    looked up once per profile: aiohttp's own `trust_env` looks it up, and reads ~/.netrc, on
    every request, which cost 0.8 ms of each auto answer's first token."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def request_headers(client: openai.AsyncOpenAI) -> dict[str, str]:
    """The headers the client sends with every request, its key among them."""
    headers = {**client.default_headers, **client.auth_headers}
    return {name: value for name, value in headers.items() if isinstance(value, str)}


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    pieces: AsyncIterator[bytes]  # the body as it arrives
    request: Callable[[], Any]  # the request as the client's errors describe it


@contextlib.asynccontextmanager
async def raw_stream(
    client: openai.AsyncOpenAI, session: aiohttp.ClientSession, headers: Mapping[str, str], body: bytes
) -> AsyncIterator[UpstreamResponse]:
    """POST `body` to the upstream's chat completions and hand over its streamed response once its
    headers arrived; an error status or a failed connection raises as the client would. Left
    early (a take-over, an error), the connection is closed, which stops the upstream."""
    url = str(client.base_url).rstrip("/") + "/chat/completions"

    def request() -> Any:
        return _http_library().Request("POST", url)

    try:
        response = await session.post(url, data=body, headers=headers)
    except TIMEOUT_ERRORS as error:
        raise openai.APITimeoutError(request=request()) from error
    except aiohttp.ClientError as error:
        raise openai.APIConnectionError(request=request()) from error
    try:
        if response.status >= 400:
            raise status_error(response.status, response.headers, await response.read(), request())
        yield UpstreamResponse(response.content.iter_any(), request)
    except BaseException:
        response.close()
        raise
    response.release()


def status_error(status: int, headers: Mapping[str, str], content: bytes, request: Any) -> openai.APIStatusError:
    """The client's exception for an error status, with the upstream's message and body."""
    response = _http_library().Response(status, headers=dict(headers), content=content, request=request)
    try:
        body: Any = json.loads(content)
    except ValueError:
        body = response.text.strip()
    error = body.get("error", body) if isinstance(body, dict) else body
    message = f"Error code: {status}"
    if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
        message += f" - {error['message']}"
    kind = _STATUS_ERRORS.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    return kind(message, response=response, body=error)


async def sse_chunks(response: UpstreamResponse) -> AsyncGenerator[list[dict[str, Any]], None]:
    """The JSON objects of an SSE body, up to `[DONE]`: a list of those that arrived together (in
    one read from the network) at a time. An `error` event or object is raised as the client's own
    APIError, as its stream would, after what came before it. The body is read to its end even
    after `[DONE]`: a response closed unread takes its connection with it, and every reply would
    then open a new one to the upstream."""
    finished = False
    async for events in sse_events(response.pieces):
        chunks: list[dict[str, Any]] = []
        for event, data in events:
            if finished:
                break
            if data == b"[DONE]":
                finished = True
                break
            chunk = _json(data)
            if event == b"error" or (isinstance(chunk, dict) and chunk.get("error")):
                if chunks:
                    yield chunks
                raise openai.APIError(_event_message(chunk), response.request(), body=chunk)
            if isinstance(chunk, dict):
                chunks.append(chunk)
        if chunks:
            yield chunks


async def sse_events(pieces: AsyncIterator[bytes]) -> AsyncGenerator[list[tuple[bytes, bytes]], None]:
    """(event name, data) of each event with data in a byte stream of server-sent events, a list
    of those each piece completed at a time; a last event without its blank line counts too.
    Lines may end in CRLF, LF or CR."""
    buffer = b""
    async for piece in pieces:
        buffer += piece
        if b"\r" in buffer:
            # A CR at the very end may be the first half of a CRLF: it waits for the next piece.
            held = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if held:
                buffer = buffer[:-1] + b"\r"
        if b"\n\n" not in buffer:
            continue
        *blocks, buffer = buffer.split(b"\n\n")
        events = [found for found in map(_event, blocks) if found is not None]
        if events:
            yield events
    found = _event(buffer.replace(b"\r", b"\n"))
    if found is not None:
        yield [found]


def _event(block: bytes) -> tuple[bytes, bytes] | None:
    if block.startswith(b"data:") and b"\n" not in block:  # the usual event: one data line
        return b"", block[5:].lstrip(b" ")
    name, data = b"", []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            data.append(line[5:].lstrip(b" "))
        elif line.startswith(b"event:"):
            name = line[6:].strip()
    return (name, b"\n".join(data)) if data else None


def _json(data: bytes) -> Any:
    """An event's JSON, by orjson (a fifth of a chunk's CPU went to json's decoder); what orjson
    refuses and json reads (a lone surrogate, NaN) is read by json, as before."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _event_message(chunk: Any) -> str:
    inner = chunk.get("error", chunk) if isinstance(chunk, dict) else chunk
    return str(inner.get("message", "")) if isinstance(inner, dict) else str(inner)
