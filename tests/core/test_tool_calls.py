"""What a request allows an answer to be: its tools' schemas, tool_choice, response_format."""

from __future__ import annotations

import json

import pytest

from human_chat_completions.core.conversation import ConversationIndex, answered_history
from human_chat_completions.core.tool_calls import (
    ToolCall,
    answer_problem,
    call_deltas,
    structured_problem,
    tool_choice_kind,
)

ADDRESS = {"type": "object", "properties": {"city": {"type": "string"},
                                            "zip": {"type": "string", "pattern": "^[0-9]{3}-[0-9]{4}$"}},
           "required": ["city"]}
ORDER = {"type": "function", "function": {"name": "order", "parameters": {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
        "sku": {"type": "string"}, "count": {"type": "integer", "minimum": 1}},
        "required": ["sku", "count"]}, "minItems": 1},
        "ship_to": ADDRESS, "gift": {"type": "boolean"}},
    "required": ["items", "ship_to"]}}}
REQUEST = {"messages": [{"role": "user", "content": "x"}], "tools": [ORDER]}
GOOD = {"items": [{"sku": "A1", "count": 2}], "ship_to": {"city": "Kyoto"}}


@pytest.mark.parametrize(("arguments", "field"), [
    ({"items": [{"sku": "A1", "count": 2}]}, "tool_calls[0].arguments.ship_to"),
    ({**GOOD, "items": []}, "tool_calls[0].arguments.items"),
    ({**GOOD, "items": [{"sku": "A1", "count": 0}]}, "tool_calls[0].arguments.items[0].count"),
    ({**GOOD, "items": [{"sku": "A1"}]}, "tool_calls[0].arguments.items[0].count"),
    ({**GOOD, "ship_to": {"city": "Kyoto", "zip": "6000"}}, "tool_calls[0].arguments.ship_to.zip"),
    ({**GOOD, "gift": "yes"}, "tool_calls[0].arguments.gift"),
])
def test_a_problem_names_the_nested_field(arguments, field):
    problem = answer_problem(REQUEST, "", [ToolCall("order", arguments)])
    assert problem is not None and problem.field == field


def test_good_arguments_pass_and_the_schema_allows_extra_text():
    assert answer_problem(REQUEST, "On it.", [ToolCall("order", GOOD)]) is None
    assert answer_problem(REQUEST, "No order today.", []) is None  # tool_choice auto


def test_tool_choice_is_respected():
    named = {**REQUEST, "tool_choice": {"type": "function", "function": {"name": "order"}}}
    assert tool_choice_kind(named) == "named"
    assert answer_problem(named, "text", []).field == "tool_calls"
    assert answer_problem({**REQUEST, "tool_choice": "none"}, "", [ToolCall("order", GOOD)]) is not None
    assert tool_choice_kind({"messages": []}) == "none"


def test_structured_answers():
    schema_request = {"response_format": {"type": "json_schema", "json_schema": {
        "name": "a", "schema": ADDRESS}}}
    assert structured_problem(schema_request, '{"city": "Kyoto"}') is None
    assert structured_problem(schema_request, '{"zip": "1"}').field == "city"
    assert "line 1 column 2" in structured_problem(schema_request, "{oops").message
    responses_request = {"text": {"format": {"type": "json_schema", "name": "a", "schema": ADDRESS}}}
    assert structured_problem(responses_request, "{}").field == "city"
    assert structured_problem({"response_format": {"type": "text"}}, "plain") is None
    broken_schema = {"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": 5}}}}
    assert structured_problem(broken_schema, "{}") is None  # an app's unusable schema is no check


def test_call_deltas_rebuild_the_arguments():
    call = ToolCall("order", GOOD).with_id()
    deltas = call_deltas(1, call)
    assert deltas[0]["tool_calls"][0]["id"] == call.id and deltas[0]["tool_calls"][0]["index"] == 1
    text = "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas)
    assert json.loads(text) == GOOD and len(deltas) > 2


def test_a_tool_follow_up_continues_the_thread_even_respelled():
    index = ConversationIndex()
    ask = [{"role": "user", "content": "Order two A1 to Kyoto"}]
    thread, _, _ = index.resolve(None, ask)
    calls = [{"id": "call_1", "type": "function",
              "function": {"name": "order", "arguments": json.dumps(GOOD)}}]
    index.remember_reply(thread, ask, "", calls)
    respelled = [{"id": "call_1", "type": "function", "function": {
        "name": "order", "arguments": json.dumps(GOOD, indent=1, sort_keys=True)}}]
    follow_up = [*ask, {"role": "assistant", "content": None, "tool_calls": respelled},
                 {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
                 {"role": "tool", "tool_call_id": "call_2", "content": "ok too"}]
    assert answered_history(follow_up) == follow_up[:2]
    assert answered_history([*follow_up, {"role": "user", "content": "and?"}]) == follow_up[:2]
    assert answered_history(ask) == []
    found, _, is_new = index.resolve(None, follow_up)
    assert found is thread and not is_new
