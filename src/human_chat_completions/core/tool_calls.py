"""Tool calls and structured answers: what a request allows, and whether an answer fits it.

The request's `tools` and `response_format` carry JSON schemas; an operator's tool call or JSON
reply is checked against them before the client sees it, because an agent app that gets arguments
its schema forbids breaks in ways a participant notices.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.validators import validator_for

ARGUMENT_PIECE_CHARS = 24  # arguments stream in pieces, as an LLM's do


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the operator makes: a tool's name and its arguments as a JSON object."""

    name: str
    arguments: dict[str, Any]
    id: str = ""

    def with_id(self) -> ToolCall:
        return self if self.id else ToolCall(self.name, self.arguments, "call_" + uuid.uuid4().hex[:24])

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an answer does not fit the request: `field` is a dotted path ("arguments.city")."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def tools_of(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The request's function tools: name → the tool's `function` object (description, parameters)."""
    found: dict[str, dict[str, Any]] = {}
    for tool in request.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type", "function") == "function":
            inner = tool.get("function")
            function: dict[str, Any] = inner if isinstance(inner, dict) else tool
            if isinstance(function.get("name"), str):
                found[function["name"]] = function
    return found


def required_tool(request: dict[str, Any]) -> str | None:
    """The tool `tool_choice` names, which the operator's answer must call."""
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        return name if isinstance(name, str) else None
    return None


def tool_choice_kind(request: dict[str, Any]) -> str:
    """`none`, `auto`, `required` (some tool must be called) or `named` (that one)."""
    choice = request.get("tool_choice")
    if required_tool(request) is not None:
        return "named"
    if choice in ("none", "required"):
        return str(choice)
    return "auto" if tools_of(request) else "none"


def tool_call_problem(request: dict[str, Any], call: ToolCall) -> Problem | None:
    """Whether the request allows this call with these arguments."""
    tools = tools_of(request)
    if call.name not in tools:
        offered = ", ".join(sorted(tools)) or "none"
        return Problem("name", f"the request offers no tool {call.name!r} (offered: {offered})")
    if tool_choice_kind(request) == "none":
        return Problem("name", "the request's tool_choice is 'none': it asks for text only")
    wanted = required_tool(request)
    if wanted is not None and call.name != wanted:
        return Problem("name", f"the request's tool_choice requires {wanted!r}")
    return schema_problem(tools[call.name].get("parameters") or {}, call.arguments, "arguments")


def answer_problem(request: dict[str, Any], text: str, calls: list[ToolCall]) -> Problem | None:
    """Whether a finished answer (text and tool calls) is what the request asked for."""
    for index, call in enumerate(calls):
        problem = tool_call_problem(request, call)
        if problem is not None:
            return Problem(f"tool_calls[{index}].{problem.field}", problem.message)
    if not calls and tool_choice_kind(request) in ("required", "named"):
        return Problem("tool_calls", "the request's tool_choice requires a tool call")
    if calls:
        return None
    return structured_problem(request, text)


def response_schema(request: dict[str, Any]) -> tuple[str, dict[str, Any] | None] | None:
    """("json_schema", schema) or ("json_object", None) when the request wants JSON, else None.
    A Responses API request says it as `text.format`."""
    text = request.get("text")
    wanted = request.get("response_format") or (text.get("format") if isinstance(text, dict) else None)
    if not isinstance(wanted, dict):
        return None
    kind = wanted.get("type")
    if kind == "json_object":
        return "json_object", None
    if kind == "json_schema":
        inner = wanted.get("json_schema")
        spec: dict[str, Any] = inner if isinstance(inner, dict) else wanted
        schema = spec.get("schema")
        return "json_schema", schema if isinstance(schema, dict) else {}
    return None


def structured_problem(request: dict[str, Any], text: str) -> Problem | None:
    """Whether `text` is the JSON the request's response format asks for."""
    wanted = response_schema(request)
    if wanted is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return Problem("json", f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})")
    kind, schema = wanted
    if kind == "json_object" or schema is None:
        return None if isinstance(value, dict) else Problem("json", "must be a JSON object")
    return schema_problem(schema, value, "")


def schema_problem(schema: dict[str, Any], value: Any, root: str) -> Problem | None:
    """The first way `value` breaks `schema`, naming the field; an unusable schema is no check."""
    try:
        checker = validator_for(schema, default=Draft202012Validator)
        checker.check_schema(schema)
        validator = checker(schema)
        errors = sorted(validator.iter_errors(value), key=lambda e: (len(e.absolute_path), str(e.path)))
    except SchemaError:
        return None
    if not errors:
        return None
    return _problem(errors[0], root)


def _problem(error: ValidationError, root: str) -> Problem:
    path = [root] if root else []
    path += [f"[{part}]" if isinstance(part, int) else str(part) for part in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [name for name in required if name not in error.instance]
        if missing:
            path.append(str(missing[0]))
            return Problem(_dotted(path), "is required")
    return Problem(_dotted(path), error.message)


def _dotted(parts: list[str]) -> str:
    return ".".join(parts).replace(".[", "[")


def call_deltas(index: int, call: ToolCall) -> list[dict[str, Any]]:
    """A call as an LLM streams it: id and name first, then the arguments' JSON text in pieces."""
    deltas: list[dict[str, Any]] = [{"tool_calls": [{
        "index": index, "id": call.id, "type": "function",
        "function": {"name": call.name, "arguments": ""}}]}]
    text = call.arguments_json
    for start in range(0, len(text), ARGUMENT_PIECE_CHARS):
        piece = text[start:start + ARGUMENT_PIECE_CHARS]
        deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    return deltas


def normalized_calls(calls: Any) -> list[list[str]] | None:
    """Tool calls as a history compares them: id, name and the arguments' meaning (clients
    re-serialise arguments with other spacing or key order)."""
    if not isinstance(calls, list) or not calls:
        return None
    normalized = []
    for call in calls:
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        arguments = function.get("arguments") or ""
        try:
            arguments = json.dumps(json.loads(arguments), sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError):
            pass
        normalized.append([str(call.get("id") or ""), str(function.get("name") or ""), arguments])
    return normalized
