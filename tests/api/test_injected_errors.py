"""Errors the operator injects reach the official client as a provider's would: the status, the
error type, `retry-after`, a cut connection; a client's own retries meet the same failure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from human_chat_completions.config import Settings
from tests.support import Operator, RunningServer

ASK = [{"role": "user", "content": "Hello?"}]


def client(server: RunningServer, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base + "/v1", api_key="sk-x", max_retries=retries)


@pytest.mark.parametrize(("status", "error_class"), [
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (503, openai.InternalServerError),
    (529, openai.InternalServerError),
])
def test_an_injected_status_reaches_the_client_as_its_error_class(server, operator, status, error_class):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.chat.completions.create, model="m", messages=ASK)
        [exchange] = operator.wait_for(1)
        operator.fail(exchange["id"], status=status).raise_for_status()
        with pytest.raises(error_class) as raised:
            future.result(timeout=10)
    assert raised.value.status_code == status
    assert raised.value.response.headers.get("x-should-retry") is None  # as a provider sends it
    if status == 429:
        assert raised.value.response.headers["retry-after"] == "1"
        assert raised.value.code == "rate_limit_exceeded"
    record = operator.exchange(exchange["id"])
    assert record["outcome"] == "failed" and record["injected_error"] == str(status)


def test_a_clients_own_retries_meet_the_same_injected_error(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server, retries=2) as api:
        future = pool.submit(api.chat.completions.create, model="m", messages=ASK)
        [exchange] = operator.wait_for(1)
        operator.fail(exchange["id"], status=429).raise_for_status()
        with pytest.raises(openai.RateLimitError):
            future.result(timeout=20)
    failed = operator.exchanges("failed")
    assert len(failed) == 3, "the first request and the client's two retries"
    assert {record["injected_error"] for record in failed} == {"429"}
    assert [record["notice_code"] for record in failed[1:]] == ["injected_retry"] * 2
    assert operator.exchanges("waiting") == []  # the operator did not have to fail each retry


def test_an_injected_error_in_a_started_stream_comes_as_its_error_event(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        def read() -> list[str]:
            seen = []
            for chunk in api.chat.completions.create(model="m", messages=ASK, stream=True):
                seen.append(chunk.choices[0].delta.content or "")
            return seen

        future = pool.submit(read)
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], "Let me ", done=False).raise_for_status()
        operator.fail(exchange["id"], status=503, message="The server is overloaded.").raise_for_status()
        with pytest.raises(openai.APIError, match="overloaded"):
            future.result(timeout=10)


def test_a_dropped_connection_cuts_a_stream_mid_reply(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        received: list[str] = []

        def read() -> None:
            for chunk in api.chat.completions.create(model="m", messages=ASK, stream=True):
                received.append(chunk.choices[0].delta.content or "")

        future = pool.submit(read)
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], "Half a thought", done=False).raise_for_status()
        operator.fail(exchange["id"], drop=True).raise_for_status()
        with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
            future.result(timeout=10)
    assert "".join(received) == "Half a thought"
    assert operator.exchange(exchange["id"])["injected_error"] == "drop"


def test_a_dropped_connection_fails_a_waiting_request_as_a_network_error(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.chat.completions.create, model="m", messages=ASK)
        [exchange] = operator.wait_for(1)
        operator.fail(exchange["id"], drop=True).raise_for_status()
        with pytest.raises(openai.APIConnectionError):
            future.result(timeout=10)
    health = httpx.get(server.base + "/health").json()
    assert health["status"] == "ok"  # the server goes on


def test_the_responses_api_gets_an_injected_429_too(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.responses.create, model="m", input="Hello?")
        [exchange] = operator.wait_for(1)
        operator.fail(exchange["id"], status=429).raise_for_status()
        with pytest.raises(openai.RateLimitError):
            future.result(timeout=10)


def test_only_provider_statuses_can_be_injected(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.chat.completions.create, model="m", messages=ASK)
        [exchange] = operator.wait_for(1)
        assert operator.fail(exchange["id"], status=418).status_code == 400
        operator.reply(exchange["id"], "Fine.").raise_for_status()
        assert future.result(timeout=10).choices[0].message.content == "Fine."


def test_the_csv_export_names_injected_errors_and_tool_calls(server, operator):
    import csv
    import io
    import json

    from typer.testing import CliRunner

    from human_chat_completions.cli import app

    tools = [{"type": "function", "function": {"name": "ping", "parameters": {"type": "object"}}}]
    with ThreadPoolExecutor(2) as pool, client(server) as api:
        failing = pool.submit(api.chat.completions.create, model="m", messages=ASK)
        [first] = operator.wait_for(1)
        operator.fail(first["id"], status=529).raise_for_status()
        calling = pool.submit(api.chat.completions.create, model="m", tools=tools,
                              messages=[{"role": "user", "content": "ping it"}])
        [second] = operator.wait_for(1)
        operator.call_tools(second["id"], [{"name": "ping", "arguments": {}}]).raise_for_status()
        calling.result(timeout=10)
        with pytest.raises(openai.InternalServerError):
            failing.result(timeout=10)
    exported = CliRunner().invoke(app, ["logs", "export", "-f", "csv", "--include-unfinished",
                                        "--data-dir", str(server.data_dir)])
    assert exported.exit_code == 0, exported.output
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(exported.stdout))}
    assert rows[first["id"]]["injected_error"] == "529"
    assert json.loads(rows[second["id"]]["tool_calls"])[0]["function"]["name"] == "ping"


def test_an_armed_failure_meets_the_next_streamed_request_with_its_status(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.chat.completions.create, model="m", messages=ASK, user="p1")
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], "Hi.").raise_for_status()
        future.result(timeout=10)
        thread = exchange["conversation"]["id"]
        armed = operator.http.post(f"/conversations/{thread}/fail-next", json={"status": 429})
        assert armed.json()["armed_failure"]["status"] == 429
        follow_up = [*ASK, {"role": "assistant", "content": "Hi."}, {"role": "user", "content": "More?"}]
        with pytest.raises(openai.RateLimitError) as raised:
            api.chat.completions.create(model="m", messages=follow_up, user="p1", stream=True)
        assert raised.value.response.headers["retry-after"] == "1"
        # Armed once: the request after it reaches the operator again.
        future = pool.submit(api.chat.completions.create, model="m", messages=follow_up, user="p1")
        [again] = operator.wait_for(1)
        operator.reply(again["id"], "Here.").raise_for_status()
        assert future.result(timeout=10).choices[0].message.content == "Here."
    failed = operator.exchanges("failed")
    assert [(r["conversation"]["id"], r["injected_error"]) for r in failed] == [(thread, "429")]
    conversation = next(c for c in operator.http.get("/conversations").json() if c["id"] == thread)
    assert conversation["armed_failure"] is None


def test_an_armed_drop_cuts_the_next_request_and_can_be_disarmed(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.chat.completions.create, model="m", messages=ASK, user="p2")
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], "Hi.").raise_for_status()
        future.result(timeout=10)
        thread = exchange["conversation"]["id"]
        operator.http.post(f"/conversations/{thread}/fail-next", json={"drop": True}).raise_for_status()
        with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
            list(api.chat.completions.create(model="m", messages=ASK, user="p2", stream=True))
        operator.http.post(f"/conversations/{thread}/fail-next", json={"status": 500}).raise_for_status()
        operator.http.delete(f"/conversations/{thread}/fail-next").raise_for_status()
        future = pool.submit(api.chat.completions.create, model="m", messages=ASK, user="p2")
        [again] = operator.wait_for(1)
        operator.reply(again["id"], "Fine.").raise_for_status()
        assert future.result(timeout=10).choices[0].message.content == "Fine."
    assert operator.http.post("/conversations/conv_nope/fail-next", json={}).status_code == 404


@dataclass
class LongWait:
    running: RunningServer
    operator: Operator
    exchange: dict
    answer: Future  # the official client's non-stream call, still waiting


@contextmanager
def waiting_past_the_headers(tmp_path: Path, retries: int) -> Iterator[LongWait]:
    """A non-stream request by the official client that waited long enough for its 200 to have
    gone out (nonstream_headers_after): whatever happens now can no longer change its status."""
    settings = Settings(nonstream_headers_after=0.1, keepalive_seconds=0.1)
    with RunningServer(tmp_path / "data", settings) as running, ThreadPoolExecutor(1) as pool, \
            closing(Operator(running.base)) as operator, client(running, retries=retries) as api:
        answer = pool.submit(api.chat.completions.create, model="m", messages=ASK)
        [exchange] = operator.wait_for(1)
        time.sleep(0.3)  # past nonstream_headers_after: the 200 has gone out
        yield LongWait(running, operator, exchange, answer)


def test_an_injected_error_after_a_long_wait_reaches_the_client_through_its_retry(tmp_path):
    """The response started early (headers went out while the operator thought), so its status
    is fixed: the connection is cut, and the client's retry gets the real 429."""
    with waiting_past_the_headers(tmp_path, retries=1) as wait:
        wait.operator.fail(wait.exchange["id"], status=429).raise_for_status()
        with pytest.raises(openai.RateLimitError):
            wait.answer.result(timeout=10)
        assert [r["injected_error"] for r in wait.operator.exchanges("failed")] == ["429", "429"]


