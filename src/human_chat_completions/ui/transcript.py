"""The transcript of one conversation, as the client sent it, rendered readably."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import flet as ft

from human_chat_completions.core import Exchange, ExchangeState
from human_chat_completions.ui.i18n import Translator

MAX_SHOWN = 200
PROMPT_ROLES = ("system", "developer")


def image_source(url: str) -> str | bytes:
    """Data URLs become bytes (the web renderer cannot load them as a src); others stay URLs."""
    if url.startswith("data:") and "," in url:
        header, _, data = url.partition(",")
        if ";base64" in header:
            try:
                return base64.b64decode(data, validate=False)
            except (binascii.Error, ValueError):
                return url
    return url


def _code(text: str) -> ft.Control:
    return ft.Markdown(f"```\n{text}\n```", selectable=True)


def content_controls(content: Any, t: Translator) -> list[ft.Control]:
    if content is None:
        return []
    if isinstance(content, str):
        return [ft.Markdown(content, selectable=True, extension_set=ft.MarkdownExtensionSet.GITHUB_WEB)]
    controls: list[ft.Control] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            controls.append(ft.Markdown(str(part.get("text", "")), selectable=True,
                                        extension_set=ft.MarkdownExtensionSet.GITHUB_WEB))
        elif kind == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            controls.append(ft.Image(src=image_source(url), width=280, fit=ft.BoxFit.CONTAIN,
                                     semantics_label=t("image"), border_radius=6))
        else:
            controls.append(_code(json.dumps(part, ensure_ascii=False, indent=1)[:2000]))
    return controls


def tool_call_controls(tool_calls: list[dict[str, Any]] | None, t: Translator) -> list[ft.Control]:
    controls: list[ft.Control] = []
    for call in tool_calls or []:
        function = call.get("function") or {}
        arguments = function.get("arguments", "")
        try:
            arguments = json.dumps(json.loads(arguments), ensure_ascii=False, indent=1)
        except (TypeError, ValueError):
            pass
        controls.append(ft.Text(f"{t('tool_call')}: {function.get('name', '?')}", weight=ft.FontWeight.BOLD, size=12))
        controls.append(_code(str(arguments)))
    return controls


_BUBBLE = {
    "user": (ft.Colors.BLUE_50, ft.CrossAxisAlignment.START),
    "assistant": (ft.Colors.GREEN_50, ft.CrossAxisAlignment.END),
    "tool": (ft.Colors.AMBER_50, ft.CrossAxisAlignment.END),
}


def message_control(message: dict[str, Any], t: Translator) -> ft.Control:
    role = str(message.get("role", "user"))
    color, align = _BUBBLE.get(role, (ft.Colors.GREY_200, ft.CrossAxisAlignment.START))
    title = t(f"role_{role}") if f"role_{role}" in _ROLE_KEYS else role
    if message.get("name"):
        title += f" ({message['name']})"
    body = content_controls(message.get("content"), t) + tool_call_controls(message.get("tool_calls"), t)
    bubble = ft.Container(
        content=ft.Column([ft.Text(title, size=11, color=ft.Colors.GREY_700), *body], spacing=2, tight=True),
        bgcolor=color,
        padding=10,
        border_radius=10,
        width=560,
    )
    return ft.Column([bubble], horizontal_alignment=align)


_ROLE_KEYS = {f"role_{role}" for role in ("system", "developer", "user", "assistant", "tool")}


def transcript_controls(exchange: Exchange | None, show_prompts: bool, t: Translator) -> list[ft.Control]:
    """The latest request's history (it holds the whole thread as the client sees it) and what
    happened to it."""
    if exchange is None:
        return []
    messages = [m for m in exchange.messages if show_prompts or m.get("role") not in PROMPT_ROLES]
    controls: list[ft.Control] = []
    if len(messages) > MAX_SHOWN:
        controls.append(ft.Text(t("earlier_hidden", count=len(messages) - MAX_SHOWN), italic=True))
        messages = messages[-MAX_SHOWN:]
    controls += [message_control(message, t) for message in messages]
    if exchange.side_request:
        controls.append(_banner(t("side_request", rule=exchange.side_request), ft.Colors.GREY_200))
    if exchange.regenerate_of:
        controls.append(_banner(t("regenerate"), ft.Colors.PURPLE_50))
    if exchange.state is ExchangeState.DONE:
        controls.append(message_control({"role": "assistant", "content": exchange.reply.text}, t))
    elif exchange.state is ExchangeState.ABANDONED:
        controls.append(_banner(t("abandoned"), ft.Colors.ORANGE_50))
    elif exchange.state in (ExchangeState.FAILED, ExchangeState.TIMED_OUT):
        controls.append(_banner(t("failed") + (f" {exchange.error}" if exchange.error else ""), ft.Colors.RED_50))
    return controls


def _banner(text: str, color: str) -> ft.Control:
    return ft.Container(ft.Text(text, italic=True, size=12), bgcolor=color, padding=8, border_radius=6)
