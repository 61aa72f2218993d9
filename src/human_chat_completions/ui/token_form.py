"""The token gate of a window that is not the operator's own page on this machine: the main
operator token, or a named operator's (`hcc operators add`), opens the console."""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable

import flet as ft

from human_chat_completions import operators
from human_chat_completions.token_guard import TokenGuard
from human_chat_completions.ui.i18n import Translator


def operator_for(token: str, main_token: str) -> tuple[bool, str | None]:
    """Whether a token opens the window, and as whom: the main token as the unnamed main
    operator, a named operator's token as them."""
    if hmac.compare_digest(token.encode(), main_token.encode()):
        return True, None
    name = operators.name_for_token(token) if token else None
    return name is not None, name


def show_token_form(page: ft.Page, t: Translator, main_token: str, guard: TokenGuard,
                    on_open: Callable[[str | None], None]) -> None:
    """Ask for a token; wrong guesses from one address slow down (the guard is the API's too).
    `on_open` is told who signed in (None: the main operator)."""
    field = ft.TextField(label=t("token_field"), password=True, width=420)
    message = ft.Text("", color=ft.Colors.ERROR)

    def submit(_event: ft.Event) -> None:
        address = page.client_ip or ""
        wait = guard.wait_seconds(address)
        if wait:
            message.value = t("token_wait", seconds=math.ceil(wait))
            return
        accepted, name = operator_for((field.value or "").strip(), main_token)
        if accepted:
            page.controls.clear()
            on_open(name)
        else:
            guard.failed(address)
            message.value = t("token_wrong")

    page.add(ft.Container(ft.Column([
        ft.Text(t("token_title"), size=20, weight=ft.FontWeight.BOLD),
        ft.Text(t("token_prompt")), field, ft.Button(t("token_submit"), on_click=submit), message,
    ], tight=True, spacing=12), padding=24))