def test_a_decline_after_a_long_wait_reaches_the_client_as_the_502_not_an_empty_answer(tmp_path):
    """The operator declines (no injected status) after the 200 went out: an error body under
    that 200 would parse as an answer without choices. The connection is cut instead, and the
    client's retry gets the 502 at once, without the operator declining it again."""
    with waiting_past_the_headers(tmp_path, retries=2) as wait:
        wait.operator.fail(wait.exchange["id"], message="Not today.").raise_for_status()
        with pytest.raises(openai.InternalServerError) as raised:
            wait.answer.result(timeout=10)
        assert raised.value.status_code == 502 and "Not today." in raised.value.message
        failed = wait.operator.exchanges("failed")
        assert [r["notice_code"] for r in failed] == [None, "declined_retry"]  # 502 says: no more
        assert [r["injected_error"] for r in failed] == [None, None]  # nobody injected it
        assert wait.operator.exchanges("waiting") == []


def test_a_shutdown_during_a_long_wait_is_a_network_error_for_the_client(tmp_path):
    """The server going away after the 200 went out: the client is told by a cut connection,
    never by a body it would read as an answer."""
    with waiting_past_the_headers(tmp_path, retries=0) as wait:
        wait.running.on_loop(lambda: wait.running.runtime.switchboard.fail_all_open("going away"))
        with pytest.raises(openai.APIConnectionError):
            wait.answer.result(timeout=10)


