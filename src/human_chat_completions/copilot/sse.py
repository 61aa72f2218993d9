"""The upstream's streamed answer read as raw SSE: the JSON of each event, no model per chunk."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import openai


def raw_stream(client: openai.AsyncOpenAI, body: dict[str, Any]):
    """The upstream's SSE response, unparsed: the official client sends the request (auth, errors
    as its exceptions), but building a pydantic model per chunk and transforming the whole history
    on the way out cost about 3 ms a reply in auto mode. The history and parameters go as
    `extra_body`, which is sent as is."""
    rest = {key: value for key, value in body.items() if key not in ("model", "messages", "stream")}
    return client.chat.completions.with_streaming_response.create(
        model=body["model"], messages=[], stream=True,
        extra_body={"messages": body["messages"], **rest})


async def sse_chunks(response: Any) -> AsyncGenerator[dict[str, Any], None]:
    """The JSON objects of an SSE body (data lines joined per event), up to `[DONE]`. An `error`
    event or object is raised as the client's own APIError, as its stream would. The body is read
    to its end even after `[DONE]`: a response closed unread takes its connection with it, and
    every reply would then open a new one to the upstream."""
    data: list[str] = []
    event = ""
    finished = False
    async for line in _lines_then_end(response):
        if finished:
            continue
        if line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif not line and data:
            text, data = "\n".join(data), []
            if text == "[DONE]":
                finished = True
                continue
            chunk = json.loads(text)
            if event == "error" or (isinstance(chunk, dict) and chunk.get("error")):
                raise openai.APIError(_event_message(chunk), response.http_request, body=chunk)
            event = ""
            if isinstance(chunk, dict):
                yield chunk


async def _lines_then_end(response: Any) -> AsyncGenerator[str, None]:
    """The body's lines, and a blank one at the end: a last event may lack its own."""
    async for line in response.iter_lines():
        yield line
    yield ""


def _event_message(chunk: Any) -> str:
    inner = chunk.get("error", chunk) if isinstance(chunk, dict) else chunk
    return str(inner.get("message", "")) if isinstance(inner, dict) else str(inner)
