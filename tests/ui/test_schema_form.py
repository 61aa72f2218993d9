"""The form built from a JSON schema, without a browser: what each field sends, what it refuses,
and where the core's problems land."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from human_chat_completions.core.tool_calls import schema_problem
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.schema_form import (
    MISSING,
    ArrayNode,
    ChoiceNode,
    FlagNode,
    Node,
    ObjectNode,
    SchemaForm,
    TextNode,
)
from human_chat_completions.ui.schema_spec import BadValue, parse_number, spec_of

T = Translator("en")

TRIP = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "Where to"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "nights": {"type": "integer"},
        "budget": {"type": "number"},
        "pets": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "stops": {"type": "array", "items": {
            "type": "object", "properties": {"name": {"type": "string"}, "hours": {"type": "number"}},
            "required": ["name"]}},
        "origin": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                   "required": ["lat", "lon"]},
    },
    "required": ["city", "nights", "pets"],
}


def fields(node: Node) -> dict[str, Node]:
    assert isinstance(node, ObjectNode)
    return {child.spec.name: child for child in node.fields}


def type_into(node: Node, text: str) -> None:
    assert isinstance(node, TextNode)
    node.field.value = text


def test_an_untouched_form_sends_only_what_it_must():
    form = SchemaForm(TRIP, T)
    # A required boolean starts false (a checkbox has no "empty"); nothing else is sent.
    assert form.value() == {"pets": False}
    assert "city *" == fields(form.root)["city"].field.label  # type: ignore[attr-defined]
    assert fields(form.root)["unit"].field.label == "unit"  # type: ignore[attr-defined]


def test_typed_fields_become_typed_json():
    form = SchemaForm(TRIP, T)
    f = fields(form.root)
    type_into(f["city"], "Kyoto")
    type_into(f["nights"], "3")
    type_into(f["budget"], "1200.50")
    f["unit"].field.value = '"celsius"'  # type: ignore[attr-defined]  # a dropdown key: the JSON text
    f["pets"].field.value = True  # type: ignore[attr-defined]
    tags = f["tags"]
    assert isinstance(tags, ArrayNode)
    tags.append("temples")
    tags.append("food")
    stops = f["stops"]
    assert isinstance(stops, ArrayNode)
    stops.append({"name": "Nara", "hours": 4})
    assert form.value() == {"city": "Kyoto", "unit": "celsius", "nights": 3, "budget": 1200.5, "pets": True,
                            "tags": ["temples", "food"], "stops": [{"name": "Nara", "hours": 4}]}
    assert schema_problem(TRIP, form.value(), "") is None


def test_text_that_is_not_the_fields_kind_is_the_forms_own_problem():
    form = SchemaForm(TRIP, T)
    f = fields(form.root)
    type_into(f["nights"], "2.5")
    type_into(f["budget"], "lots")
    assert form.own_problems() == [("nights", "form_not_integer"), ("budget", "form_not_number")]
    assert "nights" not in form.value()  # never sent as text


@pytest.mark.parametrize(("text", "integer", "value"), [
    ("3", True, 3), (" -4 ", True, -4), ("3.0", True, 3), ("1e3", True, 1000),
    ("2.5", False, 2.5), ("7", False, 7), ("1e-2", False, 0.01),
])
def test_numbers(text, integer, value):
    parsed = parse_number(text, integer)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(("text", "integer"), [("2.5", True), ("x", False), ("nan", False), ("inf", False), ("", True)])
def test_not_numbers(text, integer):
    with pytest.raises(BadValue):
        parse_number(text, integer)


def test_a_missing_required_field_is_marked_where_the_core_names_it():
    form = SchemaForm(TRIP, T)
    problem = schema_problem(TRIP, form.value(), "arguments")
    assert problem is not None and problem.field == "arguments.city"
    assert form.show_problem(problem.field, problem.message)
    assert fields(form.root)["city"].field.error == "is required"  # type: ignore[attr-defined]
    assert form.show_problem(None, "") is False  # the next check clears the mark
    assert fields(form.root)["city"].field.error is None  # type: ignore[attr-defined]


def test_a_problem_inside_a_list_item_is_marked_on_that_item():
    form = SchemaForm(TRIP, T)
    stops = fields(form.root)["stops"]
    assert isinstance(stops, ArrayNode)
    stops.append({"name": "Nara"})
    second = stops.append({"hours": 2})
    assert form.show_problem("arguments.stops[1].name", "is required")
    assert fields(second)["name"].field.error == "is required"  # type: ignore[attr-defined]


def test_removing_an_item_renumbers_the_rest():
    form = SchemaForm(TRIP, T)
    stops = fields(form.root)["stops"]
    assert isinstance(stops, ArrayNode)
    first = stops.append({"name": "A"})
    stops.append({"name": "B"})
    stops._remove(first)
    assert [item.path for item in stops.items] == ["stops[0]"]
    assert form.show_problem("stops[0].name", "bad")
    assert form.value()["stops"] == [{"name": "B"}]


def test_json_loads_into_the_form_and_back():
    value: dict[str, Any] = {"city": "Oslo", "unit": "fahrenheit", "nights": 1, "pets": False,
                             "tags": ["snow"], "origin": {"lat": 59.9, "lon": 10.7}}
    form = SchemaForm(TRIP, T)
    form.set(value)
    assert form.value() == value


def test_optional_booleans_and_enums_can_be_left_unset():
    form = SchemaForm(TRIP, T)
    f = fields(form.root)
    unit = f["unit"]
    assert isinstance(unit, ChoiceNode)
    assert unit.field.options[0].text == "(not set)"
    unit.field.value = "__unset__"
    assert unit.value() is MISSING
    optional = SchemaForm({"type": "object", "properties": {"ok": {"type": "boolean"}}}, T)
    flag = fields(optional.root)["ok"]
    assert isinstance(flag, FlagNode) and flag.field.tristate and optional.value() == {}


def test_pydantic_schemas_with_refs_and_optional_fields():
    class Stop(BaseModel):
        name: str

    class Plan(BaseModel):
        first: Stop
        later: list[Stop]
        note: str | None = None

    schema = Plan.model_json_schema()
    form = SchemaForm(schema, T)
    f = fields(form.root)
    assert isinstance(f["first"], ObjectNode) and isinstance(f["later"], ArrayNode)
    assert spec_of(schema["properties"]["note"], root=schema).nullable
    type_into(fields(f["first"])["name"], "Nara")
    assert form.value() == {"first": {"name": "Nara"}, "later": []}
    assert Plan.model_validate(form.value()).first.name == "Nara"


def test_strict_mode_optional_fields_send_null_when_left_empty():
    # OpenAI's strict mode: every field required, the optional ones nullable.
    schema = {"type": "object", "required": ["city", "unit"], "additionalProperties": False,
              "properties": {"city": {"type": "string"}, "unit": {"type": ["string", "null"]}}}
    form = SchemaForm(schema, T)
    type_into(fields(form.root)["city"], "Lima")
    assert form.value() == {"city": "Lima", "unit": None}


def test_what_the_form_cannot_edit_field_by_field_is_typed_as_json():
    schema = {"type": "object", "properties": {
        "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "extra": {"type": "object", "additionalProperties": {"type": "string"}}}}
    form = SchemaForm(schema, T)
    f = fields(form.root)
    assert all(isinstance(node, TextNode) and node.spec.kind == "json" for node in f.values())
    type_into(f["either"], "7")
    type_into(f["extra"], '{"a": "b"}')
    assert form.value() == {"either": 7, "extra": {"a": "b"}}
    type_into(f["extra"], "{oops")
    assert form.own_problems() == [("extra", "form_not_json")]


def test_a_tool_without_arguments_has_nothing_to_fill_in():
    for schema in (None, {}, {"type": "object", "properties": {}}):
        assert SchemaForm(schema, T).value() == {}


def test_a_recursive_schema_stops_at_a_json_field():
    schema = {"$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}},
              "$ref": "#/$defs/Node"}
    spec = spec_of(schema)
    depth = 0
    while spec.kind == "object":
        spec, depth = spec.properties[0], depth + 1
    assert spec.kind == "json" and depth > 3