def test_a_remembered_decline_meets_only_its_own_clients_retry(server, operator):
    """A decline is kept for the retry of the same request by the same key: another
    participant's key sending the very same body, even marked as a retry, reaches the operator."""
    retry = {"x-stainless-retry-count": "1"}
    with httpx.Client(base_url=server.base, timeout=10) as http, ThreadPoolExecutor(2) as pool:
        first = pool.submit(http.post, "/v1/chat/completions", json={"model": "m", "messages": ASK},
                            headers={"Authorization": "Bearer sk-ann"})
        [exchange] = operator.wait_for(1)
        operator.fail(exchange["id"], message="Not today.").raise_for_status()
        assert first.result(10).status_code == 502
        again = http.post("/v1/chat/completions", json={"model": "m", "messages": ASK},
                          headers={"Authorization": "Bearer sk-ann", **retry})
        assert again.status_code == 502 and again.json()["error"]["message"] == "Not today."
        other = pool.submit(http.post, "/v1/chat/completions", json={"model": "m", "messages": ASK},
                            headers={"Authorization": "Bearer sk-ben", **retry})
        [waiting] = operator.wait_for(1, outcome="waiting")
        operator.reply(waiting["id"], "Hello, Ben.").raise_for_status()
        assert other.result(10).json()["choices"][0]["message"]["content"] == "Hello, Ben."
