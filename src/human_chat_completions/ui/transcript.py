"""The transcript of one conversation, as the client sent it.

Text shows as sent, line breaks and all (Markdown joins single line breaks, so the operator would
see one line where the client got two); Markdown rendering is the operator's opt-in.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import flet as ft

from human_chat_completions.core import Exchange, ExchangeState
from human_chat_completions.ui.gated_images import RemoteImages, image_control, text_controls
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.tool_results import tool_results_named

log = logging.getLogger(__name__)

MAX_SHOWN = 200
PROMPT_ROLES = ("system", "developer")


def _code(text: str) -> ft.Control:
    return ft.Markdown(f"```\n{text}\n```", selectable=True)


def content_controls(content: Any, t: Translator, images: RemoteImages | None = None,
                     markdown: bool = False) -> list[ft.Control]:
    images = images if images is not None else RemoteImages()
    if content is None:
        return []
    if isinstance(content, str):
        return text_controls(content, t, images, markdown)
    controls: list[ft.Control] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            controls += text_controls(str(part.get("text", "")), t, images, markdown)
        elif kind == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            controls.append(image_control(url, "", t, images))
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
    "user": (ft.Colors.PRIMARY_CONTAINER, ft.CrossAxisAlignment.START),
    "assistant": (ft.Colors.SECONDARY_CONTAINER, ft.CrossAxisAlignment.END),
    "tool": (ft.Colors.TERTIARY_CONTAINER, ft.CrossAxisAlignment.END),
}


def message_control(message: dict[str, Any], t: Translator,
                    images: RemoteImages | None = None, markdown: bool = False) -> ft.Control:
    role = str(message.get("role", "user"))
    color, align = _BUBBLE.get(role, (ft.Colors.SURFACE_CONTAINER_HIGHEST, ft.CrossAxisAlignment.START))
    title = t(f"role_{role}") if f"role_{role}" in _ROLE_KEYS else role
    if message.get("name"):
        title += f" ({message['name']})"
    body = content_controls(message.get("content"), t, images, markdown) + \
        tool_call_controls(message.get("tool_calls"), t)
    bubble = ft.Container(
        content=ft.Column([ft.Text(title, size=11, color=ft.Colors.ON_SURFACE_VARIANT), *body], spacing=2, tight=True),
        bgcolor=color,
        padding=10,
        border_radius=10,
        width=560,
    )
    return ft.Column([bubble], horizontal_alignment=align)


_ROLE_KEYS = {f"role_{role}" for role in ("system", "developer", "user", "assistant", "tool")}


def transcript_controls(exchange: Exchange | None, show_prompts: bool, t: Translator,
                        images: RemoteImages | None = None, markdown: bool = False) -> list[ft.Control]:
    """The latest request's history (it holds the whole thread as the client sees it) and what
    happened to it."""
    if exchange is None:
        return []
    messages = [m for m in exchange.messages if show_prompts or m.get("role") not in PROMPT_ROLES]
    controls: list[ft.Control] = []
    if len(messages) > MAX_SHOWN:
        controls.append(ft.Text(t("earlier_hidden", count=len(messages) - MAX_SHOWN), italic=True))
        messages = messages[-MAX_SHOWN:]
    controls += [message_control(message, t, images, markdown) for message in tool_results_named(messages, t)]
    if exchange.side_request:
        controls.append(_banner(t("side_request", rule=exchange.side_request), ft.Colors.SURFACE_CONTAINER_HIGHEST))
    if exchange.regenerate_of:
        controls.append(_banner(t("regenerate"), ft.Colors.SURFACE_CONTAINER_HIGH))
    if exchange.state is ExchangeState.DONE:
        controls.append(message_control({"role": "assistant", "content": exchange.reply.text,
                                         "tool_calls": exchange.reply.tool_calls}, t, images, markdown))
    elif exchange.state is ExchangeState.ABANDONED:
        controls.append(_banner(t("abandoned"), ft.Colors.TERTIARY_CONTAINER))
    elif exchange.state in (ExchangeState.FAILED, ExchangeState.TIMED_OUT):
        controls.append(_banner(t("failed") + (f" {exchange.error}" if exchange.error else ""), ft.Colors.ERROR_CONTAINER))
        if exchange.injected_error:
            controls.append(_banner(t("injected", error=exchange.injected_error), ft.Colors.ERROR_CONTAINER))
    return controls


def _banner(text: str, color: str) -> ft.Control:
    return ft.Container(ft.Text(text, italic=True, size=12), bgcolor=color, padding=8, border_radius=6)


# -- the scrolling view ---------------------------------------------------------------------------

PIN_SLACK = 40.0  # px from the end within which Flet's auto_scroll pins the view to it
SCROLL_WAIT = 5.0  # seconds a scroll call waits for the window's answer


class TranscriptView:
    """The transcript in its scrolling column. It follows the newest message unless the operator
    scrolled up; then a "new message" chip offers the way down instead of pulling them there.

    Following is Flet's `auto_scroll`: after each layout it pins the view to the end, and lets go
    while the operator reads further up. A fresh column starts pinned, so another conversation
    and the chip get a new one rather than a scroll call: the client computes a call's target
    when the call arrives, before a new layout, and answering a call for a control that has just
    left the page ends the window's connection. Rebuilt only when what it shows changes, so an
    event elsewhere never moves it.
    """

    def __init__(self, t: Translator, images: RemoteImages) -> None:
        self.t = t
        self.images = images
        self.following = True
        self._pixels = 0.0
        self._after = 0.0  # px below the viewport, as last reported
        self._keep: float | None = None  # a distance from the end to restore once laid out
        self._shown: tuple | None = None
        self._showing: tuple[Exchange | None, bool, bool] = (None, False, False)
        self._tasks: set[asyncio.Task] = set()
        self._columns = 0
        # One selection area for the whole column: a selectable Text hides its words from
        # screen readers on the web, and the operator can copy across messages.
        self.area = ft.SelectionArea(self._fresh_column())
        self.chip = ft.FilledTonalButton(t("new_message"), on_click=self._jump, visible=False,
                                         right=16, bottom=8)
        self.view = ft.Stack([ft.Container(self.area, padding=8, left=0, top=0, right=0, bottom=0),
                              self.chip], expand=True)

    def _fresh_column(self) -> ft.Column:
        # A new key each time: an equal-looking column would not even replace the old one (Flet
        # skips a value equal to the one it holds), and the key makes the client mount it anew.
        self._columns += 1
        self.messages = ft.Column(spacing=8, on_size_change=self._on_resized, size_change_interval=50)
        self.column = ft.Column([self.messages], scroll=ft.ScrollMode.AUTO, auto_scroll=True,
                                auto_scroll_animation=0, on_scroll=self._on_scroll,
                                scroll_interval=100, key=f"transcript-{self._columns}")
        self.following, self._pixels, self._after, self._keep = True, 0.0, 0.0, None
        return self.column

    def show(self, exchange: Exchange | None, conversation_id: str | None, show_prompts: bool,
             markdown: bool) -> None:
        content = _content_key(exchange, conversation_id)
        previous, self._shown = self._shown, (content, (show_prompts, markdown, len(self.images.loaded)))
        if previous == self._shown:
            return
        self._showing, self._keep = (exchange, show_prompts, markdown), None
        before = previous[0] if previous is not None else None
        if before is None or before[0] != conversation_id:
            self._restart()  # another conversation opens at its newest message
            return
        self.messages.controls = self._controls()
        if self.following:
            return  # pinned: the client follows the new layout itself
        if before != content:
            self.chip.visible = True  # something new below; the operator reads on undisturbed
        else:
            # Prompts or images above changed height: keep the distance from the end, so the
            # messages being read stay put.
            self._keep = self._after

    def _controls(self) -> list[ft.Control]:
        exchange, show_prompts, markdown = self._showing
        return transcript_controls(exchange, show_prompts, self.t, self.images, markdown)

    def _restart(self) -> None:
        self.area.content = self._fresh_column()
        self.messages.controls = self._controls()
        self.chip.visible = False

    def _jump(self, _event: ft.Event) -> None:
        self._restart()

    def _on_scroll(self, event: ft.OnScrollEvent) -> None:
        """Mirror the client's pin: let go on any move up, pinned again within reach of the end."""
        ft.context.disable_auto_update()  # a scroll changes nothing else: no page-wide diff
        if event.control is not self.column:
            return  # the column a restart replaced, still reporting
        if event.pixels < self._pixels - 0.5:
            self.following = False
        elif event.extent_after <= PIN_SLACK:
            self.following = True
        self._pixels, self._after = event.pixels, event.extent_after
        if self.following and self.chip.visible:
            self.chip.visible = False
            self.chip.update()

    def _on_resized(self, event: ft.LayoutSizeChangeEvent) -> None:
        ft.context.disable_auto_update()  # nothing on screen changed here
        if self._keep is not None and event.control is self.messages:
            keep, self._keep = self._keep, None
            self._scroll(-keep - 1)  # laid out now: the end the client measures is the new one

    def _scroll(self, offset: float) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._scroll_to(offset))
        except RuntimeError:
            return  # no loop: nothing on screen to scroll
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _scroll_to(self, offset: float) -> None:
        try:
            # Bounded: a window closed before it answers would leave the call waiting forever.
            await asyncio.wait_for(self.column.scroll_to(offset=offset, duration=0), SCROLL_WAIT)
        except Exception:  # not on a page (yet, or any more): nothing to scroll
            log.debug("transcript scroll skipped", exc_info=True)


def _content_key(exchange: Exchange | None, conversation_id: str | None) -> tuple:
    """What the transcript's content depends on: an exchange's messages never change, and its
    open states all look the same."""
    if exchange is None:
        return (conversation_id, None)
    state = "open" if exchange.state.open else exchange.state.value
    return (conversation_id, exchange.id, state, exchange.side_request, exchange.error, exchange.injected_error)
