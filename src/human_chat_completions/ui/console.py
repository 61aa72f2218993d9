"""The operator console: conversation list, transcript, and the editor that answers."""

from __future__ import annotations

import contextlib

import flet as ft

from human_chat_completions.config import Settings
from human_chat_completions.core import Exchange, ExchangeClosedError, Mode, Switchboard
from human_chat_completions.core.conversation import Conversation
from human_chat_completions.core.exchange import Draft
from human_chat_completions.settings_store import SettingsStore
from human_chat_completions.ui.answers import AnswerSide
from human_chat_completions.ui.conversation_list import ConversationList
from human_chat_completions.ui.copilot_panel import CopilotActions, CopilotPanel
from human_chat_completions.ui.editor import ReplyEditor
from human_chat_completions.ui.gated_images import RemoteImages
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.keys import Shortcuts
from human_chat_completions.ui.notice import Notice
from human_chat_completions.ui.transcript import TranscriptView
from human_chat_completions.ui.viewmodel import (
    ConversationRow,
    OperatorState,
    conditions,
    latest_exchange,
    open_exchange,
)


class Console:
    """One operator session's main screen. State lives in `OperatorState`; widgets render it."""

    def __init__(self, switchboard: Switchboard, settings: SettingsStore, t: Translator,
                 session_id: str = "", copilot: CopilotActions | None = None,
                 state: OperatorState | None = None) -> None:
        self.switchboard = switchboard
        self.copilot = copilot
        self.session_id = session_id
        self.settings_store = settings
        self.t = t
        self.state = state if state is not None else OperatorState()
        self.show_prompts = False
        self.reply = ReplyEditor(switchboard, settings, self.state, t, style=self._style,
                                 on_send=self.send, on_keys=lambda: self.shortcuts.show_help())
        self.shortcuts = Shortcuts(self)
        self.answers = AnswerSide(switchboard, self.state, t, self.reply, on_sent=self.render_selected)
        self.conversations = ConversationList(t, self.select, settings, on_filter=self._on_filter)
        self.copilot_panel = CopilotPanel(t, copilot, self.use_draft)
        self.images = RemoteImages(on_load=self._image_loaded)
        self.notice = Notice(self.select)
        self.transcript = TranscriptView(t, self.images)
        self._build()

    @property
    def settings(self) -> Settings:
        """The settings as they are now: pacing and live typing follow a saved change at once."""
        return self.settings_store.current

    @property
    def available_modes(self) -> set[Mode]:
        """Copilot and auto need an LLM profile; without one they show, disabled, with a reason."""
        if self.copilot is not None and self.copilot.available:
            return set(Mode)
        return {Mode.HUMAN}

    # -- layout ---------------------------------------------------------------------------------

    def _build(self) -> None:
        t = self.t
        self.title = ft.Text(t("select_conversation"), size=16, weight=ft.FontWeight.BOLD,
                             max_lines=1, overflow=ft.TextOverflow.ELLIPSIS)
        self.mode = ft.SegmentedButton(
            segments=[
                ft.Segment(value=mode.value, label=ft.Text(t(f"mode_{mode.value}")),
                           disabled=mode not in self.available_modes,
                           tooltip=None if mode in self.available_modes else t("mode_unavailable"))
                for mode in Mode
            ],
            selected=[Mode.HUMAN.value],
            on_change=self._on_mode,
            visible=False,
        )
        self.delivery = ft.Dropdown(
            options=[ft.DropdownOption(key="live", text=t("delivery_live")),
                     ft.DropdownOption(key="paced", text=t("delivery_paced"))],
            value=self.settings.delivery_style, on_select=self._on_delivery, width=310,
            dense=True,
        )
        # Flutter gives a dropdown's button no name of its own: a screen reader reads this one.
        # Shown and hidden as a whole: Flet refuses a Semantics whose content is invisible.
        self.delivery_named = ft.Semantics(label=t("settings_delivery"), content=self.delivery,
                                           visible=False)
        self.prompts = ft.Switch(label=t("show_prompt"), value=False, on_change=self._on_prompts,
                                 visible=False)
        self.markdown = ft.Switch(label=t("show_markdown"), value=self.state.markdown,
                                  on_change=self._on_markdown, visible=False)
        self.note = ft.Text("", size=12, italic=True, color=ft.Colors.ON_SURFACE_VARIANT)
        # The participant's condition and the persona the operator plays (never sent to them).
        self.condition_line = ft.Text("", size=12, weight=ft.FontWeight.BOLD, visible=False,
                                      color=ft.Colors.ON_SECONDARY_CONTAINER)
        self.persona_line = ft.Text("", size=12, italic=True, visible=False)
        self.signed_in = ft.Text("", size=12, color=ft.Colors.ON_SURFACE_VARIANT, visible=False)
        # Another named operator answering the exchange shown, and the way to take it over.
        self.claim_text = ft.Text("", size=12, weight=ft.FontWeight.BOLD)
        self.claim_button = ft.TextButton("", icon=ft.Icons.SWAP_HORIZ, on_click=self._take_claim)
        self.claim_box = ft.Container(ft.Row([self.claim_text, self.claim_button], wrap=True),
                                      bgcolor=ft.Colors.TERTIARY_CONTAINER, border_radius=8,
                                      padding=ft.Padding(8, 2, 8, 2), visible=False)
        self.study_box = ft.Container(ft.Column([self.condition_line, self.persona_line],
                                                spacing=2, tight=True),
                                      bgcolor=ft.Colors.SECONDARY_CONTAINER, border_radius=8,
                                      padding=ft.Padding(8, 4, 8, 4), visible=False)
        # The reply box's parts (ui/editor.py), placed here.
        self.editor, self.send_button = self.reply.field, self.reply.send_button
        self.delivered_box, self.canned = self.reply.sent_box, self.reply.canned
        # Research annotations, saved with the reply on Send (e.g. a dialogue act as the tag).
        self.tag = ft.TextField(label=t("tag_label"), dense=True, width=180)
        self.annotation = ft.TextField(label=t("note_label"), dense=True, expand=True)
        self.title.expand = True
        # The view toggles share the title's line: the line below keeps the room for the mode and
        # the delivery control, and the notice appears without moving anything.
        header = ft.Column([
            ft.Row([self.title, self.signed_in, self.notice.view, self.prompts, self.markdown], spacing=12,
                   vertical_alignment=ft.CrossAxisAlignment.CENTER),
            ft.Row([self.mode, self.delivery_named],
                   wrap=True, spacing=12,
                   vertical_alignment=ft.CrossAxisAlignment.CENTER),
            self.study_box,
            self.claim_box,
        ], spacing=4, tight=True)
        editor_row = ft.Row([self.editor, self.send_button, self.answers.tools.send_button,
                             self.answers.failure.view, self.reply.keys_button],
                            vertical_alignment=ft.CrossAxisAlignment.END)
        # Tools and JSON answers take a side of the transcript, when the request has them.
        middle = ft.Row([self.transcript.view, self.answers.view], expand=True, spacing=0,
                        vertical_alignment=ft.CrossAxisAlignment.STRETCH)
        right = ft.Column([header, ft.Divider(height=1), middle, self.copilot_panel.view,
                           self.delivered_box, self.note, self.answers.failure.banner, editor_row,
                           ft.Row([self.tag, self.annotation]), self.canned],
                          expand=True, spacing=6)
        left = ft.Container(self.conversations.view, width=280)
        self.view = ft.Row([left, ft.VerticalDivider(width=1), right], expand=True,
                           vertical_alignment=ft.CrossAxisAlignment.STRETCH)

    # -- rendering ------------------------------------------------------------------------------

    def render(self) -> None:
        """Re-render from state; cheap enough to call on every switchboard event."""
        self.conversations.render(self.state.rows(self.switchboard), self.state.selected,
                                  conditions(self.switchboard))
        self.render_selected()

    def _show_claim(self, pending: Exchange | None) -> None:
        self.signed_in.visible = self.state.signed_in is not None
        self.signed_in.value = self.t("signed_in_as", name=self.state.signed_in or "")
        holder = self.state.held_by_other(pending)
        self.claim_box.visible = holder is not None
        if holder is not None:
            self.claim_text.value = self.t("claim_held", holder=holder)
            self.claim_button.content = self.t("claim_take_over", holder=holder)
            self.claim_button.visible = self.state.signed_in is not None

    def _take_claim(self, _event: ft.Event) -> None:
        pending = self.reply.exchange
        if pending is None or self.state.signed_in is None:
            return
        with contextlib.suppress(ExchangeClosedError):
            self.switchboard.claim(pending.id, self.state.signed_in, take_over=True)
        self.render_selected()

    def _on_filter(self, condition: str | None) -> None:
        self.state.condition_filter = condition
        self.render()

    def _show_condition(self, conversation: Conversation | None) -> None:
        condition = conversation.condition if conversation is not None else None
        self.study_box.visible = self.condition_line.visible = condition is not None
        self.persona_line.visible = bool(condition and condition.persona)
        if condition is not None:
            self.condition_line.value = self.t("condition_line", name=condition.name,
                                               study=condition.study)
            self.persona_line.value = self.t("persona_line", persona=condition.persona or "")

    def render_selected(self) -> None:
        conversation_id = self.state.selected
        conversation = self.switchboard.conversations.conversations.get(conversation_id or "")
        for control in (self.mode, self.delivery_named, self.prompts, self.markdown):
            control.visible = conversation is not None
        self._show_condition(conversation)
        if conversation is None:
            self.transcript.show(None, None, self.show_prompts, self.state.markdown)
            self.reply.show(None, selected=False)
            self.answers.failure.show(None, None)
            return
        self.title.value = conversation.label
        self.notice.seen(conversation.id)
        self.mode.selected = [conversation.mode.value]
        self.prompts.value, self.markdown.value = self.show_prompts, self.state.markdown
        pending = open_exchange(self.switchboard, conversation)
        self._show_delivery(pending)
        shown = pending or latest_exchange(self.switchboard, conversation)
        self.transcript.show(shown, conversation.id, self.show_prompts, self.state.markdown)
        self._render_pending(pending, conversation)

    def _show_delivery(self, pending: Exchange | None) -> None:
        """The delivery control says what Send will really do: with drafts it is paced whatever
        was picked, and while the LLM answers it is not the operator's to choose."""
        auto = pending is not None and self.copilot is not None and self.copilot.auto_running(pending.id)
        forced = self._forced_style(pending)
        self.delivery.value = self._style(pending)
        self.delivery.disabled = auto or forced is not None
        self.delivery.tooltip = (self.t("delivery_forced_auto") if auto else
                                 self.t("delivery_forced_json") if self.answers.structured(pending) else
                                 self.t("delivery_forced_copilot") if forced else None)

    def _render_pending(self, pending: Exchange | None, conversation: Conversation) -> None:
        self._show_claim(pending)
        self.reply.show(pending, selected=True)
        self.answers.show(pending, conversation)
        self.copilot_panel.render(pending)
        self.note.color = ft.Colors.ON_SURFACE_VARIANT
        if pending is None:
            self.note.value = self.t("nothing_to_answer")
        elif pending.notice_code:
            # A notice newer than this window's strings still shows, in English.
            key = f"notice_{pending.notice_code}"
            self.note.value = self.t(key) if key in self.t.strings else (pending.notice or "")
            # Red only when something failed: a take-over is the operator's own doing.
            self.note.color = ft.Colors.ON_SURFACE_VARIANT if pending.notice_code == "taken_over" \
                else ft.Colors.ERROR
        elif not pending.stream:
            self.note.value = self.t("non_stream_note")
        else:
            self.note.value = ""

    def on_draft(self, exchange: Exchange) -> bool:
        """A draft grew; True if the visible screen changed."""
        if exchange.conversation_id != self.state.selected:
            return False
        self.copilot_panel.render(exchange)
        self._show_delivery(exchange)
        return True

    def use_draft(self, exchange: Exchange, draft: Draft) -> None:
        """Put a draft in the editor; what the operator then sends is recorded against it."""
        if not exchange.state.open:
            return
        self.switchboard.drafts.choose(exchange, draft.id)
        self.render_selected()
        self.reply.replace(draft.text)  # what was already sent stays above it

    def on_reply_delta(self, exchange: Exchange) -> bool:
        """Another piece went out; True if the visible screen changed."""
        if exchange.conversation_id != self.state.selected:
            return False
        self.reply.on_reply_delta(exchange)  # an auto answer's, another operator's, or ours
        return True

    # -- actions --------------------------------------------------------------------------------

    def select(self, conversation_id: str, *, from_keys: bool = False) -> None:
        """Show a conversation (`from_keys`: by Alt+↓/↑, the focus never left the editor)."""
        if not from_keys:
            self.reply.mend_focus()
        self.reply.load(self.state.selected, conversation_id)
        self.state.select(conversation_id)
        conversation = self.switchboard.conversation(conversation_id)
        pending = open_exchange(self.switchboard, conversation)
        if pending is not None:
            self.switchboard.mark_shown(pending.id, self.session_id)
        self.render()
        if self.editor.page is not None:
            self.editor.page.update()

    def _forced_style(self, pending: Exchange | None) -> str | None:
        """Live typing would leak a draft the moment it lands in the editor, or hand an app half a
        JSON object: drafts and JSON answers go on Send."""
        if pending is not None and (pending.mode is Mode.COPILOT or pending.drafts
                                    or self.answers.structured(pending)):
            return "paced"
        return None

    def _style(self, pending: Exchange | None = None) -> str:
        return self._forced_style(pending) or \
            self.state.delivery_style(self.state.selected or "", self.settings.delivery_style)

    def send(self) -> None:
        """Send the editor's text (Enter, the button); the research annotation goes with it."""
        pending = self.reply.exchange
        if pending is None or not self.reply.can_send() or self.answers.blocks_send(pending, self.reply.text):
            return
        tag, note = (self.tag.value or "").strip(), (self.annotation.value or "").strip()
        if tag or note:
            self.switchboard.annotate(pending.id, note or None, tag or None)
            self.tag.value = self.annotation.value = ""
        self.reply.send()

    def answered_here(self, row: ConversationRow) -> bool:
        """This window already sent the reply the row's conversation is streaming (paced)."""
        pending = open_exchange(self.switchboard, self.switchboard.conversation(row.id))
        return pending is not None and self.reply.sent_here(pending.id)

    def choose_mode(self, mode: Mode) -> None:
        """Alt+H / Alt+C / Alt+A: as a click on the mode buttons."""
        self.mode.selected = [mode.value]
        self._on_mode(None)  # type: ignore[arg-type]  # the handler reads the buttons

    def _on_mode(self, event: ft.Event) -> None:
        if self.state.selected is not None and self.mode.selected:
            self.switchboard.set_mode(self.state.selected, Mode(self.mode.selected[0]))

    def _on_delivery(self, _event: ft.Event) -> None:
        if self.state.selected is not None and self.delivery.value:
            self.state.delivery[self.state.selected] = self.delivery.value

    def _on_prompts(self, _event: ft.Event) -> None:
        self.show_prompts = bool(self.prompts.value)
        self.render_selected()

    def _on_markdown(self, _event: ft.Event) -> None:
        self.state.markdown = bool(self.markdown.value)
        self.render_selected()

    def tick(self) -> bool:
        """The window's clock: timers and the notice; True if the screen changed."""
        timers = self.conversations.tick()
        return self.notice.expire() or timers

    def _image_loaded(self, _url: str) -> None:
        """The operator asked for a remote image: show it wherever it appears."""
        self.render_selected()
        with contextlib.suppress(RuntimeError):  # not on a page: it shows when it is added
            self.transcript.view.page.update()

    def close(self) -> None:
        self.reply.close()
