"""What a JSON schema asks for, as the window's form needs it: no Flet here, so it is tested plainly.

A tool's `parameters` or a response format's `schema` is read into `Spec`s, one per field: its
kind (which control edits it), whether it is required or may be null, its description and, for
objects and arrays, the specs inside. What the form cannot edit field by field (`anyOf` with
several choices, a list of types) becomes a "json" field where the operator types the value as
JSON; the core's schema check has the last word either way.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 8  # a recursive schema ($ref to itself) stops here as a JSON field
SCALARS = ("string", "integer", "number", "boolean")


@dataclass
class Spec:
    """One field of a form. `kind`: string, integer, number, boolean, enum, object, array, json."""

    kind: str
    name: str = ""
    required: bool = False
    nullable: bool = False
    description: str = ""
    choices: list[Any] = field(default_factory=list)  # an enum's values
    properties: list[Spec] = field(default_factory=list)  # an object's fields, in order
    items: Spec | None = None  # an array's item
    default: Any = None
    min_items: int = 0
    format: str = ""


def spec_of(schema: Any, name: str = "", required: bool = False, root: Any = None,
            depth: int = 0) -> Spec:
    """The form field for `schema` (`root` holds the `$defs` a `$ref` points into)."""
    root = schema if root is None else root
    schema, nullable = _resolved(schema, root, depth)
    if depth > MAX_DEPTH:
        return Spec("json", name, required, nullable, _description(schema))
    spec = Spec(_kind(schema), name, required, nullable, _description(schema),
                default=schema.get("default"), format=str(schema.get("format") or ""))
    if spec.kind == "enum":
        spec.choices = list(schema["enum"]) if "enum" in schema else [schema.get("const")]
        spec.nullable = spec.nullable or None in spec.choices
        spec.choices = [choice for choice in spec.choices if choice is not None]
    elif spec.kind == "object":
        wanted = schema.get("required") if isinstance(schema.get("required"), list) else []
        spec.properties = [spec_of(sub, key, key in wanted, root, depth + 1)
                           for key, sub in (schema.get("properties") or {}).items()]
    elif spec.kind == "array":
        spec.items = spec_of(schema.get("items") or {}, name, False, root, depth + 1)
        spec.min_items = int(schema.get("minItems") or 0)
    return spec


def _resolved(schema: Any, root: Any, depth: int) -> tuple[dict[str, Any], bool]:
    """The schema with its `$ref` followed and a nullable wrapper (`anyOf: [X, null]`, pydantic's
    Optional; `type: [X, "null"]`, OpenAI's strict optional) taken off: (schema, nullable)."""
    if not isinstance(schema, dict):
        return {}, False
    nullable = False
    for _ in range(MAX_DEPTH):
        if isinstance(schema.get("$ref"), str):
            target = _pointer(root, schema["$ref"])
            extra = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**target, **extra} if isinstance(target, dict) else {}
            continue
        choices = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(choices, list):
            kept = [choice for choice in choices if not _is_null(choice)]
            if len(kept) == 1 and isinstance(kept[0], dict):
                nullable = nullable or len(kept) < len(choices)
                extra = {key: value for key, value in schema.items() if key not in ("anyOf", "oneOf")}
                schema = {**kept[0], **extra}
                continue
        every = schema.get("allOf")
        if isinstance(every, list) and len(every) == 1 and isinstance(every[0], dict):
            schema = {**every[0], **{key: value for key, value in schema.items() if key != "allOf"}}
            continue
        break
    types = schema.get("type")
    if isinstance(types, list) and "null" in types:
        nullable = True
        rest = [kind for kind in types if kind != "null"]
        schema = {**schema, "type": rest[0] if len(rest) == 1 else rest}
    return schema, nullable


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _pointer(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return None  # a remote schema is never fetched
    node = root
    for part in ref[1:].split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _kind(schema: dict[str, Any]) -> str:
    if "enum" in schema or "const" in schema:
        return "enum"
    kind = schema.get("type")
    if kind in SCALARS:
        return str(kind)
    if kind == "object" or (kind is None and "properties" in schema):
        return "object" if schema.get("properties") else "json"
    if kind == "array" or (kind is None and "items" in schema):
        return "array"
    return "json"


def _description(schema: dict[str, Any]) -> str:
    return str(schema.get("description") or "")  # a title (pydantic: the name, capitalised) adds nothing


# -- typed text to values -------------------------------------------------------------------------


class BadValue(ValueError):
    """Typed text that is not the field's kind; the message is a string key of ui/i18n.py."""


def parse_number(text: str, integer: bool) -> int | float:
    """A number field's text as JSON would hold it (a whole number stays an int)."""
    raw = text.strip()
    try:
        value = float(raw)
    except ValueError:
        raise BadValue("form_not_integer" if integer else "form_not_number") from None
    if not math.isfinite(value):
        raise BadValue("form_not_number")
    if value.is_integer() and "e" not in raw.lower() and "." not in raw:
        return int(raw)
    if integer:
        if value.is_integer():
            return int(value)
        raise BadValue("form_not_integer")
    return value


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise BadValue("form_not_json") from None


def choice_key(value: Any) -> str:
    """An enum value as a dropdown's key: its JSON text, so that 1 and "1" stay apart."""
    return json.dumps(value, ensure_ascii=False)


def shown(value: Any) -> str:
    """A value as its field shows it: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def relative_path(path: str) -> str:
    """A core Problem's field ("arguments.stops[0].name") as the form names it ("stops[0].name")."""
    for prefix in ("arguments.", "arguments"):
        if path.startswith(prefix):
            return path[len(prefix):]
    return "" if path == "json" else path
