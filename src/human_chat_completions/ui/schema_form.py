"""A form built from a JSON schema (ui/schema_spec.py): a tool's arguments, or a JSON answer.

Each field is a node that owns its control, reads its value back (`MISSING`: leave the key
out), takes a value (`set`, to load JSON into the form) and shows a problem the core found at its
path (`mark`). Typed text that is not the field's kind (letters in a number) is the form's own
problem, found before the core's schema check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from human_chat_completions.ui.field_marks import MarkedCheckbox, MarkedField
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.schema_spec import (
    BadValue,
    Spec,
    choice_key,
    parse_json,
    parse_number,
    relative_path,
    shown,
    spec_of,
)
from human_chat_completions.ui.theme import MONO


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_UNSET = "__unset__"  # the dropdown key for "not set" (no JSON text looks like it)
_HELP = ft.Colors.ON_SURFACE_VARIANT

Changed = Callable[[], None]


def _label(spec: Spec) -> str:
    return f"{spec.name} *" if spec.required else spec.name


def _empty(spec: Spec) -> Any:
    """What a field left empty sends: null where the schema wants the key but allows null."""
    return None if spec.required and spec.nullable else MISSING


class Node:
    """One field; `path` names it as the core's problems do ("stops[0].name")."""

    control: ft.Control

    def __init__(self, spec: Spec, path: str, t: Translator, on_change: Changed) -> None:
        self.spec, self.path, self.t, self.on_change = spec, path, t, on_change

    def value(self) -> Any:
        raise NotImplementedError

    def set(self, value: Any) -> None:
        raise NotImplementedError

    def problems(self) -> list[tuple[str, str]]:
        """(path, string key) for typed text that is not the field's kind."""
        return []

    def mark(self, path: str, message: str) -> bool:
        return False

    def clear(self) -> None:
        """Forget the marks of the last check."""

    def rename(self, path: str) -> None:
        self.path = path

    def _changed(self, _event: ft.Event | None = None) -> None:
        self.on_change()


class TextNode(Node):
    """A string, a number, or (where the form has no better control) a value typed as JSON."""

    def __init__(self, spec: Spec, path: str, t: Translator, on_change: Changed) -> None:
        super().__init__(spec, path, t, on_change)
        numeric = spec.kind in ("integer", "number")
        hint = {"integer": t("form_integer_hint"), "number": t("form_number_hint"),
                "json": t("form_json_hint")}.get(spec.kind, spec.format or None)
        self.field = MarkedField(
            label=_label(spec), helper=spec.description or None, hint_text=hint, dense=True,
            value="" if spec.default is None else shown(spec.default),
            keyboard_type=ft.KeyboardType.NUMBER if numeric else ft.KeyboardType.TEXT,
            multiline=spec.kind == "json", min_lines=2 if spec.kind == "json" else None,
            text_style=MONO if spec.kind == "json" else None, on_change=self._typed)
        self.control = self.field

    def _typed(self, event: ft.Event) -> None:
        ft.context.disable_auto_update()  # a keystroke redraws this field at most
        error = self._own_problem()
        shown_error = self.t(error) if error else None  # typing also clears the last check's mark
        if shown_error != self.field.error:
            self.field.show_error(shown_error)
            self._refresh()
        self.on_change()

    def _refresh(self) -> None:
        try:
            self.field.update()
        except RuntimeError:
            pass  # not on a page: it shows as it is when added

    def _own_problem(self) -> str | None:
        try:
            self._parsed()
        except BadValue as bad:
            return str(bad)
        return None

    def _parsed(self) -> Any:
        text = self.field.value or ""
        if not text.strip():
            return _empty(self.spec)
        if self.spec.kind in ("integer", "number"):
            return parse_number(text, self.spec.kind == "integer")
        if self.spec.kind == "json":
            return parse_json(text)
        return text

    def value(self) -> Any:
        try:
            return self._parsed()
        except BadValue:
            return MISSING

    def set(self, value: Any) -> None:
        self.field.value = "" if value is MISSING or value is None else shown(value)

    def problems(self) -> list[tuple[str, str]]:
        error = self._own_problem()
        return [(self.path, error)] if error else []

    def mark(self, path: str, message: str) -> bool:
        if path != self.path:
            return False
        self.field.show_error(message)
        return True

    def clear(self) -> None:
        self.field.show_error(None)


