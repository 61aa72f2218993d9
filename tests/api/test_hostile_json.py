"""Hostile JSON (absurd nesting, lone surrogates) gets a 400 in OpenAI's shape, never a 500,
leaves no traceback in the server's log, and the server answers the next request normally."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import in_process
from tests.api.test_errors import assert_openai_error
from tests.support import OPERATOR_TOKEN, wait_until

DEEP = 10_000
# Deep enough to get past a naive limit, shallow enough for json.loads to parse on its own: the
# trouble then comes later (validation, json.dumps of the log, the fingerprint).
MIDDLING = 600
# JSON text, not a Python character: an escape for half a surrogate pair with no other half.
LONE = r'"\ud800"'
LONE_LOW = r'"abc \udfff def"'


def nested_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "{}" + "}" * depth


def chat(**fields: str) -> bytes:
    """A chat body whose fields are JSON texts; `content` goes into the first message."""
    content = fields.pop("content", '"hi"')
    model = fields.pop("model", '"m"')
    parts = [f'"model": {model}', f'"messages": [{{"role": "user", "content": {content}}}]']
    parts += [f'"{name}": {text}' for name, text in fields.items()]
    return ("{" + ", ".join(parts) + "}").encode()


def responses(**fields: str) -> bytes:
    fields.setdefault("input", '"hi"')
    return ("{" + ", ".join(f'"{name}": {text}' for name, text in fields.items()) + "}").encode()


CHAT_CASES = {
    "content nested 10,000 deep": (chat(content=nested_lists(DEEP)), "messages"),
    "content nested 600 deep": (chat(content=nested_lists(MIDDLING)), "messages"),
    "metadata nested 10,000 deep": (chat(metadata=nested_objects(DEEP)), "metadata"),
    "metadata nested 600 deep": (chat(metadata=nested_objects(MIDDLING)), "metadata"),
    "tool parameters nested 10,000 deep": (chat(tools='[{"type": "function", "function": '
                                                '{"name": "f", "parameters": '
                                                + nested_objects(DEEP) + "}}]"), "tools"),
    "unknown field nested 600 deep": (chat(extra=nested_lists(MIDDLING)), "extra"),
    "whole body nested 10,000 deep": (nested_lists(DEEP).encode(), None),
    "lone surrogate in content": (chat(content=LONE), "messages.0.content"),
    "lone low surrogate in content": (chat(content=LONE_LOW), "messages.0.content"),
    "lone surrogate in a content part": (
        chat(content='[{"type": "text", "text": ' + LONE + "}]"), "messages.0.content.0.text"),
    "lone surrogate in model": (chat(model=LONE), "model"),
    "lone surrogate in user": (chat(user=LONE), "user"),
    "lone surrogate in a metadata value": (chat(metadata='{"k": ' + LONE + "}"), "metadata.k"),
    "lone surrogate in a metadata key": (chat(metadata="{" + LONE + ': "v"}'), "metadata"),
    "lone surrogate in an unknown field": (chat(extra=LONE), "extra"),
}

RESPONSES_CASES = {
    "input nested 10,000 deep": (
        responses(input='[{"role": "user", "content": ' + nested_lists(DEEP) + "}]"), "input"),
    "input nested 600 deep": (
        responses(input='[{"role": "user", "content": ' + nested_lists(MIDDLING) + "}]"), "input"),
    "metadata nested 10,000 deep": (responses(metadata=nested_objects(DEEP)), "metadata"),
    "tool parameters nested 600 deep": (
        responses(tools='[{"type": "function", "name": "f", "parameters": '
                  + nested_objects(MIDDLING) + "}]"), "tools"),
    "lone surrogate as input": (responses(input=LONE), "input"),
    "lone surrogate in an input part": (
        responses(input='[{"role": "user", "content": [{"type": "input_text", "text": '
                  + LONE + "}]}]"), "input.0.content.0.text"),
    "lone surrogate in instructions": (responses(instructions=LONE_LOW), "instructions"),
}


class Collected(logging.Handler):
    """Every record logged anywhere in the process while the server runs (uvicorn's own loggers
    do not propagate to the root, so they are listened to as well)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def problems(self) -> list[str]:
        formatter = logging.Formatter()
        return [formatter.format(record) for record in self.records
                if record.levelno >= logging.ERROR or record.exc_info
                or "Traceback" in formatter.format(record)]


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app as `hcc serve` wires it, in-process: every case is refused before anything opens,
    and then the same app must answer a normal request."""
    with in_process(Path(tmp_path_factory.mktemp("hostile")) / "data") as client:
        yield client


@pytest.fixture
def server_log() -> Iterator[Collected]:
    handler = Collected()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def waiting(client: TestClient) -> list[dict[str, Any]]:
    return client.get("/operator/api/exchanges", params={"outcome": "waiting"}, headers=OPERATOR).json()


def answered(client: TestClient, path: str, body: dict[str, Any] | bytes,
             reply: str = "Still here.") -> dict:
    """Send a request, answer it as the operator, return the client's JSON."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(response=client.post(
        path, content=content, headers={"content-type": "application/json"})))
    thread.start()
    [exchange] = wait_until(lambda: waiting(client))
    client.post(f"/operator/api/exchanges/{exchange['id']}/reply", headers=OPERATOR,
                json={"text": reply, "done": True}).raise_for_status()
    thread.join(15)
    response = result["response"]
    assert response.status_code == 200, response.text
    return {**response.json(), "seen_by_operator": exchange}


