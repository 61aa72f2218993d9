"""POST /api/chat and GET /api/tags driven by the official `ollama` Python client, answered by the
operator: text streamed and not, tool calls and their results, a JSON schema, injected errors."""

from __future__ import annotations

import base64
import json
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any

import httpx
import ollama
import pytest
from pydantic import BaseModel

from tests.compat.answering import ANSWER, PIECES, VERSIONS, answered_call
from tests.support import Operator, RunningServer, wait_until

pytestmark = pytest.mark.compat

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city now.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}}
# The smallest PNG: a 1×1 transparent pixel.
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


@pytest.fixture(autouse=True, scope="module")
def versions() -> None:
    VERSIONS["ollama"] = version("ollama")


def client(server: RunningServer, **kwargs: Any) -> ollama.Client:
    return ollama.Client(host=server.base, **kwargs)


def test_chat_non_stream(server, operator):
    with client(server) as api:
        response, exchange = answered_call(operator, lambda: api.chat(
            model="llama3.2", messages=[{"role": "user", "content": "What is the answer?"}], stream=False))
    assert response.message.role == "assistant" and response.message.content == ANSWER
    assert response.done is True and response.done_reason == "stop"
    assert response.model == "llama3.2"
    assert response.eval_count > 0 and response.prompt_eval_count > 0
    assert response.eval_duration > 0 and response.total_duration >= response.eval_duration
    assert exchange["stream"] is False
    assert exchange["request"]["messages"] == [{"role": "user", "content": "What is the answer?"}]
    assert server.runtime.switchboard.get(exchange["id"]).request["ollama_request"]["model"] == "llama3.2"


def test_chat_stream_piece_by_piece(server, operator):
    """Each piece reaches the client before the operator sends the next; the last line is done."""
    received: queue.Queue[ollama.ChatResponse] = queue.Queue()

    def read() -> None:
        with client(server) as api:
            for part in api.chat(model="m", messages=[{"role": "user", "content": "Stream it"}],
                                 stream=True):
                received.put(part)

    with ThreadPoolExecutor(1) as pool:
        reader = pool.submit(read)
        [exchange] = operator.wait_for(1)
        assert exchange["stream"] is True
        for index, piece in enumerate(PIECES):
            operator.reply(exchange["id"], piece, done=index == len(PIECES) - 1).raise_for_status()
            part = received.get(timeout=10)
            assert part.message.content == piece and part.done is False
        final = received.get(timeout=10)
        reader.result(10)
    assert final.done is True and final.done_reason == "stop" and final.message.content == ""
    assert final.eval_count > 0
    assert received.empty()


def test_list_show_and_raw_tags(server):
    with client(server) as api:
        listed = api.list()
        shown = api.show("human")
    assert [model.model for model in listed.models] == ["human"]
    assert listed.models[0].details.family == "human" and listed.models[0].modified_at is not None
    assert "tools" in shown.capabilities
    tags = httpx.get(server.base + "/api/tags").json()
    assert tags["models"][0]["name"] == "human" and len(tags["models"][0]["digest"]) == 64
    assert httpx.get(server.base + "/api/version").json()["version"]


@pytest.mark.parametrize("stream", [False, True], ids=["non_stream", "stream"])
def test_tools_round_trip_threads_into_one_conversation(server, operator, stream):
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]

    def ask() -> ollama.ChatResponse:
        with client(server) as api:
            if not stream:
                return api.chat(model="m", messages=messages, tools=[WEATHER_TOOL], stream=False)
            parts = list(api.chat(model="m", messages=messages, tools=[WEATHER_TOOL], stream=True))
            calls = [call for part in parts for call in part.message.tool_calls or []]
            assert parts[-1].done is True
            return ollama.ChatResponse(model=parts[-1].model, done=True, message=ollama.Message(
                role="assistant", content="".join(p.message.content or "" for p in parts),
                tool_calls=calls or None))

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(ask)
        [first] = operator.wait_for(1)
        operator.call_tools(first["id"], [{"name": "get_weather", "arguments": {"city": "Paris"}}]
                            ).raise_for_status()
        called = future.result(10)
    [call] = called.message.tool_calls
    assert call.function.name == "get_weather" and call.function.arguments == {"city": "Paris"}

    messages.append(called.message)
    messages.append({"role": "tool", "content": "22 °C, sunny", "tool_name": "get_weather"})
    answer, second = answered_call(operator, ask, pieces=["It is 22 °C ", "and sunny."])
    assert answer.message.content == "It is 22 °C and sunny."
    assert second["conversation"]["id"] == first["conversation"]["id"]
    made = operator.exchange(first["id"])["tool_calls"]
    assert second["request"]["messages"][1]["tool_calls"][0]["id"] == made[0]["id"]
    assert second["request"]["messages"][2] == {
        "role": "tool", "tool_call_id": made[0]["id"], "content": "22 °C, sunny"}


