"""Only the switchboard changes an exchange: nothing in the package outside `core/` assigns to a
field of an Exchange, a Draft or a Conversation, or to the switchboard's default mode.

A static check over the source: an assignment `x.<field> = …` (or `+=`, or `setattr(x, "<field>",
…)`) where `<field>` is one of those dataclasses' fields and `x` is not the object's own `self`.
A widget or a settings object that happens to share a field name is caught too: rename it, or
build it with the value instead of assigning it afterwards.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from human_chat_completions.core.conversation import Conversation
from human_chat_completions.core.exchange import Draft, Exchange

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "human_chat_completions"
FIELDS = {f.name for cls in (Exchange, Draft, Conversation) for f in dataclasses.fields(cls)}


def assigned_attributes(tree: ast.AST) -> list[ast.Attribute | ast.Call]:
    """Every attribute an assignment writes (tuple targets unpacked), and literal setattr calls."""
    found: list[ast.Attribute | ast.Call] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id == "setattr" and len(node.args) == 3:
            found.append(node)
            continue
        else:
            continue
        for target in targets:
            parts = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
            found.extend(part for part in parts if isinstance(part, ast.Attribute))
    return found


def is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def violation(write: ast.Attribute | ast.Call) -> str | None:
    if isinstance(write, ast.Call):
        obj, name = write.args[0], write.args[1]
        if isinstance(name, ast.Constant) and name.value in FIELDS and not is_self(obj):
            return ast.unparse(write)
        return None
    if write.attr in FIELDS and not is_self(write.value):
        return ast.unparse(write)
    # The switchboard's conversation index: `….conversations.default_mode = …`.
    owner = write.value
    owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
    if write.attr == "default_mode" and owner_name == "conversations":
        return ast.unparse(write)
    return None


def writes_outside_core() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "core":
            continue
        for write in assigned_attributes(ast.parse(path.read_text(encoding="utf-8"))):
            text = violation(write)
            if text is not None:
                found.append(f"{relative}:{write.lineno}: {text}")
    return found


def test_nothing_outside_core_writes_an_exchange():
    assert writes_outside_core() == [], "use a switchboard command (core/switchboard.py) instead"


@pytest.mark.parametrize("source", [
    "exchange.notice = 'x'",
    "pending.notice, pending.notice_code = 'x', 'y'",
    "self.runtime.switchboard.conversations.default_mode = mode",
    "exchange.readers += 1",
    "setattr(exchange, 'author', None)",
    "self.exchange.side_request = 'title'",
])
def test_the_guard_catches(source):
    assert any(violation(write) for write in assigned_attributes(ast.parse(source)))


@pytest.mark.parametrize("source", [
    "self.state = 'running'",
    "self.editor.value = text",
    "self.settings.default_mode = mode",
    "setattr(self.settings, name, value)",
])
def test_the_guard_lets_pass(source):
    assert all(violation(write) is None for write in assigned_attributes(ast.parse(source)))
