"""Anthropic's Messages API with the official `anthropic` SDK and LangChain's ChatAnthropic,
against a running server: text and streams, content blocks, tool use round trips, injected
failures, Anthropic-shaped errors, count_tokens."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import anthropic
import httpx
import httpx2  # the anthropic SDK's HTTP client: a cut stream surfaces as its error
import pytest

from human_chat_completions.config import Settings
from tests.compat.answering import ANSWER, PIECES, VERSIONS, answer, answered_call
from tests.support import Operator, RunningServer, wait_until

pytestmark = pytest.mark.compat
T = TypeVar("T")

MODEL = "claude-human"  # not a real model: the SDK warns about deprecated real ones
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                                                      "days": {"type": "integer", "minimum": 1}},
                     "required": ["city"]},
}
# A 1×1 PNG: enough for a client to send an image block.
PIXEL = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()


@pytest.fixture(autouse=True, scope="module")
def versions() -> None:
    for name in ("anthropic", "langchain-anthropic"):
        VERSIONS[name] = version(name)


@pytest.fixture
def client(server: RunningServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.base, api_key="k", max_retries=0) as api:
        yield api


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[tuple[RunningServer, Operator]]:
    """A server that pings every 0.1 s and starts non-stream responses at once."""
    settings = Settings(keepalive_seconds=0.1, nonstream_headers_after=0)
    with RunningServer(tmp_path / "quick", settings) as running:
        operator = Operator(running.base)
        yield running, operator
        operator.close()


def acted_call(operator: Operator, call: Callable[[], T], act: Callable[[dict[str, Any]], Any]) -> tuple[T, dict]:
    """Run a client call in a thread; when its exchange waits, `act` on it as the operator."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(call)
        exchange = operator.wait_for(1, timeout=60)[-1]
        act(exchange)
        return future.result(timeout=60), exchange


def calls_weather(operator: Operator, city: str = "Paris") -> Callable[[dict[str, Any]], None]:
    def act(exchange: dict[str, Any]) -> None:
        operator.call_tools(exchange["id"], [{"name": "get_weather", "arguments": {"city": city}}]
                            ).raise_for_status()
    return act


def events_of(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each SSE event; the data's `type` always repeats the name."""
    found = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        data = json.loads(fields["data"])
        assert data["type"] == fields["event"]
        found.append((fields["event"], data))
    return found


def raw_stream(base: str, body: dict[str, Any], **headers: str) -> tuple[int, str]:
    with httpx.stream("POST", base + "/v1/messages", json={**body, "stream": True}, timeout=60,
                      headers={"x-api-key": "k", "anthropic-version": "2023-06-01", **headers}) as response:
        return response.status_code, response.read().decode()


# -- text ------------------------------------------------------------------------------------------


def test_non_stream_text(server, operator, client):
    message, exchange = answered_call(operator, lambda: client.messages.create(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "Hello, Claude"}]))
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == ANSWER
    assert (message.role, message.model, message.stop_reason) == ("assistant", MODEL, "end_turn")
    assert message.id.startswith("msg_")
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert exchange["user_input"] == "Hello, Claude" and exchange["stream"] is False
    request = server.runtime.switchboard.get(exchange["id"]).request
    assert request["max_tokens"] == 256 and request["anthropic_request"]["model"] == MODEL


def test_stream_text_and_final_message(server, operator, client):
    def call() -> tuple[list[str], anthropic.types.Message]:
        with client.messages.stream(model=MODEL, max_tokens=64,
                                    messages=[{"role": "user", "content": "Stream it"}]) as stream:
            return list(stream.text_stream), stream.get_final_message()

    (texts, final), exchange = answered_call(operator, call)
    assert texts == PIECES
    assert final.content[0].text == ANSWER and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    assert exchange["stream"] is True