def test_tool_arguments_against_the_schema_are_refused(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(lambda: api.chat(
            model="m", messages=[{"role": "user", "content": "w"}], tools=[WEATHER_TOOL], stream=False))
        [exchange] = operator.wait_for(1)
        refused = operator.call_tools(exchange["id"], [{"name": "get_weather", "arguments": {}}])
        assert refused.status_code == 422 and "city" in refused.text
        operator.call_tools(exchange["id"], [{"name": "get_weather", "arguments": {"city": "Oslo"}}])
        assert future.result(10).message.tool_calls[0].function.arguments == {"city": "Oslo"}


class Capital(BaseModel):
    country: str
    capital: str


@pytest.mark.parametrize("fmt", ["schema", "json"])
def test_format_answer_is_validated_then_parses(server, operator, fmt):
    wanted = Capital.model_json_schema() if fmt == "schema" else "json"
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(lambda: api.chat(
            model="m", messages=[{"role": "user", "content": "Capital of Japan?"}], format=wanted,
            stream=False))
        [exchange] = operator.wait_for(1)
        assert operator.reply(exchange["id"], "Tokyo, I think").status_code == 422
        if fmt == "schema":
            assert operator.reply(exchange["id"], '{"country": "Japan"}').status_code == 422
        operator.reply(exchange["id"], '{"country": "Japan", "capital": "Tokyo"}').raise_for_status()
        response = future.result(10)
    assert Capital.model_validate_json(response.message.content) == Capital(country="Japan", capital="Tokyo")
    kind = "json_schema" if fmt == "schema" else "json_object"
    assert exchange["request"]["response_format"]["type"] == kind


@pytest.mark.parametrize("stream", [False, True], ids=["non_stream", "stream"])
def test_injected_500_reaches_the_client_as_response_error(server, operator, stream):
    def ask() -> Any:
        with client(server) as api:
            result = api.chat(model="m", messages=[{"role": "user", "content": "x"}], stream=stream)
            return list(result) if stream else result

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(ask)
        [exchange] = operator.wait_for(1)
        operator.fail(exchange["id"], status=500, message="The model crashed.").raise_for_status()
        with pytest.raises(ollama.ResponseError) as raised:
            future.result(10)
    assert raised.value.status_code == 500 and raised.value.error == "The model crashed."
    assert operator.exchange(exchange["id"])["injected_error"] == "500"
    assert len(operator.exchanges()) == 1  # no retry put it in front of the operator again


def test_failure_mid_stream_is_an_error_line(server, operator):
    received: list[str] = []

    def read() -> None:
        with client(server) as api:
            for part in api.chat(model="m", messages=[{"role": "user", "content": "x"}], stream=True):
                received.append(part.message.content)

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(read)
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], "Half an ans", done=False).raise_for_status()
        wait_until(lambda: received)
        operator.fail(exchange["id"], status=503, message="Overloaded.").raise_for_status()
        with pytest.raises(ollama.ResponseError) as raised:
            future.result(10)
    assert received == ["Half an ans"] and raised.value.error == "Overloaded."


def test_dropped_connection_reaches_the_client_as_a_network_error(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(lambda: list(api.chat(model="m", messages=[{"role": "user", "content": "x"}], stream=True)))
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], "Start", done=False).raise_for_status()
        operator.fail(exchange["id"], drop=True).raise_for_status()
        with pytest.raises(httpx.RemoteProtocolError):
            future.result(10)


def test_images_become_image_parts(server, operator):
    with client(server) as api:
        response, exchange = answered_call(operator, lambda: api.chat(model="llava", stream=False, messages=[
            {"role": "user", "content": "What is this?", "images": [PIXEL]}]))
    assert response.message.content == ANSWER
    text, image = exchange["request"]["messages"][0]["content"]
    assert text == {"type": "text", "text": "What is this?"}
    assert image["type"] == "image_url"
    assert image["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(PIXEL).decode()


def test_participant_key_as_a_bearer_header(tmp_path):
    from human_chat_completions.config import Settings

    with RunningServer(tmp_path / "data", Settings(participant_keys={"pk-alice": "alice"})) as running:
        operator = Operator(running.base)
        with client(running) as anonymous, pytest.raises(ollama.ResponseError) as refused:
            anonymous.chat(model="m", messages=[{"role": "user", "content": "x"}], stream=False)
        assert refused.value.status_code == 401 and "API key" in refused.value.error
        with client(running, headers={"Authorization": "Bearer pk-alice"}) as api:
            response, exchange = answered_call(operator, lambda: api.chat(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=False))
        assert response.message.content == ANSWER
        assert exchange["conversation"]["owner"] == "alice"
        operator.close()


def test_long_silent_wait_before_the_first_piece(tmp_path):
    """Nothing is sent while the operator thinks (Ollama's clients read every line as JSON), and
    the wait outlasts the server's idle-connection timeout without being cut."""
    from human_chat_completions.config import Settings

    with RunningServer(tmp_path / "data", Settings(idle_connection_seconds=1)) as running:
        operator = Operator(running.base)
        with client(running) as api, ThreadPoolExecutor(1) as pool:
            future = pool.submit(lambda: list(api.chat(model="m", messages=[{"role": "user", "content": "x"}], stream=True)))
            [exchange] = operator.wait_for(1)
            time.sleep(2.5)
            operator.reply(exchange["id"], "Finally.").raise_for_status()
            parts = future.result(10)
        assert [part.message.content for part in parts] == ["Finally.", ""]
        operator.close()


@pytest.mark.parametrize(("body", "fragment"), [
    ({"messages": [{"role": "user", "content": "x"}]}, "model is required"),
    ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "role"),
    ({"model": "m", "messages": "hello"}, "messages"),
])
def test_bad_requests_get_ollama_errors_and_open_nothing(server, operator, body, fragment):
    response = httpx.post(server.base + "/api/chat", json=body)
    assert response.status_code == 400
    assert list(response.json()) == ["error"] and fragment in response.json()["error"]
    broken = httpx.post(server.base + "/api/chat", content=b"{not json")
    assert broken.status_code == 400 and isinstance(broken.json()["error"], str)
    assert operator.exchanges() == []


