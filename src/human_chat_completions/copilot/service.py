"""The copilot at work: drafts for the operator, auto answers, side requests, the away policy.

It follows the switchboard's events and acts through the switchboard, so a client only ever
receives what the operator sent or what the LLM wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from human_chat_completions.config import Settings
from human_chat_completions.copilot.profiles import Profile, default_profile
from human_chat_completions.copilot.side_requests import effective_rules, find_side_request
from human_chat_completions.copilot.upstream import (
    Candidate,
    Finish,
    TextDelta,
    ToolCallDelta,
    Upstream,
    UpstreamError,
)
from human_chat_completions.core import (
    Author,
    Exchange,
    ExchangeClosedError,
    ExchangeState,
    Mode,
    Switchboard,
)
from human_chat_completions.core.conversation import Conversation
from human_chat_completions.core.events import (
    ConversationChanged,
    Event,
    ExchangeChanged,
    ExchangeClosed,
    ExchangeOpened,
)
from human_chat_completions.settings_store import SettingsStore

log = logging.getLogger(__name__)


class Copilot:
    """Drafts and auto answers for one switchboard. Event callbacks run on the server's loop."""

    def __init__(self, switchboard: Switchboard, settings: SettingsStore, upstream: Upstream) -> None:
        self.switchboard = switchboard
        self.settings_store = settings
        self.upstream = upstream
        self._tasks: dict[str, set[asyncio.Task]] = {}
        self._auto: dict[str, asyncio.Task] = {}
        self._away: dict[str, asyncio.TimerHandle] = {}
        self._interrupted: set[str] = set()
        switchboard.events.listen(self._on_event)

    @property
    def settings(self) -> Settings:
        """The settings as they are now (read at each use: a saved change applies at once)."""
        return self.settings_store.current

    @property
    def profile(self) -> Profile | None:
        return default_profile(self.settings.profiles, self.settings.default_profile)

    @property
    def available(self) -> bool:
        return self.profile is not None

    def auto_running(self, exchange_id: str) -> bool:
        task = self._auto.get(exchange_id)
        return task is not None and not task.done()

    # -- routing ----------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ExchangeOpened):
            # Routing may answer at once; let every listener see the request open first.
            asyncio.get_running_loop().call_soon(self._route, event.exchange)
        elif isinstance(event, ExchangeClosed):
            if self._tasks.get(event.exchange.id) and event.exchange.state is ExchangeState.ABANDONED:
                self._interrupted.add(event.exchange.id)
            self._forget(event.exchange.id)
        elif isinstance(event, ExchangeChanged):
            self._on_change(event.exchange)
        elif isinstance(event, ConversationChanged) and event.previous_mode is not None \
                and event.previous_mode is not event.conversation.mode:
            # Like routing: act once every listener has seen the switch.
            asyncio.get_running_loop().call_soon(self._apply_mode, event.conversation)

    def _on_change(self, exchange: Exchange) -> None:
        if exchange.first_keystroke_at is not None:
            self._disarm_away(exchange.id)  # the operator is here and typing
        if exchange.id in self._interrupted and exchange.state.open:
            # A client's retry picked up an exchange whose client had left mid-work: start over
            # if nothing was sent yet (sending twice would garble the reply).
            self._interrupted.discard(exchange.id)
            if not exchange.reply.text:
                asyncio.get_running_loop().call_soon(self._route, exchange)

    def _route(self, exchange: Exchange) -> None:
        if not exchange.state.open:
            return
        rules = effective_rules(self.settings.side_request_rules,
                                self.settings.builtin_side_request_rules)
        rule = find_side_request(exchange.messages, rules)
        if rule is not None and rule.action != "operator":
            self.switchboard.mark_side_request(exchange.id, rule.name)
            if rule.action == "canned":
                self.switchboard.reply(exchange.id, rule.reply, done=True, author=Author.AUTO)
                return
            if self.available:
                self.start_auto(exchange)
                return
        if exchange.mode is Mode.AUTO:
            self._answer_auto(exchange)
        elif exchange.mode is Mode.COPILOT and self.available:
            self.start_drafts(exchange)
        self._arm_away(exchange)

    def _apply_mode(self, conversation: Conversation) -> None:
        """The operator switched modes: the request already waiting is answered the new way now,
        not only the next one."""
        mode = conversation.mode
        for exchange in self.switchboard.open_exchanges(conversation):
            if mode is not Mode.AUTO and self.auto_running(exchange.id):
                self.take_over(exchange.id)  # away from auto: the LLM stops, the operator goes on
            if exchange.state is not ExchangeState.WAITING or exchange.side_request is not None:
                continue  # text already went out: a new writer would garble the reply
            if mode is Mode.AUTO:
                self._answer_auto(exchange)
            elif mode is Mode.COPILOT and self.available and not exchange.drafts:
                self.start_drafts(exchange)
            self._disarm_away(exchange.id)
            if exchange.first_keystroke_at is None:  # the operator is not typing yet
                self._arm_away(exchange)

    def _answer_auto(self, exchange: Exchange) -> None:
        if self.available:
            self.start_auto(exchange)
        else:
            self._notice(exchange, "auto_needs_profile",
                         "Auto mode needs an LLM profile; please answer by hand.")

    def _spawn(self, exchange: Exchange, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.setdefault(exchange.id, set()).add(task)
        task.add_done_callback(lambda done: self._tasks.get(exchange.id, set()).discard(done))
        return task

    def _forget(self, exchange_id: str) -> None:
        self._disarm_away(exchange_id)
        self._auto.pop(exchange_id, None)
        for task in self._tasks.pop(exchange_id, set()):
            task.cancel()

    def _notice(self, exchange: Exchange, code: str, message: str) -> None:
        self.switchboard.set_notice(exchange.id, message, code)

    # -- drafts -----------------------------------------------------------------------------------

    def start_drafts(self, exchange: Exchange, extra_instruction: str | None = None) -> None:
        """Stream N candidate drafts into the exchange for the operator to use, edit or discard."""
        profile = self.profile
        if profile is None or not exchange.state.open:
            return
        candidates = self.upstream.draft_candidates(
            profile, exchange.messages, self.settings.draft_candidates, params=exchange.request,
            extra_instruction=extra_instruction or None)
        for candidate in candidates:
            self._spawn(exchange, self._follow_draft(exchange, candidate, profile, extra_instruction))

    async def _follow_draft(self, exchange: Exchange, candidate: Candidate, profile: Profile,
                            instruction: str | None) -> None:
        book = self.switchboard.drafts
        draft = book.start(exchange, profile.name, profile.model, instruction)
        try:
            async for piece in candidate:
                if isinstance(piece, TextDelta):
                    book.grow(exchange, draft, piece.text)
            book.finish(exchange, draft)
        except UpstreamError as error:
            book.finish(exchange, draft, error=error.message)
        except asyncio.CancelledError:
            book.finish(exchange, draft, error="cancelled")
            await candidate.aclose()
            raise

    def regenerate(self, exchange_id: str, instruction: str | None = None) -> None:
        self.start_drafts(self.switchboard.get(exchange_id), instruction)

    # -- auto -------------------------------------------------------------------------------------

    def start_auto(self, exchange: Exchange) -> None:
        profile = self.profile
        if profile is not None and not self.auto_running(exchange.id):
            self._auto[exchange.id] = self._spawn(exchange, self._run_auto(exchange, profile))

    async def _run_auto(self, exchange: Exchange, profile: Profile) -> None:
        """The upstream's stream straight to the client, chunk by chunk; on failure the operator
        takes over with whatever was already sent."""
        try:
            async for piece in self.upstream.stream_reply(profile, exchange.messages,
                                                          params=exchange.request):
                if isinstance(piece, TextDelta):
                    self.switchboard.reply(exchange.id, piece.text, author=Author.AUTO)
                elif isinstance(piece, ToolCallDelta):
                    self.switchboard.write_delta(exchange.id, {"tool_calls": piece.tool_calls})
                elif isinstance(piece, Finish):
                    self.switchboard.reply(exchange.id, "", done=True, author=Author.AUTO,
                                           finish_reason=piece.finish_reason or "stop")
        except UpstreamError as error:
            log.warning("auto answer failed for %s: %s", exchange.id, error.kind)
            self._auto.pop(exchange.id, None)  # the window stops saying the LLM is answering
            self._notice(exchange, "auto_failed",
                         f"The LLM could not answer ({error.message}). Please answer by hand.")
        except ExchangeClosedError:
            pass  # the client left or the operator finished it

    def take_over(self, exchange_id: str) -> bool:
        """Stop the LLM mid-stream; what was sent stays, the operator finishes by hand."""
        # Forgotten before the announcement: a cancelled task runs on until its next await, and
        # the window must not read it as still answering.
        task = self._auto.pop(exchange_id, None)
        if task is None or task.done():
            return False
        task.cancel()
        self.switchboard.take_over(exchange_id)
        return True

    # -- operator away ----------------------------------------------------------------------------

    def _arm_away(self, exchange: Exchange) -> None:
        seconds = self.settings.away_timeout_seconds.get(exchange.mode)
        action = self.settings.away_action.get(exchange.mode, "wait")
        if seconds is None or action == "wait":
            return
        loop = asyncio.get_running_loop()
        # Counted from the request's arrival: a mode switch does not restart the participant's wait.
        delay = max(0.0, seconds - (time.time() - exchange.received_at))
        self._away[exchange.id] = loop.call_later(delay, self._away_expired, exchange.id, action)

    def _disarm_away(self, exchange_id: str) -> None:
        handle = self._away.pop(exchange_id, None)
        if handle is not None:
            handle.cancel()

    def _away_expired(self, exchange_id: str, action: str) -> None:
        self._away.pop(exchange_id, None)
        exchange = self.switchboard.exchanges.get(exchange_id)
        if exchange is None or not exchange.state.open or exchange.reply.text:
            return
        text = ""
        if action == "send_draft":
            usable = [d for d in exchange.drafts if d.text and not d.error]
            if usable:
                self.switchboard.drafts.choose(exchange, usable[0].id)
                text = usable[0].text
        elif action == "send_canned" and self.settings.canned_replies:
            text = self.settings.canned_replies[0]
        if text:
            with contextlib.suppress(ExchangeClosedError):
                self.switchboard.reply(exchange_id, text, done=True, author=Author.TIMEOUT_POLICY)
