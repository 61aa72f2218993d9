"""The copilot at work: drafts for the operator, auto answers, side requests, the away policy.

It follows the switchboard's events and acts through the switchboard, so a client only ever
receives what the operator sent or what the LLM wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time

from human_chat_completions.config import Settings
from human_chat_completions.copilot.burst import Burst
from human_chat_completions.copilot.guard import StreamGuard
from human_chat_completions.copilot.profiles import Profile, default_profile, find_profile
from human_chat_completions.copilot.side_requests import effective_rules, find_side_request
from human_chat_completions.copilot.upstream import (
    Candidate,
    Finish,
    Piece,
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
from human_chat_completions.core.exchange import Draft
from human_chat_completions.core.study import Condition, guard_hit
from human_chat_completions.settings_store import SettingsStore

log = logging.getLogger(__name__)
FIRST_WORDS_TURNS = 6  # turns of the loop an auto answer waits for its first words to go out
# How long the rest of an auto answer waits once its first words are out: a client on the same
# machine (the participant's chat app beside the operator's window) then has a CPU to show them.
# Relaying a fast upstream's burst meanwhile held the official client's first token 0.1-0.35 ms
# on 2 cores; an LLM's next token comes later than this anyway. Not on Windows, whose loop waits
# out a whole timer tick (15.6 ms) for it.
FIRST_WORDS_PAUSE_SECONDS = 0.0 if sys.platform == "win32" else 0.0005


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
        self._told_profile_missing: set[str] = set()
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

    def profile_for(self, exchange: Exchange) -> Profile | None:
        """The profile its study condition names, else the default; a name with no such profile
        falls back to the default and tells the operator (once per exchange)."""
        condition = self._condition(exchange)
        wanted = condition.profile if condition is not None else None
        if wanted:
            found = find_profile(self.settings.profiles, wanted)
            if found is not None:
                return found
            self._profile_missing(exchange, wanted)
        return self.profile

    def _profile_missing(self, exchange: Exchange, wanted: str) -> None:
        if exchange.id in self._told_profile_missing:
            return
        self._told_profile_missing.add(exchange.id)
        fallback = self.profile
        instead = f"the default profile {fallback.name!r}" if fallback else "no profile"
        self._notice(exchange, "condition_profile_missing",
                     f"The study condition asks for the copilot profile {wanted!r}, which does not "
                     f"exist; using {instead}.")

    def _condition(self, exchange: Exchange) -> Condition | None:
        return self.switchboard.conversation(exchange.conversation_id).condition

    def _instruction(self, exchange: Exchange, profile: Profile) -> str | None:
        """The profile's instruction with the condition's persona after it (None: the profile's
        own). It goes upstream only: the participant never receives it."""
        condition = self._condition(exchange)
        persona = (condition.persona or "").strip() if condition is not None else ""
        if not persona:
            return None
        note = f"The persona to answer as (the participant never sees this note):\n{persona}"
        return "\n\n".join(part for part in (profile.instruction.strip(), note) if part)

    def auto_running(self, exchange_id: str) -> bool:
        task = self._auto.get(exchange_id)
        return task is not None and not task.done()

    # -- routing ----------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ExchangeOpened):
            if not self._start_auto_now(event.exchange):
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

    def _start_auto_now(self, exchange: Exchange) -> bool:
        """An ordinary auto request (no side request, its profile at hand) starts its upstream
        call here: its task is the first thing the loop runs next, before what the request set
        off for the log, the windows and the live view. Nothing is announced on the way (that
        waits for `_route`), so every listener still sees the request open first."""
        if exchange.mode is not Mode.AUTO or not self.available:
            return False
        rules = effective_rules(self.settings.side_request_rules,
                                self.settings.builtin_side_request_rules)
        rule = find_side_request(exchange.messages, rules)
        if rule is not None and rule.action != "operator":
            return False
        condition = self._condition(exchange)
        if condition is not None and condition.profile and \
                find_profile(self.settings.profiles, condition.profile) is None:
            return False  # the operator is told, in `_route`
        self.start_auto(exchange)
        self._arm_away(exchange)
        return True

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
        self._told_profile_missing.discard(exchange_id)
        for task in self._tasks.pop(exchange_id, set()):
            task.cancel()

    def _notice(self, exchange: Exchange, code: str, message: str) -> None:
        self.switchboard.set_notice(exchange.id, message, code)

    # -- drafts -----------------------------------------------------------------------------------

    def start_drafts(self, exchange: Exchange, extra_instruction: str | None = None) -> None:
        """Stream N candidate drafts into the exchange for the operator to use, edit or discard."""
        profile = self.profile_for(exchange) if exchange.state.open else None
        if profile is None:
            return
        candidates = self.upstream.draft_candidates(
            profile, exchange.messages, self.settings.draft_candidates, params=exchange.request,
            instruction=self._instruction(exchange, profile), extra_instruction=extra_instruction or None)
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
        if self.auto_running(exchange.id):
            return
        profile = self.profile_for(exchange)
        if profile is not None:
            self._auto[exchange.id] = self._spawn(exchange, self._run_auto(exchange, profile))

    async def _run_auto(self, exchange: Exchange, profile: Profile) -> None:
        """The upstream's stream to the client as it comes, through the condition's guard; on
        failure the operator takes over with whatever was already sent."""
        condition = self._condition(exchange)
        guard = StreamGuard(condition.guard_phrases if condition is not None else ())
        pieces = self.upstream.stream_reply(profile, exchange.messages, params=exchange.request,
                                            instruction=self._instruction(exchange, profile))
        task = asyncio.current_task()

        def write(text: str) -> None:
            if self._auto.get(exchange.id) is task:  # not once taken over or held
                self.switchboard.reply(exchange.id, text, author=Author.AUTO)

        burst = Burst(write)
        try:
            # Closing the stream on a hold stops the upstream, as a take-over's cancel does.
            async with contextlib.aclosing(pieces):
                async for piece in pieces:
                    first = not burst.written
                    if not self._pass_on(exchange, piece, guard, burst):
                        return
                    if first and burst.pending:
                        burst.flush()
                        await self._first_words_out(exchange)
        except UpstreamError as error:
            with contextlib.suppress(ExchangeClosedError):
                burst.flush()  # what came before the failure
            log.warning("auto answer failed for %s: %s", exchange.id, error.kind)
            self._auto.pop(exchange.id, None)  # the window stops saying the LLM is answering
            self._notice(exchange, "auto_failed",
                         f"The LLM could not answer ({error.message}). Please answer by hand.")
        except ExchangeClosedError:
            pass  # the client left or the operator finished it
        finally:
            burst.drop()  # taken over, held or gone: nothing more from the LLM

    @staticmethod
    async def _first_words_out(exchange: Exchange) -> None:
        """Let the client's response send the first words before the rest of what arrived is
        read (it wakes a few turns of the loop later: its wait, then the task awaiting it), and
        its client read them (FIRST_WORDS_PAUSE_SECONDS)."""
        for _ in range(FIRST_WORDS_TURNS if exchange.stream else 0):
            if exchange.first_byte_at is not None:
                if FIRST_WORDS_PAUSE_SECONDS:
                    await asyncio.sleep(FIRST_WORDS_PAUSE_SECONDS)
                return
            await asyncio.sleep(0)

    def _pass_on(self, exchange: Exchange, piece: Piece, guard: StreamGuard, burst: Burst) -> bool:
        """One upstream piece on its way to the client; False once the guard held the reply."""
        if isinstance(piece, TextDelta):
            text, phrase = guard.feed(piece.text)
            if text:
                burst.add(text)
            if phrase is not None:
                burst.flush()
                self._hold(exchange, phrase)
                return False
        elif isinstance(piece, ToolCallDelta):
            burst.flush()
            self.switchboard.write_delta(exchange.id, {"tool_calls": piece.tool_calls})
        elif isinstance(piece, Finish):
            burst.flush()
            self.switchboard.reply(exchange.id, guard.flush(), done=True, author=Author.AUTO,
                                   finish_reason=piece.finish_reason or "stop")
        return True

    def _hold(self, exchange: Exchange, phrase: str) -> None:
        """The LLM was about to say a guard phrase: it stops there, flagged, and the operator
        finishes the reply by hand (what went out stays)."""
        log.info("auto answer for %s held at a guard phrase", exchange.id)
        self._auto.pop(exchange.id, None)  # the window stops saying the LLM is answering
        self.switchboard.take_over(exchange.id)
        self.switchboard.flag_guard(exchange.id, phrase, "held")
        self._notice(exchange, "guard_held",
                     f"The LLM's reply was stopped before the guard phrase {phrase!r}; "
                     "finish it by hand.")

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
        text, draft = self._away_reply(exchange, action)
        if not text or self._guard_stops(exchange, text):
            return
        if draft is not None:
            self.switchboard.drafts.choose(exchange, draft.id)
        with contextlib.suppress(ExchangeClosedError):
            self.switchboard.reply(exchange_id, text, done=True, author=Author.TIMEOUT_POLICY)

    def _away_reply(self, exchange: Exchange, action: str) -> tuple[str, Draft | None]:
        if action == "send_draft":
            usable = [d for d in exchange.drafts if d.text and not d.error]
            if usable:
                return usable[0].text, usable[0]
        elif action == "send_canned" and self.settings.canned_replies:
            return self.settings.canned_replies[0], None
        return "", None

    def _guard_stops(self, exchange: Exchange, text: str) -> bool:
        """Nobody is there to read what the away policy sends, so a reply holding a guard phrase
        waits for the operator instead, flagged."""
        condition = self._condition(exchange)
        phrase = guard_hit(text, condition.guard_phrases) if condition is not None else None
        if phrase is None:
            return False
        self.switchboard.flag_guard(exchange.id, phrase, "held")
        self._notice(exchange, "guard_held",
                     f"The away policy's reply holds the guard phrase {phrase!r}; it was not sent. "
                     "Please answer by hand.")
        return True
