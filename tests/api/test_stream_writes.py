"""A streamed reply's end is one write: what is left of the reply once it has closed, the finish,
the usage, `[DONE]` and the end of the HTTP body go out in one ASGI message (uvicorn writes each
message with one write, and each write wakes the client)."""

from __future__ import annotations

import asyncio
import json

import pytest

from human_chat_completions.config import Settings
from human_chat_completions.server import build_runtime, make_server
from tests.support import OPERATOR_TOKEN

CHAT = ("/v1/chat/completions", {"model": "m", "stream": True, "stream_options": {"include_usage": True},
                                 "messages": [{"role": "user", "content": "hi"}]})


def scope_for(path: str, body: bytes) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())]}


async def stream_messages(tmp_path, answer, api: tuple[str, dict] = CHAT) -> list[dict]:
    """The body messages the response to one streamed request (`api`: path and body) sends, while
    `answer(switchboard, id, sent)` replies to it."""
    runtime = build_runtime(Settings(), tmp_path / "data", OPERATOR_TOKEN)
    app = make_server(runtime, "127.0.0.1", 8000, with_ui=False).config.app
    path, payload = api
    request = json.dumps(payload).encode()
    incoming = [{"type": "http.request", "body": request, "more_body": False}]
    sent: list[dict] = []
    done = asyncio.Event()

    async def receive() -> dict:
        if incoming:
            return incoming.pop()
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    try:
        call = asyncio.create_task(app(scope_for(path, request), receive, send))
        while not runtime.switchboard.waiting():
            await asyncio.sleep(0)
        [exchange] = runtime.switchboard.waiting()
        await answer(runtime.switchboard, exchange.id, sent)
        await asyncio.wait_for(call, 10)
        done.set()
    finally:
        runtime.close()
    return [m for m in sent if m["type"] == "http.response.body"]


def hello_then(rest: str):
    """An answer: "Hello" goes out on its own, then `rest` and the end come together."""
    async def answer(switchboard, exchange_id, sent) -> None:
        switchboard.reply(exchange_id, "Hello", done=False)
        while not any(b"Hello" in m.get("body", b"") for m in sent):
            await asyncio.sleep(0)
        switchboard.reply(exchange_id, rest, done=True)
    return answer


def events(message: dict) -> list[str]:
    return [line.removeprefix("data: ") for line in message["body"].decode().split("\n\n") if line]


async def test_the_last_words_finish_usage_and_done_go_out_with_the_end_of_the_body(tmp_path):
    messages = await stream_messages(tmp_path, hello_then(" there"))  # more words and the end at once
    assert [m["more_body"] for m in messages] == [True, True, False]
    role, hello, last = messages
    assert json.loads(events(role)[0])["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert json.loads(events(hello)[0])["choices"][0]["delta"] == {"content": "Hello"}
    there, finish, usage, end = events(last)
    assert json.loads(there)["choices"][0]["delta"] == {"content": " there"}
    assert json.loads(finish)["choices"][0]["finish_reason"] == "stop"
    assert json.loads(usage)["usage"]["completion_tokens"] > 0
    assert end == "[DONE]"


async def test_a_reply_that_ends_later_sends_its_end_alone_but_still_in_one_write(tmp_path):
    messages = await stream_messages(tmp_path, hello_then(""))
    assert [m["more_body"] for m in messages] == [True, True, False]
    finish, usage, end = events(messages[-1])
    assert json.loads(finish)["choices"][0]["finish_reason"] == "stop" and end == "[DONE]"
    assert "usage" in json.loads(usage)


@pytest.mark.parametrize(("api", "end"), [
    (("/v1/messages", {"model": "m", "max_tokens": 50, "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]}), b"event: message_stop"),
    (("/v1/responses", {"model": "m", "stream": True, "input": "hi"}), b"event: response.completed"),
    (("/api/chat", {"model": "m", "messages": [{"role": "user", "content": "hi"}]}), b'"done": true'),
], ids=["anthropic", "responses", "ollama"])
async def test_every_api_ends_its_stream_in_the_write_of_its_last_event(tmp_path, api, end):
    messages = await stream_messages(tmp_path, hello_then(" there"), api)
    assert [m["more_body"] for m in messages][-2:] == [True, False]
    assert end in messages[-1]["body"] and not any(end in m["body"] for m in messages[:-1])