def refused(client: TestClient, path: str, body: bytes, param: str | None) -> dict:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, f"{response.status_code}, not refused"
    error = assert_openai_error(response, 400, param)
    assert error["code"] == "invalid_json"
    return error


@pytest.mark.parametrize(("body", "param"), CHAT_CASES.values(), ids=CHAT_CASES.keys())
def test_hostile_chat_request_is_a_400(hostile_app, server_log, body, param):
    refused(hostile_app, "/v1/chat/completions", body, param)
    assert server_log.problems() == []
    assert waiting(hostile_app) == []
    reply = answered(hostile_app, "/v1/chat/completions",
                     {"model": "m", "messages": [{"role": "user", "content": "hello?"}]})
    assert reply["choices"][0]["message"]["content"] == "Still here."
    assert server_log.problems() == []


@pytest.mark.parametrize(("body", "param"), RESPONSES_CASES.values(), ids=RESPONSES_CASES.keys())
def test_hostile_responses_request_is_a_400(hostile_app, server_log, body, param):
    refused(hostile_app, "/v1/responses", body, param)
    assert server_log.problems() == []
    assert waiting(hostile_app) == []
    reply = answered(hostile_app, "/v1/responses",
                     {"model": "m", "input": "hello?"})
    assert reply["output"][0]["content"][0]["text"] == "Still here."
    assert server_log.problems() == []


def test_the_errors_say_what_is_wrong_in_plain_words(hostile_app):
    deep = refused(hostile_app, "/v1/chat/completions", chat(metadata=nested_objects(DEEP)),
                   "metadata")
    assert "deep" in deep["message"] and "64" in deep["message"]
    lone = refused(hostile_app, "/v1/responses", responses(input=LONE), "input")
    assert "surrogate" in lone["message"] and "'input'" in lone["message"]


def test_a_raw_surrogate_byte_sequence_is_refused_too(hostile_app):
    # UTF-8 cannot encode a surrogate; json.loads would let these bytes through as one.
    body = '{"model": "m", "messages": [{"role": "user", "content": "\ud800"}]}'
    refused(hostile_app, "/v1/chat/completions", body.encode("utf-8", "surrogatepass"), None)


def test_escaped_surrogate_pairs_and_sane_nesting_are_accepted(hostile_app):
    """The checks refuse only what is broken: an escaped emoji (a proper pair) and tool
    parameters nested like a real JSON schema go through."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(20):
        schema = {"type": "object", "properties": {"x": schema}}
    body = chat(content=r'"smile \ud83d\ude00"',
                tools='[{"type": "function", "function": {"name": "f", "parameters": '
                + json.dumps(schema) + "}}]")
    reply = answered(hostile_app, "/v1/chat/completions", body, "😀")
    assert reply["seen_by_operator"]["user_input"] == "smile 😀"
    assert reply["choices"][0]["message"]["content"] == "😀"


def test_the_limit_is_exactly_64_levels(hostile_app):
    # The body object is level 1, `extra` level 2; nested_objects(n) is n + 1 levels.
    def body(levels: int) -> bytes:
        return chat(extra=nested_objects(levels - 2))

    refused(hostile_app, "/v1/chat/completions", body(65), "extra")
    answered(hostile_app, "/v1/chat/completions", body(64))
