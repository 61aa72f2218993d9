"""The reply editor: the unsent text, what already went to the client above it, Send, canned replies.

The text field holds only what the client has not received. Live typing moves released words
out of it into the locked "sent" box above; paced delivery sends it all on Send. So the operator
can change anything in the field, and nothing in it has been seen by the participant.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import flet as ft

from human_chat_completions.config import Settings
from human_chat_completions.core import Exchange, Switchboard
from human_chat_completions.core.delivery import LiveTyping, Pace, pace_for, send_paced
from human_chat_completions.core.drafts import edit_distance
from human_chat_completions.core.study import guard_hit
from human_chat_completions.core.switchboard import ExchangeClaimedError
from human_chat_completions.settings_store import SettingsStore
from human_chat_completions.ui.field_marks import FieldMarks
from human_chat_completions.ui.guard_dialog import GuardDialog
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.redraw import redraw_after_the_reply
from human_chat_completions.ui.viewmodel import OperatorState

# After the field's text is replaced, the caret is put back a moment later: a value and a
# selection in one update leave the caret at the end (Flet 1.0.5's TextField applies the value
# last), so they go as two updates.
_CARET_DELAY = 0.12
_FOCUS_RETRY = 0.3
# How much of a long released reply the "sent" box shows: its end, where the typing continues.
_SENT_SHOWN = 400

_focus_requests = itertools.count(1)
_CANNED_STYLE = ft.ButtonStyle(
    padding=ft.Padding(10, 4, 10, 4), shape=ft.RoundedRectangleBorder(radius=8),
    side={ft.ControlState.FOCUSED: ft.BorderSide(3, ft.Colors.PRIMARY),
          ft.ControlState.DEFAULT: ft.BorderSide(1, ft.Colors.OUTLINE)})


@ft.control  # keeps the Dart widget: "TextField"
class EditorField(FieldMarks, ft.TextField):
    """A TextField whose focus can be requested whether or not Enter sends.

    Flet 1.0.5's `TextField.focus()` asks the field's plain focus node, but a field with
    `shift_enter` listens on another one (textfield.dart, `_invokeMethod` "focus" vs
    `_shiftEnterfocusNode`), so the request is lost. The field's `focus` property, read on each
    build, asks the node in use whenever its value changes.
    """

    focus: str | None = None  # type: ignore[assignment]


def _needs_space(left: str, right: str) -> bool:
    """Whether two pieces of text joined at these characters need a space between them: not at
    the text's edge, beside whitespace, or beside CJK, which has no spaces between words."""
    if not left or not right or left.isspace() or right.isspace():
        return False
    return ord(left) <= 0x2E7F and ord(right) <= 0x2E7F


def _blank(text: str | None) -> bool:
    return not (text or "").strip()


