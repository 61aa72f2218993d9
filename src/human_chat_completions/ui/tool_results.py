"""Tool results in the transcript: each `tool` message names the call it answers.

A client sends a tool's result as `{"role": "tool", "tool_call_id": ..., "content": ...}`; the
call it answers, with the tool's name, is in an earlier assistant message. The operator reads
which tool returned what.
"""

from __future__ import annotations

from typing import Any

from human_chat_completions.ui.i18n import Translator


def tool_results_named(messages: list[dict[str, Any]], t: Translator) -> list[dict[str, Any]]:
    """The messages, each tool result carrying its tool's name and call id as its `name`."""
    names: dict[str, str] = {}
    named: list[dict[str, Any]] = []
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and call.get("id"):
                names[str(call["id"])] = str((call.get("function") or {}).get("name") or "?")
        if message.get("role") == "tool" and message.get("tool_call_id"):
            call_id = str(message["tool_call_id"])
            name = message.get("name") or names.get(call_id, "?")
            message = {**message, "name": t("tool_result_of", name=name, id=call_id)}
        named.append(message)
    return named