class ChoiceNode(Node):
    """An enum (or a const): a dropdown of its values, with "not set" where it may be left out."""

    def __init__(self, spec: Spec, path: str, t: Translator, on_change: Changed) -> None:
        super().__init__(spec, path, t, on_change)
        options = [ft.DropdownOption(key=choice_key(choice), text=shown(choice)) for choice in spec.choices]
        if not spec.required or spec.nullable:
            options.insert(0, ft.DropdownOption(key=_UNSET, text=t("form_unset")))
        self.field = ft.Dropdown(
            label=_label(spec), options=options, helper_text=spec.description or None, dense=True,
            value=None if spec.default is None else choice_key(spec.default),
            on_select=self._changed, expand=True)
        # Flutter gives a dropdown's button no name of its own: a screen reader reads this one.
        self.control = ft.Semantics(label=_label(spec), content=ft.Row([self.field]))

    def value(self) -> Any:
        key = self.field.value
        if not key or key == _UNSET:
            return _empty(self.spec)
        return parse_json(key)

    def set(self, value: Any) -> None:
        keys = {option.key for option in self.field.options}
        key = _UNSET if value is MISSING or value is None else choice_key(value)
        self.field.value = key if key in keys else None

    def mark(self, path: str, message: str) -> bool:
        if path != self.path:
            return False
        self.field.error_text = message
        return True

    def clear(self) -> None:
        self.field.error_text = None


class FlagNode(Node):
    """A boolean: a checkbox; one that may be left out has a third state, "not set"."""

    def __init__(self, spec: Spec, path: str, t: Translator, on_change: Changed) -> None:
        super().__init__(spec, path, t, on_change)
        start = spec.default if isinstance(spec.default, bool) else (False if spec.required else None)
        self.field = MarkedCheckbox(label=_label(spec), value=start, tristate=not spec.required,
                                 on_change=self._changed)
        self.control = _with_help(self.field, spec.description)

    def value(self) -> Any:
        return _empty(self.spec) if self.field.value is None else bool(self.field.value)

    def set(self, value: Any) -> None:
        self.field.value = value if isinstance(value, bool) else (None if self.field.tristate else False)

    def mark(self, path: str, message: str) -> bool:
        if path != self.path:
            return False
        self.field.show_error(True)
        return True

    def clear(self) -> None:
        self.field.show_error(False)


