"""The switchboard: requests come in, the operator's words go out, every step is announced."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from human_chat_completions.core.authorship import author_of
from human_chat_completions.core.conversation import Conversation, ConversationIndex, HistoryDigests
from human_chat_completions.core.drafts import DraftBook, edit_distance
from human_chat_completions.core.events import (
    ConversationChanged,
    EventBus,
    ExchangeChanged,
    ExchangeClosed,
    ExchangeOpened,
    ReplyDelta,
)
from human_chat_completions.core.exchange import (
    Author,
    ClientInfo,
    Exchange,
    ExchangeState,
    Mode,
)
from human_chat_completions.core.failures_for_retry import RETRY_NOTICES, FailuresForRetry
from human_chat_completions.core.first_words import FirstWords
from human_chat_completions.core.request_cache import RequestCache
from human_chat_completions.core.stream import SHUTDOWN, StreamError
from human_chat_completions.core.study import Condition
from human_chat_completions.core.tool_calls import ToolCall, call_deltas


class ExchangeClosedError(Exception):
    """The exchange can take no more text: it is finished or its client went away."""

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(f"exchange {exchange.id} is {exchange.state.value}")
        self.exchange = exchange


class ExchangeClaimedError(Exception):
    """Another named operator holds the exchange: only they answer it, unless it is taken over."""

    def __init__(self, exchange: Exchange, holder: str) -> None:
        super().__init__(f"exchange {exchange.id} is claimed by {holder}")
        self.exchange = exchange
        self.holder = holder


class Switchboard:
    """Holds every exchange and conversation of this run and routes replies to waiting clients.

    `retry_window` is how long (seconds) an abandoned exchange can be picked up again by an
    identical request, which is what a client's automatic retry after a timeout looks like.
    Finished exchanges' request bodies live in `requests`, a bounded cache: set its `archive`
    (the exchange log) to let it drop bodies from memory.
    """

    def __init__(self, default_mode: Mode = Mode.HUMAN, retry_window: float = 600.0) -> None:
        self.events = EventBus()
        self.drafts = DraftBook(self.events)
        self.conversations = ConversationIndex(default_mode)
        self.exchanges: dict[str, Exchange] = {}
        self.requests = RequestCache()
        self.retry_window = retry_window
        self._by_fingerprint: dict[str, Exchange] = {}
        self._failed = FailuresForRetry(retry_window)
        self.first_words = FirstWords(self.exchanges)
        self.events.first_words_pending = self.first_words.pending

    # -- requests -------------------------------------------------------------------------------

    def open(
        self,
        request: dict[str, Any],
        *,
        stream: bool,
        identity: str | None = None,
        owner: str | None = None,
        fingerprint: str = "",
        client: ClientInfo | None = None,
        is_retry: bool = False,
        condition: Condition | None = None,
        owner_label: str | None = None,
    ) -> Exchange:
        """Take a new request, or return the waiting exchange that this request is a retry of.
        `owner` is the participant whose key sent it: `identity` picks among their threads only.
        `condition` is the owner's study condition: a new thread starts in its mode, and every
        exchange carries its study and name."""
        twin = self._twin(fingerprint, is_retry)
        if twin is not None:
            self._revive(twin)
            return twin
        messages = list(request.get("messages") or [])
        digests = HistoryDigests(messages)
        conversation, regenerates, is_new = self.conversations.resolve(identity, messages, owner,
                                                                       owner_label, digests)
        if condition is not None and conversation.condition != condition:
            self._enter_condition(conversation, condition, is_new)
        exchange = Exchange(
            held_request=request,
            requests=self.requests,
            conversation_id=conversation.id,
            mode=conversation.mode,
            stream=stream,
            client=client or ClientInfo(),
            fingerprint=fingerprint,
            regenerate_of=regenerates,
            study=condition.study if condition else None,
            condition=condition.name if condition else None,
        )
        self.exchanges[exchange.id] = exchange
        if fingerprint:
            self._by_fingerprint[fingerprint] = exchange
        conversation.exchange_ids.append(exchange.id)
        self.conversations.remember_request(conversation, exchange.id, messages, digests)
        if is_new:
            self.events.publish(ConversationChanged(conversation))
        if exchange.mode is Mode.AUTO:
            self.first_words.expect(exchange)  # its upstream is asked as it opens
        self.events.publish(ExchangeOpened(exchange))
        self._fail_at_once(conversation, exchange, is_retry)
        return exchange

    def arm_failure(self, conversation_id: str, message: str, code: str,
                    status: int | None = None) -> Conversation:
        """The conversation's next request fails at once with this error, before its response
        starts: a streaming client then gets the status itself, as from a provider that refuses
        (an exchange already streaming can only carry an error inside its stream)."""
        conversation = self.conversations.conversations[conversation_id]
        conversation.armed_failure = StreamError(message, code, status)
        self.events.publish(ConversationChanged(conversation))
        return conversation

    def disarm_failure(self, conversation_id: str) -> Conversation:
        conversation = self.conversations.conversations[conversation_id]
        conversation.armed_failure = None
        self.events.publish(ConversationChanged(conversation))
        return conversation

    def _fail_at_once(self, conversation: Conversation, exchange: Exchange, is_retry: bool) -> None:
        """A client's retry of a failed request gets the same failure; else a failure armed for
        the conversation's next request fires."""
        earlier = self._failed.for_retry(exchange.fingerprint) if is_retry and exchange.fingerprint else None
        if earlier is not None:
            error, injected = earlier.error, earlier.injected
            exchange.notice, exchange.notice_code = RETRY_NOTICES[injected]
        elif conversation.armed_failure is not None:
            error, injected, conversation.armed_failure = conversation.armed_failure, True, None
            self.events.publish(ConversationChanged(conversation))
        else:
            return
        self.fail(exchange.id, error.message, error.code, status=error.status, injected=injected)

    def enter_condition(self, conversation_id: str, condition: Condition) -> Conversation:
        """A thread continued from an earlier run takes its participant's condition again (the log
        keeps its name, the study file the rest), keeping the mode the operator chose."""
        conversation = self.conversations.conversations[conversation_id]
        self._enter_condition(conversation, condition, is_new=False)
        return conversation

    def _enter_condition(self, conversation: Conversation, condition: Condition, is_new: bool) -> None:
        """A thread takes its participant's condition: new, or continued after a restart (the log
        keeps names, the study file the rest). An existing thread keeps the mode the operator chose."""
        conversation.condition = condition
        if is_new and condition.mode is not None:
            conversation.mode = condition.mode
        if not is_new:
            self.events.publish(ConversationChanged(conversation))

    def _twin(self, fingerprint: str, is_retry: bool) -> Exchange | None:
        twin = self._by_fingerprint.get(fingerprint) if fingerprint else None
        if twin is None:
            return None
        if twin.state.open:
            # An identical request beside a live one may be another participant saying the same
            # thing; only a declared retry, or one whose original connection is gone, attaches.
            return twin if is_retry or twin.readers == 0 else None
        recently = twin.done_at is not None and time.time() - twin.done_at < self.retry_window
        return twin if twin.state is ExchangeState.ABANDONED and recently else None

    def _revive(self, exchange: Exchange) -> None:
        if exchange.state is ExchangeState.ABANDONED:
            self.requests.pin(exchange)  # open again: the operator needs it at hand
            exchange.state = ExchangeState.REPLYING if exchange.reply.text else ExchangeState.WAITING
            exchange.done_at = None
        self.events.publish(ExchangeChanged(exchange))

    def attach(self, exchange: Exchange) -> None:
        """A client connection now waits on this exchange."""
        exchange.readers += 1

    def detach(self, exchange: Exchange) -> None:
        """A client connection let go; if it was the last and the reply is unfinished, the
        exchange is abandoned."""
        exchange.readers -= 1
        if exchange.readers == 0 and exchange.state.open:
            self._close(exchange, ExchangeState.ABANDONED)

    def mark_sent(self, exchange_id: str) -> Exchange:
        """The operator pressed Send: paced delivery counts its first-token delay from here."""
        exchange = self.exchanges[exchange_id]
        if exchange.sent_at is None:
            exchange.sent_at = time.time()
            self.events.publish(ExchangeChanged(exchange))
        return exchange

    def flag_guard(self, exchange_id: str, phrase: str, action: str) -> Exchange:
        """The reply held a guard phrase: `held` (stopped for the operator) or `forced` (the
        operator sent it anyway). A forced reply stays flagged even if held before."""
        exchange = self.exchanges[exchange_id]
        exchange.guard_phrase, exchange.guard_action = phrase, action
        self.events.publish(ExchangeChanged(exchange))
        return exchange

    def note_first_byte(self, exchange: Exchange) -> None:
        """The reply's first byte is being written: its time is noted now, and the event follows
        in the loop's next turn, after the byte. The log writes a finished exchange's change at
        once, and an operator's Send finishes it before its first byte: that write was in front."""
        if exchange.first_byte_at is not None:
            return
        exchange.first_byte_at = time.time()
        try:
            asyncio.get_running_loop().call_soon(self.events.publish, ExchangeChanged(exchange))
        except RuntimeError:  # no loop: nothing is being written after it
            self.events.publish(ExchangeChanged(exchange))

    # -- replies --------------------------------------------------------------------------------

    def get(self, exchange_id: str) -> Exchange:
        return self.exchanges[exchange_id]

    def reply(
        self,
        exchange_id: str,
        text: str,
        *,
        done: bool = False,
        author: Author = Author.HUMAN,
        finish_reason: str = "stop",
        operator: str | None = None,
    ) -> Exchange:
        """Append text to the reply (the client receives it at once); `done` finishes it.
        `operator` is the named operator writing: the record names the last one who wrote."""
        exchange = self._writable(exchange_id, author)
        if operator is not None:
            exchange.operator = operator
        if text:
            exchange.reply.write(text)
            self._replying(exchange)
            self.events.publish(ReplyDelta(exchange, text))
        if done:
            exchange.author = author_of(exchange.author, author, done=True,
                                        chosen=exchange.chosen_draft, reply=exchange.reply.text)
            exchange.reply.close(finish_reason)
            self._close(exchange, ExchangeState.DONE)
        return exchange

    def write_delta(self, exchange_id: str, delta: dict[str, Any], *, author: Author = Author.AUTO) -> Exchange:
        """Pass a non-text delta (tool calls from an upstream LLM) to the client."""
        exchange = self._writable(exchange_id, author)
        exchange.reply.write_delta(delta)
        self._replying(exchange)
        return exchange

    def send_tool_calls(self, exchange_id: str, calls: list[ToolCall], *, author: Author = Author.HUMAN,
                        operator: str | None = None) -> Exchange:
        """Finish the reply with these tool calls (after any text already sent), streamed as an
        LLM streams them; the client's next request carries their results."""
        exchange = self._writable(exchange_id, author)
        if operator is not None:
            exchange.operator = operator
        for index, call in enumerate(calls):
            for delta in call_deltas(index, call.with_id()):
                exchange.reply.write_delta(delta)
        self._replying(exchange)
        return self.reply(exchange_id, "", done=True, author=author, finish_reason="tool_calls")

    def _writable(self, exchange_id: str, author: Author) -> Exchange:
        exchange = self.exchanges[exchange_id]
        if not exchange.state.open:
            raise ExchangeClosedError(exchange)
        exchange.author = author_of(exchange.author, author)
        return exchange

    def _replying(self, exchange: Exchange) -> None:
        self.first_words.expect(exchange)
        if exchange.state is ExchangeState.WAITING:
            exchange.state = ExchangeState.REPLYING
            self.events.publish(ExchangeChanged(exchange))

    def fail(self, exchange_id: str, message: str, code: str = "reply_failed", *,
             status: int | None = None, injected: bool = False) -> Exchange:
        """End an open exchange with an error the client will see. `injected`: the operator chose
        it to see how a participant meets a failure (`status` is the HTTP status to send, or
        `code` is `connection_dropped`); the record names it."""
        exchange = self.exchanges[exchange_id]
        if not exchange.state.open:
            raise ExchangeClosedError(exchange)
        error = StreamError(message, code, status)
        exchange.error = message
        if injected:
            exchange.injected_error = "drop" if error.drops_connection else str(status or 500)
        if exchange.fingerprint and code != SHUTDOWN:
            # A response that started early (a long wait) cannot carry the status, so the failure
            # cuts it and the client's retry must find the status here.
            self._failed.remember(exchange.fingerprint, error, injected)
        exchange.reply.fail(error)
        self._close(exchange, ExchangeState.FAILED)
        return exchange

    def fail_all_open(self, message: str, code: str = SHUTDOWN) -> int:
        """Finish every open exchange with an error (the server is going away). Returns how many."""
        open_ids = [exchange.id for exchange in self.exchanges.values() if exchange.state.open]
        for exchange_id in open_ids:
            self.fail(exchange_id, message, code)
        return len(open_ids)

    def _close(self, exchange: Exchange, state: ExchangeState) -> None:
        exchange.state = state
        exchange.done_at = time.time()
        if state is not ExchangeState.ABANDONED and exchange.fingerprint:
            self._by_fingerprint.pop(exchange.fingerprint, None)
        if state is ExchangeState.DONE:
            chosen = exchange.chosen_draft
            if chosen is not None:
                exchange.edit_distance = edit_distance(chosen.text, exchange.reply.text)
            conversation = self.conversations.conversations[exchange.conversation_id]
            self.conversations.remember_reply(conversation, exchange.messages, exchange.reply.text,
                                              exchange.reply.tool_calls, exchange.id)
        else:
            self.conversations.forget_request(exchange.id)
        self.events.publish(ExchangeClosed(exchange))
        self.requests.admit(exchange)  # after the listeners: they may still read it at once

    # -- what the operator and the copilot record on an exchange ---------------------------------

    def mark_shown(self, exchange_id: str, operator_session: str) -> Exchange:
        """An operator window showed the request; the first window to do so is the one recorded."""
        exchange = self.exchanges[exchange_id]
        if exchange.shown_at is None:
            exchange.shown_at, exchange.operator_session = time.time(), operator_session
            self.events.publish(ExchangeChanged(exchange))
        return exchange

    def mark_first_keystroke(self, exchange_id: str, delivery_style: str) -> Exchange:
        """The operator started typing the reply (only the first keystroke is recorded), and how
        the reply is to be delivered: `live` or `paced`."""
        exchange = self.exchanges[exchange_id]
        if exchange.first_keystroke_at is None:
            exchange.first_keystroke_at, exchange.delivery_style = time.time(), delivery_style
            self.events.publish(ExchangeChanged(exchange))
        return exchange

    def annotate(self, exchange_id: str, note: str | None, tag: str | None) -> Exchange:
        """The operator's research note and tag (e.g. a dialogue act), at any time."""
        exchange = self.exchanges[exchange_id]
        exchange.note, exchange.tag = note, tag
        self.events.publish(ExchangeChanged(exchange))
        return exchange

    def mark_side_request(self, exchange_id: str, rule_name: str) -> Exchange:
        """A chat app's own request (a title, tags…), recognised by the named rule."""
        exchange = self.exchanges[exchange_id]
        exchange.side_request = rule_name
        self.events.publish(ExchangeChanged(exchange))
        return exchange

    def set_notice(self, exchange_id: str, message: str, code: str) -> Exchange:
        """Tell the operator something about this exchange: `message` in English for the API and
        the log, `code` for the window to say in its own language."""
        exchange = self.exchanges[exchange_id]
        exchange.notice, exchange.notice_code = message, code
        self.events.publish(ExchangeChanged(exchange))
        return exchange

    def claim(self, exchange_id: str, operator: str, take_over: bool = False) -> Exchange:
        """The named `operator` answers this open exchange; the first to claim holds it. Held by
        another, it raises ExchangeClaimedError unless `take_over`, which moves it with a notice."""
        exchange = self.exchanges[exchange_id]
        if not exchange.state.open:
            raise ExchangeClosedError(exchange)
        holder = exchange.claimed_by
        if holder == operator:
            return exchange
        if holder is not None and not take_over:
            raise ExchangeClaimedError(exchange, holder)
        exchange.claimed_by = operator
        if holder is None:
            self.events.publish(ExchangeChanged(exchange))
            return exchange
        return self.set_notice(exchange_id, f"Taken over from {holder} by {operator}.", "claim_taken_over")

    def take_over(self, exchange_id: str) -> Exchange:
        """The operator stops an auto answer (the caller stops the LLM): what was sent stays, and
        whoever finishes the reply, it is recorded as auto+takeover."""
        exchange = self.exchanges[exchange_id]
        # The LLM had the reply even if it wrote nothing yet: author_of turns the next writer into
        # a take-over.
        exchange.author = Author.AUTO
        return self.set_notice(exchange_id, "Taken over: finish the reply by hand.", "taken_over")

    # -- conversations --------------------------------------------------------------------------

    def conversation(self, conversation_id: str) -> Conversation:
        return self.conversations.conversations[conversation_id]

    def set_default_mode(self, mode: Mode) -> None:
        """The mode new conversations start in (settings announce the change themselves)."""
        self.conversations.default_mode = mode

    def set_mode(self, conversation_id: str, mode: Mode) -> Conversation:
        """Switch the conversation's mode. A request still waiting (nothing sent yet) is answered
        in the new mode, so it takes the mode too; the copilot follows the announcement."""
        conversation = self.conversations.conversations[conversation_id]
        previous, conversation.mode = conversation.mode, mode
        for exchange in self.open_exchanges(conversation):
            if exchange.state is ExchangeState.WAITING and exchange.mode is not mode:
                exchange.mode = mode
                self.events.publish(ExchangeChanged(exchange))
        self.events.publish(ConversationChanged(conversation, previous_mode=previous))
        return conversation

    def open_exchanges(self, conversation: Conversation) -> list[Exchange]:
        """The conversation's exchanges still open, oldest first."""
        found = (self.exchanges.get(exchange_id) for exchange_id in conversation.exchange_ids)
        return [exchange for exchange in found if exchange is not None and exchange.state.open]

    def waiting(self) -> list[Exchange]:
        """Open exchanges, oldest first: the operator's to-do list."""
        return [exchange for exchange in self.exchanges.values() if exchange.state.open]
