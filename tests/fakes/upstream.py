"""A small OpenAI-compatible upstream for tests, on a free 127.0.0.1 port.

A raw asyncio HTTP/1.1 server in its own thread: that keeps exact control over what goes on the wire (headers
then silence, a connection dropped mid-stream) and lets it notice the moment a client closes a stream.

    with FakeUpstream() as fake:
        fake.behaviour.chunk_delay = 0.01            # every request from now on
        fake.script.append(Behaviour(fail="rate_limit"))  # only the next request
        ... AsyncOpenAI(base_url=fake.base_url, api_key="x") ...
        fake.requests[-1].body["messages"]           # what it was sent
        fake.wait_disconnected(0)                    # the first stream's client hung up early

The reply text is deterministic: "Draft answer to: <last user text>", one word per chunk.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Literal

Failure = Literal[
    "fail_auth",  # 401 with OpenAI's error body
    "rate_limit",  # 429 with OpenAI's error body
    "server_error",  # 500
    "stall",  # 200 and SSE headers, then nothing until the client leaves
    "error_mid_stream",  # some chunks, then an SSE `error` event, then the end
    "drop_mid_stream",  # some chunks, then the TCP connection is cut
    "garbage",  # 200 with a body that is not JSON
]


@dataclass
class Behaviour:
    """How to answer. `fake.behaviour` applies to every request; `fake.script` entries to one request each."""

    fail: Failure | None = None
    chunk_delay: float = 0.0
    first_token_delay: float = 0.0
    chunks_before_error: int = 2
    tool_call: bool = False
    text: str | None = None


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class StreamRecord:
    """One streamed answer: did the client stay to the end or leave early?"""

    request: RecordedRequest
    started_at: float = field(default_factory=time.monotonic)
    ended_at: float | None = None
    completed: bool = False
    disconnected: threading.Event = field(default_factory=threading.Event)


def last_user_text(body: Any) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def reply_text(body: Any) -> str:
    return f"Draft answer to: {last_user_text(body)}"


def split_words(text: str) -> list[str]:
    """Words with their following space kept, so the pieces join back to the text."""
    pieces: list[str] = []
    for word in text.split(" "):
        if pieces:
            pieces[-1] += " "
        pieces.append(word)
    return [p for p in pieces if p]


def error_body(message: str, type_: str, code: str | None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


class _ClientGone(Exception):
    pass


class FakeUpstream:
    """Start with `with FakeUpstream() as fake:` (or `.start()` / `.stop()`)."""

    def __init__(self, behaviour: Behaviour | None = None, require_key: str | None = None,
                 known_models: set[str] | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.known_models = known_models
        self.script: list[Behaviour] = []
        self.require_key = require_key
        self.requests: list[RecordedRequest] = []
        self.streams: list[StreamRecord] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> FakeUpstream:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-upstream", daemon=True)
        self._thread.start()
        self._run(self._listen())
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
        self._loop = self._thread = None

    def go_down(self) -> None:
        """Stop listening and cut open connections: new connections are refused (port kept for `come_up`)."""
        self._run(self._shutdown())

    def come_up(self) -> None:
        self._run(self._listen())

    def _run(self, coro: Awaitable[Any]) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    # -- what tests look at ------------------------------------------------------------------------------

    def wait_disconnected(self, index: int, timeout: float = 5.0) -> bool:
        """Wait until stream `index` (in arrival order) has seen its client hang up early."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if index < len(self.streams):
                return self.streams[index].disconnected.wait(max(0.0, deadline - time.monotonic()))
            time.sleep(0.01)
        return False

    def max_concurrent_streams(self) -> int:
        edges: list[tuple[float, int]] = []
        for s in self.streams:
            edges.append((s.started_at, 1))
            edges.append((s.ended_at if s.ended_at is not None else float("inf"), -1))
        current = best = 0
        for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
            current += step
            best = max(best, current)
        return best

    # -- HTTP --------------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self._connections.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                request = RecordedRequest(method, path, headers, body)
                with self._lock:
                    self.requests.append(request)
                    behaviour = self.script.pop(0) if self.script else copy.copy(self.behaviour)
                keep_open = await self._answer(request, behaviour, reader, writer)
                if not keep_open:
                    return
        except (ConnectionError, _ClientGone, asyncio.CancelledError):
            return
        finally:
            self._connections.discard(writer)
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.transport.abort()

    async def _send(self, writer: asyncio.StreamWriter, status: str, body: bytes,
                    content_type: str = "application/json", extra: str = "") -> None:
        writer.write(
            f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
            .encode() + body
        )
        await writer.drain()

    async def _answer(self, request: RecordedRequest, b: Behaviour, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> bool:
        path = request.path.split("?", 1)[0].rstrip("/")
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if b.fail == "fail_auth" or (self.require_key is not None and given != self.require_key):
            shown = f"{given[:7]}****{given[-4:]}" if len(given) > 11 else "****"
            message = f"Incorrect API key provided: {shown}. You can find your API key at https://example.test."
            await self._send(writer, "401 Unauthorized", error_body(message, "invalid_request_error",
                                                                      "invalid_api_key"))
            return True
        if request.method == "GET" and path == "/v1/models":
            names = sorted(self.known_models or {"fake-model"})
            models = {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "fake"} for n in names]}
            await self._send(writer, "200 OK", json.dumps(models).encode())
            return True
        if request.method != "POST" or path not in ("/v1/chat/completions", "/chat/completions"):
            await self._send(writer, "404 Not Found", error_body("Not found", "invalid_request_error", None))
            return True
        if not isinstance(request.body, dict):
            await self._send(writer, "400 Bad Request", error_body("Body is not JSON", "invalid_request_error", None))
            return True
        model = request.body.get("model")
        if self.known_models is not None and model not in self.known_models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            await self._send(writer, "404 Not Found", error_body(message, "invalid_request_error",
                                                                   "model_not_found"))
            return True
        if b.fail == "rate_limit":
            message = "Rate limit reached for requests. Please try again in 20s."
            await self._send(writer, "429 Too Many Requests",
                             error_body(message, "requests", "rate_limit_exceeded"), extra="retry-after: 20\r\n")
            return True
        if b.fail == "server_error":
            await self._send(writer, "500 Internal Server Error",
                             error_body("The server had an error while processing your request.", "server_error",
                                        None))
            return True
        if b.fail == "garbage":
            ctype = "text/event-stream" if request.body.get("stream") else "application/json"
            await self._send(writer, "200 OK", b"data: this is not json\n\n" if request.body.get("stream")
                             else b"<html>not json</html>", content_type=ctype)
            return True
        if request.body.get("stream"):
            return await self._stream(request, b, reader, writer)
        await asyncio.sleep(b.first_token_delay)
        await self._send(writer, "200 OK", json.dumps(self._completion(request.body, b)).encode())
        return True

    def _completion(self, body: dict[str, Any], b: Behaviour) -> dict[str, Any]:
        text = b.text if b.text is not None else reply_text(body)
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        finish = "stop"
        if b.tool_call and body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_fake1", "type": "function",
                 "function": {"name": name, "arguments": json.dumps({"query": last_user_text(body)})}}]}
            finish = "tool_calls"
        return {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", ""), "system_fingerprint": None,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": len(split_words(text)), "total_tokens": 10
                      + len(split_words(text))},
        }

    async def _stream(self, request: RecordedRequest, b: Behaviour, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> bool:
        record = StreamRecord(request)
        with self._lock:
            self.streams.append(record)
        # The client sends nothing more on this connection until our answer ends: EOF here means it hung up.
        watcher = asyncio.ensure_future(reader.read(1))
        body = request.body
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        usage_wanted = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            data: dict[str, Any] = {
                "id": cid, "object": "chat.completion.chunk", "created": created, "model": body.get("model", ""),
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if usage_wanted:
                data["usage"] = None
            return data

        async def send(payload: bytes) -> None:
            if watcher.done():
                raise _ClientGone
            writer.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            await writer.drain()

        async def event(data: Any) -> None:
            await send(b"data: " + (data if isinstance(data, bytes) else json.dumps(data).encode()) + b"\n\n")

        async def pause(seconds: float) -> None:
            if seconds > 0:
                done, _ = await asyncio.wait({watcher}, timeout=seconds)
                if done:
                    raise _ClientGone

        try:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
                         b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")
            await writer.drain()
            if b.fail == "stall":
                await watcher
                raise _ClientGone
            await event(chunk({"role": "assistant", "content": "", "refusal": None}))
            await pause(b.first_token_delay)
            text = b.text if b.text is not None else reply_text(body)
            sent = 0
            finish = "stop"
            if b.tool_call and body.get("tools"):
                finish = "tool_calls"
                name = body["tools"][0]["function"]["name"]
                arguments = json.dumps({"query": last_user_text(body)})
                await event(chunk({"tool_calls": [{"index": 0, "id": "call_fake1", "type": "function",
                                                   "function": {"name": name, "arguments": ""}}]}))
                for part in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2:]):
                    await pause(b.chunk_delay)
                    await event(chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}))
            else:
                for word in split_words(text):
                    if b.fail in ("error_mid_stream", "drop_mid_stream") and sent >= b.chunks_before_error:
                        break
                    if sent:
                        await pause(b.chunk_delay)
                    await event(chunk({"content": word}))
                    sent += 1
            if b.fail == "drop_mid_stream":
                writer.transport.abort()
                record.ended_at = time.monotonic()
                return False
            if b.fail == "error_mid_stream":
                await event({"error": {"message": "The model crashed while generating.", "type": "server_error",
                                       "param": None, "code": None}})
            else:
                await event(chunk({}, finish))
                if usage_wanted:
                    completion_tokens = max(1, sent)
                    usage = {"prompt_tokens": 10, "completion_tokens": completion_tokens,
                             "total_tokens": 10 + completion_tokens}
                    await event({**chunk({}), "choices": [], "usage": usage})
            await event(b"[DONE]")
            await send(b"")  # the last, empty chunk ends the body
            record.completed = True
            return True
        except (_ClientGone, ConnectionError):
            record.disconnected.set()
            return False
        finally:
            if record.ended_at is None:
                record.ended_at = time.monotonic()
            watcher.cancel()
            try:
                early = await watcher
            except (asyncio.CancelledError, ConnectionError):
                early = b""
            if early:
                # The client's next request on this kept-alive connection: give its first byte back.
                reader._buffer[0:0] = early  # type: ignore[attr-defined]
