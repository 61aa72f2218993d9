"""Tool calls from the operator, through the official openai client: stream and not, arguments
checked against the tool's schema, and the follow-up with the results in the same thread."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from tests.support import Operator, RunningServer

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city now.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1},
            },
            "required": ["city"],
        },
    },
}
ASK = [{"role": "user", "content": "What is the weather in Kyoto?"}]


def client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base + "/v1", api_key="sk-x", max_retries=0)


def round_trip(server: RunningServer, operator: Operator, stream: bool) -> None:
    """Tool call → the app runs it → tool result → the operator's final text, one thread."""
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        def ask(messages):
            if not stream:
                return api.chat.completions.create(model="m", messages=messages, tools=[WEATHER])
            with api.chat.completions.stream(model="m", messages=messages, tools=[WEATHER]) as events:
                for _ in events:
                    pass
                return events.get_final_completion()

        future = pool.submit(ask, ASK)
        [first] = operator.wait_for(1)
        assert first["request"]["tools"] == [WEATHER]
        operator.call_tools(first["id"], [{"name": "get_weather",
                                           "arguments": {"city": "Kyoto", "unit": "celsius"}}],
                            text="Let me check.").raise_for_status()
        completion = future.result(timeout=10)
        choice = completion.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content == "Let me check."
        [call] = choice.message.tool_calls
        assert call.id.startswith("call_") and call.function.name == "get_weather"
        assert json.loads(call.function.arguments) == {"city": "Kyoto", "unit": "celsius"}

        follow_up = [*ASK, choice.message.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "clear", "c": 21}'}]
        future = pool.submit(ask, follow_up)
        [second] = operator.wait_for(1)
        assert second["conversation"]["id"] == first["conversation"]["id"]
        assert second["request"]["messages"][-1]["content"] == '{"sky": "clear", "c": 21}'
        operator.reply(second["id"], "It is clear in Kyoto, 21 °C.").raise_for_status()
        assert future.result(timeout=10).choices[0].message.content == "It is clear in Kyoto, 21 °C."
    done = operator.exchanges("done")
    assert done[0]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert done[0]["finish_reason"] == "tool_calls"


def test_a_tool_call_round_trip_without_streaming(server, operator):
    round_trip(server, operator, stream=False)


def test_a_tool_call_round_trip_streamed(server, operator):
    round_trip(server, operator, stream=True)


def test_two_tool_calls_in_one_answer_stream_as_indexed_deltas(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(lambda: list(api.chat.completions.create(
            model="m", messages=ASK, tools=[WEATHER], stream=True)))
        [exchange] = operator.wait_for(1)
        operator.call_tools(exchange["id"], [
            {"name": "get_weather", "arguments": {"city": "Kyoto"}},
            {"name": "get_weather", "arguments": {"city": "Osaka", "days": 3}},
        ]).raise_for_status()
        chunks = future.result(timeout=10)
    calls: dict[int, dict] = {}
    for chunk in chunks:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = call["id"] or delta.id
            call["name"] += delta.function.name or ""
            call["arguments"] += delta.function.arguments or ""
    assert [json.loads(calls[i]["arguments"]) for i in (0, 1)] == [
        {"city": "Kyoto"}, {"city": "Osaka", "days": 3}]
    assert calls[0]["id"] != calls[1]["id"]
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.tool_calls) > 2  # in pieces
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(("arguments", "field"), [
    ({}, "tool_calls[0].arguments.city"),
    ({"city": "Kyoto", "unit": "kelvin"}, "tool_calls[0].arguments.unit"),
    ({"city": "Kyoto", "days": 0}, "tool_calls[0].arguments.days"),
])
def test_arguments_the_schema_refuses_get_422_naming_the_field(server, operator, arguments, field):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.chat.completions.create, model="m", messages=ASK, tools=[WEATHER])
        [exchange] = operator.wait_for(1)
        refused = operator.call_tools(exchange["id"], [{"name": "get_weather", "arguments": arguments}])
        assert refused.status_code == 422
        assert refused.json()["error"]["param"] == field
        assert refused.json()["error"]["code"] == "answer_invalid"
        assert operator.exchange(exchange["id"])["outcome"] == "waiting"  # nothing was sent
        operator.call_tools(exchange["id"], [{"name": "get_weather", "arguments": arguments}],
                            force=True).raise_for_status()
        sent = future.result(timeout=10).choices[0].message.tool_calls[0]
    assert json.loads(sent.function.arguments) == arguments


def test_an_unknown_tool_and_a_text_answer_to_a_required_tool_are_refused(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.chat.completions.create, model="m", messages=ASK, tools=[WEATHER],
                             tool_choice={"type": "function", "function": {"name": "get_weather"}})
        [exchange] = operator.wait_for(1)
        unknown = operator.call_tools(exchange["id"], [{"name": "book_flight", "arguments": {}}])
        assert unknown.status_code == 422 and "book_flight" in unknown.json()["error"]["message"]
        text_only = operator.reply(exchange["id"], "Sunny, I think.")
        assert text_only.status_code == 422 and text_only.json()["error"]["param"] == "tool_calls"
        operator.call_tools(exchange["id"], [{"name": "get_weather", "arguments": {"city": "Kyoto"}}]
                            ).raise_for_status()
        assert future.result(timeout=10).choices[0].finish_reason == "tool_calls"


def test_tool_calls_must_finish_the_reply(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.chat.completions.create, model="m", messages=ASK, tools=[WEATHER])
        [exchange] = operator.wait_for(1)
        unfinished = operator.http.post(f"/exchanges/{exchange['id']}/reply", json={
            "tool_calls": [{"name": "get_weather", "arguments": {"city": "Kyoto"}}], "done": False})
        assert unfinished.status_code == 400
        operator.reply(exchange["id"], "Sunny.").raise_for_status()
        future.result(timeout=10)


RESPONSES_WEATHER = {"type": "function", "name": "get_weather", "description": "The weather now.",
                     "parameters": WEATHER["function"]["parameters"]}


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_api_function_call_round_trip(server, operator, stream):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        def ask(**kwargs):
            if not stream:
                return api.responses.create(model="m", tools=[RESPONSES_WEATHER], **kwargs)
            with api.responses.stream(model="m", tools=[RESPONSES_WEATHER], **kwargs) as events:
                for _ in events:
                    pass
                return events.get_final_response()

        future = pool.submit(ask, input="Weather in Kyoto?")
        [first] = operator.wait_for(1)
        assert first["request"]["tools"][0]["function"]["name"] == "get_weather"
        operator.call_tools(first["id"], [{"name": "get_weather", "arguments": {"city": "Kyoto"}}]
                            ).raise_for_status()
        response = future.result(timeout=10)
        [call] = [item for item in response.output if item.type == "function_call"]
        assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Kyoto"}

        future = pool.submit(ask, previous_response_id=response.id, input=[
            {"type": "function_call_output", "call_id": call.call_id, "output": "clear, 21 C"}])
        [second] = operator.wait_for(1)
        assert second["conversation"]["id"] == first["conversation"]["id"]
        assert second["request"]["messages"][-1] == {"role": "tool", "tool_call_id": call.call_id,
                                                     "content": "clear, 21 C"}
        operator.reply(second["id"], "Clear and 21 °C.").raise_for_status()
        assert future.result(timeout=10).output_text == "Clear and 21 °C."