def test_raw_event_sequence_with_pings(quick):
    server, operator = quick

    def act(exchange: dict[str, Any]) -> None:
        time.sleep(0.35)  # pings flow while nobody answers
        answer(operator, ["Hi ", "there"])

    (status, body), _ = acted_call(operator, lambda: raw_stream(
        server.base, {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]},
        **{"anthropic-beta": "tools-2024-04-04"}), act)
    assert status == 200
    events = events_of(body)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "message_start" and "ping" in kinds
    assert [kind for kind in kinds if kind != "ping"] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert (start["content"], start["stop_reason"], start["model"]) == ([], None, MODEL)
    data = [data for kind, data in events if kind != "ping"]
    assert data[1]["content_block"] == {"type": "text", "text": ""} and data[1]["index"] == 0
    assert [d["delta"] for d in data[2:4]] == [{"type": "text_delta", "text": "Hi "},
                                               {"type": "text_delta", "text": "there"}]
    assert data[5]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert data[5]["usage"]["output_tokens"] > 0


def test_late_non_stream_body_parses(quick):
    """A non-stream answer that takes a while starts with whitespace; the SDK still reads it."""
    server, operator = quick
    with anthropic.Anthropic(base_url=server.base, api_key="k", max_retries=0) as api:
        message, _ = answered_call(operator, lambda: api.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "slow"}]))
    assert message.content[0].text == ANSWER


def test_system_prompt_and_image_reach_the_exchange(server, operator, client):
    message, exchange = answered_call(operator, lambda: client.messages.create(
        model=MODEL, max_tokens=50, stop_sequences=["END"], extra_body={"temperature": 0.3},
        metadata={"user_id": "participant-9"},
        system=[{"type": "text", "text": "You are a tutor."}, {"type": "text", "text": "Be brief."}],
        messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
            {"type": "image", "source": {"type": "url", "url": "https://example.org/cat.jpg"}},
            {"type": "text", "text": "What is in these pictures?"}]}]))
    assert message.content[0].text == ANSWER
    request = server.runtime.switchboard.get(exchange["id"]).request
    assert request["messages"][0] == {"role": "system", "content": "You are a tutor.\nBe brief."}
    assert request["messages"][1]["content"] == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg"}},
        {"type": "text", "text": "What is in these pictures?"}]
    assert (request["temperature"], request["stop"], request["user"]) == (0.3, ["END"], "participant-9")
    assert exchange["user_input"] == "What is in these pictures?"
    assert exchange["conversation"]["identity"] == "participant-9"