class GroupNode(Node):
    """An object or an array: a titled, indented block of fields."""

    def __init__(self, spec: Spec, path: str, t: Translator, on_change: Changed) -> None:
        super().__init__(spec, path, t, on_change)
        self.title = ft.Text(_label(spec), weight=ft.FontWeight.BOLD, size=13)
        self.error = ft.Text("", size=12, color=ft.Colors.ERROR, visible=False)
        self.body = ft.Column(spacing=8, tight=True, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
        header: list[ft.Control] = [self.title] if spec.name else []
        if spec.description:
            header.append(ft.Text(spec.description, size=12, color=_HELP))
        column = ft.Column([*header, self.error, self.body], spacing=6, tight=True,
                           horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
        # Nested fields stand in from their parent's, with a line down their side.
        self.control = column if not path else ft.Container(
            column, padding=ft.Padding(10, 4, 0, 4),
            border=ft.Border(left=ft.BorderSide(2, ft.Colors.OUTLINE_VARIANT)))

    def children(self) -> list[Node]:
        raise NotImplementedError

    def problems(self) -> list[tuple[str, str]]:
        return [problem for child in self.children() for problem in child.problems()]

    def mark(self, path: str, message: str) -> bool:
        if path == self.path:
            self.error.value, self.error.visible = message, True
            return True
        return any(child.mark(path, message) for child in self.children())

    def clear(self) -> None:
        self.error.visible = False
        for child in self.children():
            child.clear()


class ObjectNode(GroupNode):
    def __init__(self, spec: Spec, path: str, t: Translator, on_change: Changed) -> None:
        super().__init__(spec, path, t, on_change)
        self.fields = [build(sub, _join(path, sub.name), t, on_change) for sub in spec.properties]
        self.body.controls = [node.control for node in self.fields]

    def children(self) -> list[Node]:
        return list(self.fields)

    def value(self) -> Any:
        found = {node.spec.name: value for node in self.fields if (value := node.value()) is not MISSING}
        if found or not self.path:
            return found
        return {} if self.spec.required and not self.spec.nullable else _empty(self.spec)

    def set(self, value: Any) -> None:
        given = value if isinstance(value, dict) else {}
        for node in self.fields:
            node.set(given.get(node.spec.name, MISSING))

    def rename(self, path: str) -> None:
        super().rename(path)
        for node in self.fields:
            node.rename(_join(path, node.spec.name))


class ArrayNode(GroupNode):
    """A list: its items one under another, each with a remove button, and an add button."""

    def __init__(self, spec: Spec, path: str, t: Translator, on_change: Changed) -> None:
        super().__init__(spec, path, t, on_change)
        self.items: list[Node] = []
        self.add_button = ft.TextButton(t("form_add", name=spec.name or t("form_item")),
                                        icon=ft.Icons.ADD, on_click=self._add)
        for _ in range(spec.min_items):
            self.append()
        self._lay_out()

    def children(self) -> list[Node]:
        return list(self.items)

    def append(self, value: Any = MISSING) -> Node:
        assert self.spec.items is not None
        item = Spec(**{**vars(self.spec.items), "name": "", "required": False})
        node = build(item, f"{self.path}[{len(self.items)}]", self.t, self.on_change)
        if value is not MISSING:
            node.set(value)
        self.items.append(node)
        return node

    def _lay_out(self) -> None:
        rows: list[ft.Control] = []
        for index, node in enumerate(self.items):
            remove = ft.IconButton(ft.Icons.REMOVE_CIRCLE_OUTLINE, icon_size=18,
                                   tooltip=self.t("form_remove", number=index + 1),
                                   on_click=lambda _event, node=node: self._remove(node))
            rows.append(ft.Row([ft.Text(f"{index + 1}.", size=12, color=_HELP),
                                ft.Container(node.control, expand=True), remove],
                               vertical_alignment=ft.CrossAxisAlignment.START))
        self.body.controls = [*rows, self.add_button]

    def _add(self, _event: ft.Event) -> None:
        self.append()
        self._lay_out()
        self.on_change()

    def _remove(self, node: Node) -> None:
        self.items.remove(node)
        for index, item in enumerate(self.items):
            item.rename(f"{self.path}[{index}]")
        self._lay_out()
        self.on_change()

    def value(self) -> Any:
        values = [value for node in self.items if (value := node.value()) is not MISSING]
        if values or self.spec.required:
            return values
        return MISSING

    def set(self, value: Any) -> None:
        self.items = []
        for item in value if isinstance(value, list) else []:
            self.append(item)
        self._lay_out()

    def rename(self, path: str) -> None:
        super().rename(path)
        for index, item in enumerate(self.items):
            item.rename(f"{path}[{index}]")


def _no_fields(schema: dict[str, Any] | None) -> bool:
    schema = schema or {}
    return schema.get("type", "object") == "object" and not any(
        schema.get(key) for key in ("properties", "additionalProperties", "anyOf", "oneOf", "allOf", "$ref"))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _with_help(control: ft.Control, description: str) -> ft.Control:
    if not description:
        return control
    return ft.Column([control, ft.Text(description, size=12, color=_HELP)], spacing=0, tight=True)


_NODES: dict[str, type[Node]] = {"object": ObjectNode, "array": ArrayNode, "boolean": FlagNode,
                                 "enum": ChoiceNode}


def build(spec: Spec, path: str, t: Translator, on_change: Changed) -> Node:
    return _NODES.get(spec.kind, TextNode)(spec, path, t, on_change)


class SchemaForm:
    """The form for one schema. `value()` is what it holds as JSON; `check` shows problems."""

    def __init__(self, schema: dict[str, Any] | None, t: Translator,
                 on_change: Changed | None = None) -> None:
        spec = spec_of(schema or {"type": "object", "properties": {}})
        if _no_fields(schema):
            spec = Spec("object")  # a tool without arguments: nothing to fill in
        self.root = build(spec, "", t, on_change or (lambda: None))
        empty = isinstance(self.root, ObjectNode) and not self.root.fields
        self.view = ft.Column(
            [ft.Text(t("form_no_fields") if empty else t("form_required_legend"), size=12, color=_HELP),
             self.root.control], spacing=8, tight=True, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)

    def value(self) -> Any:
        value = self.root.value()
        return {} if value is MISSING and isinstance(self.root, ObjectNode) else value

    def set(self, value: Any) -> None:
        self.root.set(value)

    def own_problems(self) -> list[tuple[str, str]]:
        """Fields whose text is not their kind: (path, string key)."""
        return self.root.problems()

    def show_problem(self, field: str | None, message: str) -> bool:
        """Clear the last marks and mark the field a core Problem names; True if one was found."""
        self.root.clear()
        if field is None:
            return False
        return self.root.mark(relative_path(field), message)