def test_chat_without_messages_is_a_load(server, operator):
    response = httpx.post(server.base + "/api/chat", json={"model": "m"})
    assert response.json()["done_reason"] == "load" and response.json()["done"] is True
    assert operator.exchanges() == []


def test_streams_by_default_in_ndjson_lines(server, operator):
    """Ollama streams when `stream` is absent (its Python client always says which it wants)."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: httpx.post(server.base + "/api/chat", timeout=10, json={
            "model": "m", "messages": [{"role": "user", "content": "raw"}]}))
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], "ok").raise_for_status()
        response = future.result(10)
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(text) for text in response.text.splitlines()]
    assert [line["done"] for line in lines] == [False, True]
    assert lines[0]["message"] == {"role": "assistant", "content": "ok"}
    assert lines[0]["created_at"].endswith("Z")
    assert set(lines[1]) >= {"total_duration", "load_duration", "prompt_eval_count",
                             "prompt_eval_duration", "eval_count", "eval_duration", "done_reason"}


def test_headers_go_out_after_a_bound_then_failure_is_an_error_line(server, operator, monkeypatch):
    """Past HEADERS_WITHIN the stream starts (a 200, nothing in it yet) and a later failure is
    an error line, as Ollama reports a failure mid-stream."""
    from human_chat_completions.api import ollama_api

    monkeypatch.setattr(ollama_api, "HEADERS_WITHIN", 0.2)
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    with httpx.Client(base_url=server.base, timeout=10) as http, http.stream(
            "POST", "/api/chat", json=body) as response:
        assert response.status_code == 200  # the headers came while the operator still waits
        [exchange] = operator.wait_for(1)
        operator.fail(exchange["id"], status=429, message="Slow down.").raise_for_status()
        assert [json.loads(text) for text in response.iter_lines()] == [{"error": "Slow down."}]


def test_long_non_stream_wait_sends_whitespace_then_the_answer(server, operator, monkeypatch):
    from human_chat_completions.api import ollama_api

    monkeypatch.setattr(ollama_api, "HEADERS_WITHIN", 0.2)
    with httpx.Client(base_url=server.base, timeout=10) as http, http.stream("POST", "/api/chat", json={
            "model": "m", "messages": [{"role": "user", "content": "x"}], "stream": False}) as response:
        assert response.status_code == 200
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], "late but parsed").raise_for_status()
        text = response.read().decode()
    assert text.startswith("\n") and json.loads(text)["message"]["content"] == "late but parsed"


@pytest.mark.parametrize("stream", [False, True], ids=["non_stream", "stream"])
def test_client_that_gives_up_while_waiting_abandons_the_exchange(server, operator, stream):
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.base + "/api/chat", timeout=0.5, json={
            "model": "m", "messages": [{"role": "user", "content": "x"}], "stream": stream})
    wait_until(lambda: operator.exchanges("abandoned"))


def test_a_follow_up_continues_the_conversation(server, operator):
    history: list[Any] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    with client(server) as api:
        first, asked = answered_call(operator, lambda: api.chat(model="m", messages=history, stream=False))
        history += [first.message, {"role": "user", "content": "And then?"}]
        _, followed = answered_call(operator, lambda: list(api.chat(model="m", messages=history, stream=True)))
    assert followed["conversation"]["id"] == asked["conversation"]["id"]
    assert followed["user_input"] == "And then?"


def test_conversation_header_names_the_thread(server, operator):
    with client(server, headers={"X-Conversation-Id": "room-7"}) as api:
        _, exchange = answered_call(operator, lambda: api.chat(
            model="m", messages=[{"role": "user", "content": "hello"}], stream=False))
    assert exchange["conversation"]["identity"] == "room-7"