# -- tool use -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_tool_use_round_trip(server, operator, client, stream):
    question = [{"role": "user", "content": "Weather in Paris?"}]

    def ask(messages: list[dict[str, Any]]) -> anthropic.types.Message:
        kwargs: dict[str, Any] = {"model": MODEL, "max_tokens": 100, "tools": [WEATHER], "messages": messages}
        if not stream:
            return client.messages.create(**kwargs)
        with client.messages.stream(**kwargs) as events:
            return events.get_final_message()

    first, asked = acted_call(operator, lambda: ask(question), calls_weather(operator))
    assert first.stop_reason == "tool_use"
    assert [block.type for block in first.content] == ["tool_use"]  # no empty text block
    use = first.content[0]
    assert (use.name, use.input) == ("get_weather", {"city": "Paris"})
    request = server.runtime.switchboard.get(asked["id"]).request
    assert request["tools"][0]["function"]["parameters"] == WEATHER["input_schema"]

    follow_up = [*question, {"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                               "content": "18°C and sunny"}]}]
    final, answered = answered_call(operator, lambda: ask(follow_up))
    assert final.content[0].text == ANSWER and final.stop_reason == "end_turn"
    assert answered["conversation"]["id"] == asked["conversation"]["id"]
    messages = server.runtime.switchboard.get(answered["id"]).request["messages"]
    assert messages[1]["tool_calls"][0]["id"] == use.id
    assert json.loads(messages[1]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert messages[-1] == {"role": "tool", "tool_call_id": use.id, "content": "18°C and sunny"}


def test_streamed_tool_use_events(server, operator):
    def act(exchange: dict[str, Any]) -> None:
        operator.call_tools(exchange["id"], [
            {"name": "get_weather", "arguments": {"city": "Reykjavík", "days": 3}},
            {"name": "get_weather", "arguments": {"city": "Kyoto"}}], text="Checking both.").raise_for_status()

    (status, body), _ = acted_call(operator, lambda: raw_stream(server.base, {
        "model": MODEL, "max_tokens": 100, "tools": [WEATHER], "tool_choice": {"type": "any"},
        "messages": [{"role": "user", "content": "Weather?"}]}), act)
    events = [(kind, data) for kind, data in events_of(body) if kind != "ping"]
    starts = [data for kind, data in events if kind == "content_block_start"]
    assert [(s["index"], s["content_block"]["type"]) for s in starts] == [(0, "text"), (1, "tool_use"),
                                                                          (2, "tool_use")]
    assert starts[1]["content_block"]["input"] == {} and starts[1]["content_block"]["name"] == "get_weather"
    for index, expected in ((1, {"city": "Reykjavík", "days": 3}), (2, {"city": "Kyoto"})):
        partial = "".join(data["delta"]["partial_json"] for kind, data in events
                          if kind == "content_block_delta" and data["index"] == index)
        assert json.loads(partial) == expected
    stops = [data["index"] for kind, data in events if kind == "content_block_stop"]
    assert stops == [0, 1, 2]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use" and events[-1][0] == "message_stop"


def test_tool_choice_and_invalid_arguments_get_422(server, operator, client):
    def act(exchange: dict[str, Any]) -> None:
        bad = operator.call_tools(exchange["id"], [{"name": "get_weather", "arguments": {"days": 0}}])
        assert bad.status_code == 422 and "city" in bad.text
        text_only = operator.reply(exchange["id"], "No tool for you.")
        assert text_only.status_code == 422  # tool_choice {"type": "tool"} requires the call
        calls_weather(operator, "Oslo")(exchange)

    message, exchange = acted_call(operator, lambda: client.messages.create(
        model=MODEL, max_tokens=100, tools=[WEATHER], tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "Weather in Oslo?"}]), act)
    assert message.content[0].input == {"city": "Oslo"}
    request = server.runtime.switchboard.get(exchange["id"]).request
    assert request["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_structured_output_is_checked_and_parsed(server, operator, client):
    from pydantic import BaseModel

    class Forecast(BaseModel):
        city: str
        celsius: int

    def act(exchange: dict[str, Any]) -> None:
        assert operator.reply(exchange["id"], '{"city": "Paris"}').status_code == 422
        operator.reply(exchange["id"], '{"city": "Paris", "celsius": 18}').raise_for_status()

    message, exchange = acted_call(operator, lambda: client.messages.parse(
        model=MODEL, max_tokens=50, output_format=Forecast,
        messages=[{"role": "user", "content": "Forecast for Paris"}]), act)
    assert message.parsed_output == Forecast(city="Paris", celsius=18)
    request = server.runtime.switchboard.get(exchange["id"]).request
    assert request["response_format"]["json_schema"]["schema"]["required"] == ["city", "celsius"]


# -- failures and errors ----------------------------------------------------------------------------


def test_injected_429_is_a_rate_limit_error(operator, client):
    with pytest.raises(anthropic.RateLimitError) as caught:
        acted_call(operator, lambda: client.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "busy?"}]),
            lambda exchange: operator.fail(exchange["id"], status=429).raise_for_status())
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.body == {"type": "error", "error": {
        "type": "rate_limit_error", "message": "Rate limit reached. Please try again later."}}
    assert operator.exchanges()[-1]["injected_error"] == "429"


def test_the_sdks_retry_of_an_injected_429_gets_the_same(server, operator):
    with anthropic.Anthropic(base_url=server.base, api_key="k", max_retries=1) as api:
        with pytest.raises(anthropic.RateLimitError):
            acted_call(operator, lambda: api.messages.create(
                model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "busy?"}]),
                lambda exchange: operator.fail(exchange["id"], status=429).raise_for_status())
    first, retry = operator.exchanges()
    assert (first["injected_error"], retry["injected_error"]) == ("429", "429")
    assert retry["notice_code"] == "injected_retry"


