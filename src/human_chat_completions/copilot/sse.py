"""The upstream's streamed answer, sent and read without the client's per-request machinery.

The official client stays the source of the connection settings (its HTTP client, base URL and
headers, key included) and of the errors (its exception classes, with the status and the
upstream's message); the request itself goes out through its HTTP client at once. Its `create`
spent about 0.3 ms a request building options, transforming parameters and headers, and its SSE
reader decoded the body line by line into text: in auto mode both sit between the participant and
the model. Here the body is serialised once and the SSE is split as bytes, each event's JSON
decoded straight from them.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import openai


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeout, other transport) exception types of the HTTP library under `openai`. Recent openai versions
    wrap errors met while reading a stream into APITimeoutError/APIConnectionError; older ones (on `httpx`) let
    the raw ones through, and newer ones run on `httpx2`: catch whichever is installed."""
    timeouts: list[type[BaseException]] = [TimeoutError]
    transport: list[type[BaseException]] = []
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
# messages, and the client library's 5 s meant a new TCP (and TLS) connection for nearly every
# auto answer in a study.
KEEPALIVE_SECONDS = 120.0


def http_client(timeout: Any) -> Any:
    """The client's default HTTP client, its idle connections kept for KEEPALIVE_SECONDS."""
    base = openai.DefaultAsyncHttpxClient.__mro__[1]  # the HTTP library's AsyncClient
    library = importlib.import_module(base.__module__.split(".")[0])
    limits = library.Limits(max_connections=1000, max_keepalive_connections=100,
                            keepalive_expiry=KEEPALIVE_SECONDS)
    return openai.DefaultAsyncHttpxClient(timeout=timeout, limits=limits)


def request_headers(client: openai.AsyncOpenAI) -> dict[str, str]:
    """The headers the client sends with every request, its key among them."""
    headers = {**client.default_headers, **client.auth_headers}
    return {name: value for name, value in headers.items() if isinstance(value, str)}


def encode_body(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@contextlib.asynccontextmanager
async def raw_stream(
    client: openai.AsyncOpenAI, http: Any, headers: Mapping[str, str], body: bytes, timeout: Any
) -> AsyncIterator[Any]:
    """POST `body` to the upstream's chat completions and hand over its streamed response once its
    headers arrived; an error status or a failed connection raises as the client would. `http` is
    the client's HTTP client (an httpx-style AsyncClient)."""
    url = str(client.base_url).rstrip("/") + "/chat/completions"
    request = http.build_request("POST", url, headers=headers, content=body, timeout=timeout)
    try:
        response = await http.send(request, stream=True)
    except TIMEOUT_ERRORS as error:
        raise openai.APITimeoutError(request=request) from error
    except TRANSPORT_ERRORS as error:
        raise openai.APIConnectionError(request=request) from error
    try:
        if response.status_code >= 400:
            await response.aread()
            raise status_error(response)
        yield response
    finally:
        await response.aclose()


def status_error(response: Any) -> openai.APIStatusError:
    """The client's exception for an error status, with the upstream's message and body."""
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        body = response.text.strip()
    error = body.get("error", body) if isinstance(body, dict) else body
    message = f"Error code: {response.status_code}"
    if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
        message += f" - {error['message']}"
    status = response.status_code
    kind = _STATUS_ERRORS.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    return kind(message, response=response, body=error)


async def sse_chunks(response: Any) -> AsyncGenerator[list[dict[str, Any]], None]:
    """The JSON objects of an SSE body, up to `[DONE]`: a list of those that arrived together (in
    one read from the network) at a time. An `error` event or object is raised as the client's own
    APIError, as its stream would, after what came before it. The body is read to its end even
    after `[DONE]`: a response closed unread takes its connection with it, and every reply would
    then open a new one to the upstream."""
    finished = False
    async for events in sse_events(response.aiter_bytes()):
        chunks: list[dict[str, Any]] = []
        for event, data in events:
            if finished:
                break
            if data == b"[DONE]":
                finished = True
                break
            chunk = json.loads(data)
            if event == b"error" or (isinstance(chunk, dict) and chunk.get("error")):
                if chunks:
                    yield chunks
                raise openai.APIError(_event_message(chunk), response.request, body=chunk)
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


def _event_message(chunk: Any) -> str:
    inner = chunk.get("error", chunk) if isinstance(chunk, dict) else chunk
    return str(inner.get("message", "")) if isinstance(inner, dict) else str(inner)