class ReplyEditor:
    """One window's reply box for the exchange the console shows (`show`)."""

    def __init__(self, switchboard: Switchboard, store: SettingsStore, state: OperatorState,
                 t: Translator, style: Callable[[Exchange], str],
                 on_send: Callable[[], None] | None = None,
                 on_keys: Callable[[], object] | None = None) -> None:
        """style: how a reply to an exchange goes out, "live" or "paced" (the console decides);
        on_send: what Send (key or button) does, by default `send`; on_keys: the keyboard
        button's, which lists the shortcuts."""
        self.switchboard = switchboard
        self.style = style
        self.store = store
        self.state = state
        self.t = t
        self.exchange: Exchange | None = None
        self.focused = False
        self._typing: dict[str, LiveTyping] = {}
        # Paced replies still going out, by exchange: the exchange is open, but already answered.
        self._sending: dict[str, asyncio.Task] = {}
        # The field's text as this window knows it. Not the field's `value`: Flet writes every
        # report from the browser there, also one typed before the browser took our last change.
        self._text = ""
        # What the field held before this window last wrote it, until the browser reports on
        # the new text (a report typed on the old one may still be on its way).
        self._overwritten: str | None = None
        self._selected: tuple[int, int] | None = None  # the operator's selection; None: the end
        # Where this window is about to put the caret after a write (see _place_caret).
        self._caret_due: int | None = None
        self.on_send = on_send or self.send
        self.on_text: Callable[[str], None] | None = None  # every change of the text (a JSON check)
        self._build(on_keys or (lambda: None))

    @property
    def settings(self) -> Settings:
        return self.store.current

    @property
    def text(self) -> str:
        return self._text

    def _set_text(self, text: str) -> None:
        if text != self._text:
            self._overwritten = self._text
        self._text = self.field.value = text

    def _build(self, on_keys: Callable[[], object]) -> None:
        t = self.t
        enter_sends = self.settings.send_key == "enter"
        self.field = EditorField(
            label=t("reply_label"),
            hint_text=t("reply_hint_enter" if enter_sends else "reply_hint_ctrl_enter"),
            multiline=True, shift_enter=enter_sends, min_lines=3, max_lines=8, expand=True,
            disabled=True, on_change=self._on_change, on_submit=self._on_submit,
            on_selection_change=self._on_selection,
            on_focus=lambda _event: self._set_focused(True),
            on_blur=lambda _event: self._set_focused(False),
            # A clear focus ring: the operator must see where keys go.
            border={ft.ControlState.DEFAULT: ft.OutlineInputBorder(),
                    ft.ControlState.FOCUSED: ft.OutlineInputBorder(
                        side=ft.BorderSide(3, ft.Colors.PRIMARY))},
        )
        self.send_button = ft.Button(
            t("send"), icon=ft.Icons.SEND, on_click=lambda _event: self.send_from_ui(), disabled=True,
            style=ft.ButtonStyle(side={ft.ControlState.FOCUSED: ft.BorderSide(3, ft.Colors.PRIMARY)}))
        self.keys_button = ft.IconButton(ft.Icons.KEYBOARD_OUTLINED, tooltip=t("keys_button"),
                                         on_click=lambda _event: on_keys())
        # Plain text: Flutter leaves selectable text out of what screen readers get.
        self.sent = ft.Text("", size=13, color=ft.Colors.ON_SURFACE_VARIANT)
        self.sent_box = ft.Container(
            ft.Column([
                ft.Row([ft.Icon(ft.Icons.LOCK_OUTLINE, size=14, color=ft.Colors.ON_SURFACE_VARIANT),
                        ft.Text(t("delivered"), size=11, color=ft.Colors.ON_SURFACE_VARIANT)],
                       spacing=4),
                self.sent,
            ], spacing=2, tight=True),
            bgcolor=ft.Colors.SURFACE_CONTAINER_HIGHEST, padding=8, border_radius=6, visible=False,
        )
        self.canned = ft.Row(wrap=True, spacing=4, run_spacing=4, controls=[
            self._canned_button(index, text) for index, text in enumerate(self.settings.canned_replies)])

    def _canned_button(self, index: int, text: str) -> ft.Control:
        """A button, not a chip (Flet's chip is a checkbox to screen readers), and its key on its
        face, not in a tooltip: a tooltip shown under the mouse takes the focus from the editor."""
        label = ft.Text(text if len(text) < 40 else text[:38] + "…")
        face = ft.Row([ft.Text(f"Alt+{index + 1}", size=11, color=ft.Colors.ON_SURFACE_VARIANT), label],
                      spacing=6, tight=True) if index < 9 else label
        return ft.OutlinedButton(content=face, style=_CANNED_STYLE,
                                 on_click=lambda _event: self.insert(text))

    def _set_focused(self, focused: bool) -> None:
        self.focused = focused

    def _on_selection(self, event: ft.TextSelectionChangeEvent) -> None:
        """Where a canned reply goes. Only the operator's own moves count: an unfocused field
        reports a collapsed start after its text is replaced, which is not where they were."""
        ft.context.disable_auto_update()  # nothing on screen changes
        selection = event.selection
        if self._overwritten is not None and selection.start == selection.end == len(self._text):
            # The browser took our last write (it puts the caret at the end of the new text):
            # what it reports from now on was typed on that text.
            self._overwritten = None
        if self._caret_due is not None and selection.start == selection.end == len(self._text):
            return  # our write put it at the end; the caret goes where it belongs a moment later
        if self.focused:
            self._selected = (selection.start, selection.end)

    # -- what is shown ----------------------------------------------------------------------------

    def show(self, exchange: Exchange | None, selected: bool) -> None:
        """The console shows this exchange (None: nothing to answer). The field stays enabled
        while a conversation is shown, so that focus stays in it after a reply is finished."""
        self.exchange = exchange
        # A named operator leaves an exchange another one holds alone (the console offers to take
        # it over); the main operator may answer anything, as with the API's main token.
        blocked = self.state.signed_in is not None and self.state.held_by_other(exchange) is not None
        self.field.disabled = not selected or blocked
        self.send_button.disabled = exchange is None or self.sent_here(exchange.id) or blocked
        self._show_sent(exchange.reply.text if exchange is not None else "")

    def on_reply_delta(self, exchange: Exchange) -> None:
        if self.exchange is not None and exchange.id == self.exchange.id:
            self._show_sent(exchange.reply.text)

    def _show_sent(self, text: str) -> None:
        self.sent.value = text if len(text) <= _SENT_SHOWN else "…" + text[-_SENT_SHOWN:]
        self.sent_box.visible = bool(text)

    def load(self, previous: str | None, conversation_id: str) -> None:
        """Another conversation is shown: keep the unsent text of the one left, show this one's."""
        if previous is not None:
            self.state.drafts[previous] = self.text
        for typing in self._typing.values():
            typing.cancel()  # text left behind waits for the operator's return or Send
        self._selected = None
        self._set_text(self.state.drafts.get(conversation_id, ""))

    def request_focus(self) -> None:
        """Focus the field. Asked again a moment later if it did not take: a field enabled in
        the same update as the request (Alt+↓ from an empty screen) refuses it."""
        self.field.focus = str(next(_focus_requests))

        def again() -> None:
            if not self.focused and not self.field.disabled:
                self.field.focus = str(next(_focus_requests))
                self._refresh()

        asyncio.get_running_loop().call_later(_FOCUS_RETRY, again)

    def mend_focus(self) -> None:
        """After a click elsewhere (a conversation chosen), give an empty field its focus back
        through a real move of the focus: with Flutter's semantics on (screen readers, the
        tests), such a click leaves an empty focused field focused to Flutter but not to the
        browser (no blur is reported), and text typed into it after a click never arrives.
        Seen with Flet 1.0.5 in Chromium; a field holding text, or semantics off, blur as they
        should, and are left alone."""
        if not self.focused or self.text:
            return

        async def bounce() -> None:
            try:
                await self.keys_button.focus()
            except (RuntimeError, TimeoutError):
                return  # not on a page, or the window went away
            self.request_focus()
            self._refresh()

        asyncio.get_running_loop().create_task(bounce())

    # -- typing -----------------------------------------------------------------------------------

    def _on_change(self, event: ft.Event | None) -> None:
        # A keystroke changes nothing else on screen: no redraw of the page for it (what it
        # sets off, the first-keystroke mark or a release, redraws through the switchboard).
        ft.context.disable_auto_update()
        # The text as this report has it: the field's `value` may already hold later ones.
        data = getattr(event, "data", None)
        text = data if isinstance(data, str) else self.field.value or ""
        if self._typed_before_write(text):
            # The browser has taken our text since, dropping the key typed in that moment: so
            # does this window, or released words would go out twice. Writing the key back
            # would race the next one.
            return
        self._overwritten = None
        self._caret_due = None  # the operator typed: their caret is the right one
        self._text = text
        self._changed(text)

    def _typed_before_write(self, text: str) -> bool:
        """Whether the browser reported `text` before it took this window's last write (words
        released, a reply sent, a canned reply put in). Reports arrive in order: until the
        browser's caret report says it took the write (`_on_selection`), or a report is an edit
        of the new text rather than of the old, they all are."""
        if self._overwritten is None:
            return False
        return edit_distance(text, self._overwritten) < edit_distance(text, self._text)

    def _changed(self, text: str) -> None:
        if self.on_text is not None:
            self.on_text(text)
        if self.state.selected is not None:
            self.state.drafts[self.state.selected] = text
        exchange = self._answerable()
        if exchange is None:
            return
        if self.state.signed_in is not None:
            try:  # the first keystroke claims it: other operators now leave it alone
                self.switchboard.claim(exchange.id, self.state.signed_in)
            except ExchangeClaimedError:
                return
        style = self.style(exchange)
        self.switchboard.mark_first_keystroke(exchange.id, style)
        if style == "live":
            self._live(exchange).update(text)

    def _answerable(self) -> Exchange | None:
        """The exchange this editor's text is for: open, and not already sent from here."""
        exchange = self.exchange
        if exchange is None or not exchange.state.open or self.sent_here(exchange.id):
            return None
        return exchange

    def _live(self, exchange: Exchange) -> LiveTyping:
        typing = self._typing.get(exchange.id)
        if typing is None:
            typing = LiveTyping(self.switchboard, exchange.id, idle=self.settings.live_idle_seconds,
                                on_release=lambda piece: self._released(exchange, piece),
                                operator=self.state.signed_in)
            self._typing[exchange.id] = typing
        return typing

    def _released(self, exchange: Exchange, piece: str) -> None:
        """Live typing sent `piece`: it leaves the field (or the draft kept for that conversation)."""
        if self.exchange is None or self.exchange.id != exchange.id:
            draft = self.state.drafts.get(exchange.conversation_id, "")
            self.state.drafts[exchange.conversation_id] = draft.removeprefix(piece)
            return
        caret = max(self._caret() - len(piece), 0)
        self._selected = None if self._selected is None else (caret, caret)
        self._set_text(self.text.removeprefix(piece))
        self._show_sent(exchange.reply.text)
        self._refresh()
        self._refresh(self.sent_box)
        self._place_caret(caret)

    # -- editing from the window ------------------------------------------------------------------

    def insert(self, text: str) -> None:
        """Put `text` at the caret (a canned reply); it is sent with the rest, never by itself."""
        if self.field.disabled:
            return
        current = self.text
        start, end = self._selection(current)
        before, after = current[:start], current[end:]
        if _needs_space(before[-1:], text[:1]):
            text = " " + text
        if _needs_space(text[-1:], after[:1]):
            text += " "
        self.replace(before + text + after, caret=len(before) + len(text))

    def replace(self, text: str, caret: int | None = None) -> None:
        """The field now holds `text` (a draft, a canned reply), with the caret at `caret`
        (None: the end), and the focus."""
        self._selected = None if caret is None else (caret, caret)
        self._caret_due = None
        self._set_text(text)
        self.request_focus()
        self._changed(text)
        if caret is not None:
            self._place_caret(caret)

    def _selection(self, text: str) -> tuple[int, int]:
        start, end = self._selected or (len(text), len(text))
        return min(start, len(text)), min(end, len(text))

    def _caret(self) -> int:
        return self._selection(self.text)[1]

    def _place_caret(self, offset: int) -> None:
        """A new value puts the caret at the end; elsewhere it is placed a moment later."""
        text = self.text
        if offset >= len(text):
            self._caret_due = None
            return
        self._caret_due = offset

        def place() -> None:
            if self._caret_due != offset:
                return  # the operator typed since, or a later write placed its own caret
            self._caret_due = None
            if self.text == text:
                self.field.selection = ft.TextSelection(base_offset=offset, extent_offset=offset)
                self._refresh()

        asyncio.get_running_loop().call_later(_CARET_DELAY, place)

    # -- sending ----------------------------------------------------------------------------------

    def _on_submit(self, _event: ft.Event) -> None:
        self.send_from_ui()

    def send_from_ui(self) -> None:
        """Send from the key or the button; the focus stays in (or comes back to) the field. The
        window redraws once the reply has left (`redraw_after_the_reply`)."""
        self.on_send()
        if not self.focused:
            self.request_focus()
        redraw_after_the_reply()

    def sent_here(self, exchange_id: str) -> bool:
        return exchange_id in self._sending

    def can_send(self) -> bool:
        exchange = self._answerable()
        return exchange is not None and not (_blank(self.text) and not exchange.reply.text)

    def send(self, forced: bool = False) -> None:
        """Send the field's text to the exchange shown, live or paced, and empty the field. A
        reply holding a study's guard phrase is held until the operator confirms (`forced`)."""
        exchange = self._answerable()
        if exchange is None or not self.can_send():
            return
        text = self.text
        condition = self.switchboard.conversation(exchange.conversation_id).condition
        phrase = guard_hit(exchange.reply.text + text, condition.guard_phrases) if condition else None
        if phrase is not None:
            self.switchboard.flag_guard(exchange.id, phrase, "forced" if forced else "held")
            if not forced and self.field.page is not None:
                GuardDialog(self.t, exchange.reply.text + text, phrase,
                            on_send=lambda: self.send(forced=True)).open(self.field.page)
                return
        typing = self._typing.pop(exchange.id, None)
        if self.style(exchange) == "live":
            (typing or LiveTyping(self.switchboard, exchange.id, operator=self.state.signed_in)).send(text)
        else:
            if typing is not None:
                typing.cancel()
            pace = pace_for(self.switchboard.conversation(exchange.conversation_id).condition,
                            Pace(self.settings.first_token_delay, self.settings.tokens_per_second))
            task = asyncio.get_running_loop().create_task(
                send_paced(self.switchboard, exchange.id, text, pace, operator=self.state.signed_in))
            self._sending[exchange.id] = task
            task.add_done_callback(lambda _task: self._sending.pop(exchange.id, None))
        self._set_text("")
        self.send_button.disabled = True
        if self.state.selected is not None:
            self.state.drafts.pop(self.state.selected, None)

    def take_text(self, exchange_id: str) -> str:
        """The unsent text, out of the field: it goes out with something else (tool calls)."""
        typing = self._typing.pop(exchange_id, None)
        if typing is not None:
            typing.cancel()
        text = self.text
        self._set_text("")
        if self.state.selected is not None:
            self.state.drafts.pop(self.state.selected, None)
        return text

    def _refresh(self, control: ft.Control | None = None) -> None:
        """Push a change made outside an event handler (a timer) to the browser. Handlers
        leave it to Flet's update after the event, which covers the whole console."""
        try:
            (control or self.field).update()
        except RuntimeError:
            pass  # not on a page (yet): it shows as it is when added

    def adopt(self, previous: ReplyEditor) -> None:
        """The window was rebuilt (a settings change): carry on where `previous` was. Its pause
        clocks stop, or the same words would be released by both."""
        previous.close()
        self._sending = previous._sending
        self._set_text(previous.text)

    def close(self) -> None:
        for typing in self._typing.values():
            typing.cancel()