def test_injected_429_after_the_headers_went_out_reaches_the_retry(quick):
    """A late failure cannot change the status: the cut makes the SDK retry, and the retry gets
    the injected error with its status."""
    server, operator = quick

    def act(exchange: dict[str, Any]) -> None:
        time.sleep(0.2)  # the headers are out at once on this server
        operator.fail(exchange["id"], status=429).raise_for_status()

    with anthropic.Anthropic(base_url=server.base, api_key="k", max_retries=1) as api:
        with pytest.raises(anthropic.RateLimitError):
            acted_call(operator, lambda: api.messages.create(
                model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "late"}]), act)
    assert [record["injected_error"] for record in operator.exchanges()] == ["429", "429"]


def test_a_failure_armed_for_the_next_request_meets_a_stream_as_its_status(server, operator, client):
    ask = {"model": MODEL, "max_tokens": 10, "metadata": {"user_id": "p7"},
           "messages": [{"role": "user", "content": "hello"}]}
    _, exchange = answered_call(operator, lambda: client.messages.create(**ask))
    thread = exchange["conversation"]["id"]
    operator.http.post(f"/conversations/{thread}/fail-next", json={"status": 429}).raise_for_status()
    with pytest.raises(anthropic.RateLimitError) as caught:
        with client.messages.stream(**ask) as stream:
            list(stream.text_stream)
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.body["error"]["type"] == "rate_limit_error"


def test_injected_529_is_overloaded(operator, client):
    with pytest.raises(anthropic.OverloadedError) as caught:
        acted_call(operator, lambda: client.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "there?"}]),
            lambda exchange: operator.fail(exchange["id"], status=529, message="Overloaded").raise_for_status())
    assert isinstance(caught.value, anthropic.InternalServerError)
    assert caught.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_failure_mid_stream_is_an_error_event(server, operator, client):
    def act(exchange: dict[str, Any]) -> None:
        operator.reply(exchange["id"], "Partly ", done=False).raise_for_status()
        operator.fail(exchange["id"], status=529, message="Overloaded").raise_for_status()

    def call() -> list[str]:
        texts: list[str] = []
        with client.messages.stream(model=MODEL, max_tokens=10,
                                    messages=[{"role": "user", "content": "go"}]) as stream:
            texts.extend(stream.text_stream)
        return texts

    with pytest.raises(anthropic.APIStatusError) as caught:
        acted_call(operator, call, act)
    assert caught.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_dropped_connection_is_a_network_failure(server, operator, client):
    received: list[str] = []

    def read() -> None:
        with client.messages.stream(model=MODEL, max_tokens=10,
                                    messages=[{"role": "user", "content": "go"}]) as stream:
            received.extend(stream.text_stream)

    def act(exchange: dict[str, Any]) -> None:
        operator.reply(exchange["id"], "Half a thought", done=False).raise_for_status()
        wait_until(lambda: received)
        operator.fail(exchange["id"], drop=True).raise_for_status()

    with pytest.raises(httpx2.RemoteProtocolError):
        acted_call(operator, read, act)
    assert received == ["Half a thought"]
    with pytest.raises(anthropic.APIConnectionError):
        acted_call(operator, lambda: client.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "again"}]),
            lambda exchange: operator.fail(exchange["id"], drop=True).raise_for_status())
    assert [record["injected_error"] for record in operator.exchanges()] == ["drop", "drop"]


def test_bad_requests_get_anthropic_errors(server):
    def post(path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(server.base + path, json=body, headers={"x-api-key": "k"})

    missing = post("/v1/messages", {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert missing.status_code == 400
    assert missing.json() == {"type": "error", "error": {"type": "invalid_request_error",
                                                         "message": "max_tokens: Field required"}}
    system_role = post("/v1/messages", {"model": MODEL, "max_tokens": 5,
                                         "messages": [{"role": "system", "content": "hi"}]})
    assert system_role.status_code == 400
    assert system_role.json()["error"]["message"].startswith("messages.0.role:")
    broken = httpx.post(server.base + "/v1/messages", content=b"{not json", headers={"x-api-key": "k"})
    assert broken.status_code == 400 and broken.json()["type"] == "error"
    unknown = post("/v1/messages/batches/nope", {})
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found_error"
    # Other paths keep OpenAI's shape.
    assert "type" not in httpx.post(server.base + "/v1/chat/completions", json={}).json()


def test_sdk_bad_request_error(client):
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=0, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert caught.value.body["error"]["message"].startswith("max_tokens:")


def test_x_api_key_is_the_client_key(tmp_path):
    settings = Settings(client_api_keys=["sk-good"], participant_keys={"pk-01": "P01"})
    with RunningServer(tmp_path / "keys", settings) as server:
        count = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}

        def counted(**headers: str) -> httpx.Response:
            return httpx.post(server.base + "/v1/messages/count_tokens", json=count, headers=headers)

        assert counted(**{"x-api-key": "sk-good", "anthropic-version": "2023-06-01"}).status_code == 200
        assert counted(authorization="Bearer sk-good").status_code == 200
        for headers in ({"x-api-key": "sk-bad"}, {}):
            refused = counted(**headers)
            assert refused.status_code == 401
            assert refused.json()["error"]["type"] == "authentication_error"
        with anthropic.Anthropic(base_url=server.base, api_key="sk-bad", max_retries=0) as api:
            with pytest.raises(anthropic.AuthenticationError):
                api.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}])
        # A participant's key in x-api-key names the thread's owner.
        operator = Operator(server.base)
        (status, _), exchange = answered_call(operator, lambda: raw_stream(server.base, {
            "model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "me"}]},
            **{"x-api-key": "pk-01"}))
        operator.close()
        assert status == 200 and exchange["conversation"]["owner"] == "P01"


def test_count_tokens(client):
    short = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    longer = client.messages.count_tokens(
        model=MODEL, system="You are a very thorough assistant.", tools=[WEATHER],
        messages=[{"role": "user", "content": "Tell me about the weather in Paris, please." * 5}])
    assert 0 < short.input_tokens < longer.input_tokens


# -- LangChain's ChatAnthropic -----------------------------------------------------------------------


def chat_anthropic(server: RunningServer) -> Any:
    from langchain_anthropic import ChatAnthropic

    return ChatAnthropic(model=MODEL, base_url=server.base, api_key="k", max_retries=0)


def test_langchain_invoke_and_stream(server, operator):
    llm = chat_anthropic(server)
    message, exchange = answered_call(operator, lambda: llm.invoke("Hello from LangChain"))
    assert message.text == ANSWER and exchange["user_input"] == "Hello from LangChain"
    chunks, exchange = answered_call(operator, lambda: list(llm.stream("Stream from LangChain")))
    assert "".join(chunk.text for chunk in chunks) == ANSWER and exchange["stream"] is True


def test_langchain_bind_tools_round_trip(server, operator):
    from langchain_core.messages import HumanMessage, ToolMessage

    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "18°C"

    llm = chat_anthropic(server).bind_tools([get_weather])
    question = HumanMessage("Weather in Paris?")
    called, asked = acted_call(operator, lambda: llm.invoke([question]), calls_weather(operator))
    assert [(call["name"], call["args"]) for call in called.tool_calls] == [("get_weather", {"city": "Paris"})]
    result = ToolMessage("18°C and sunny", tool_call_id=called.tool_calls[0]["id"])
    final, answered = answered_call(operator, lambda: llm.invoke([question, called, result]))
    assert final.text == ANSWER
    assert answered["conversation"]["id"] == asked["conversation"]["id"]
    messages = server.runtime.switchboard.get(answered["id"]).request["messages"]
    assert messages[-1]["role"] == "tool" and messages[-1]["content"] == "18°C and sunny"
