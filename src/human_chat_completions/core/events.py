"""Switchboard events and the pub/sub that carries them to the store, the UI and the operator API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from human_chat_completions.core.conversation import Conversation
    from human_chat_completions.core.exchange import Draft, Exchange, Mode

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExchangeOpened:
    type: ClassVar[str] = "exchange.opened"
    exchange: Exchange


@dataclass(frozen=True, slots=True)
class ExchangeChanged:
    """State or bookkeeping changed: replying started, a retry re-attached, first byte sent."""

    type: ClassVar[str] = "exchange.changed"
    exchange: Exchange


@dataclass(frozen=True, slots=True)
class ReplyDelta:
    type: ClassVar[str] = "reply.delta"
    exchange: Exchange
    text: str


@dataclass(frozen=True, slots=True)
class ExchangeClosed:
    """Finished for good: done, failed, timed out, or abandoned because the client went away."""

    type: ClassVar[str] = "exchange.closed"
    exchange: Exchange


@dataclass(frozen=True, slots=True)
class DraftChanged:
    """A copilot draft started, grew (`text` is the new piece) or finished (`draft.finished`)."""

    type: ClassVar[str] = "draft.changed"
    exchange: Exchange
    draft: Draft
    text: str = ""


@dataclass(frozen=True, slots=True)
class ConversationChanged:
    """A conversation started or changed; `previous_mode` is set when its mode was switched."""

    type: ClassVar[str] = "conversation.changed"
    conversation: Conversation
    previous_mode: Mode | None = None


Event = (
    ExchangeOpened | ExchangeChanged | ReplyDelta | ExchangeClosed | DraftChanged | ConversationChanged
)
Listener = Callable[[Event], None]


# How long a subscriber waiting for events sleeps on after one arrives: windows and feeds then
# never stand between a reply and its client's next bytes, and a burst of events wakes them once.
SUBSCRIBER_DELAY = 0.002
# While a reply's first words are on their way (an auto answer's upstream has been asked, or a
# person's text is written but not yet sent), subscribers wait on, by SUBSCRIBER_DELAY at a time,
# up to this long after the first event they hold: an upstream answering in 3 ms met the live
# view in the middle of its first words. Nobody watching a window sees 50 ms.
SUBSCRIBER_HOLD_LIMIT = 0.05


class Subscription(asyncio.Queue["Event"]):
    """A subscriber's queue. An event is in it at once for whoever looks (`empty`, `qsize`,
    `get_nowait`, a `get` that finds it there); a reader already waiting in `get` is woken
    SUBSCRIBER_DELAY later (or once `busy()` says no first words are on their way, within
    SUBSCRIBER_HOLD_LIMIT), with everything that came meanwhile."""

    def __init__(self, busy: Callable[[], bool] = lambda: False) -> None:
        super().__init__()
        self._held: list[Event] = []
        self._timer: asyncio.TimerHandle | None = None
        self._busy = busy
        self._held_since = 0.0

    def put_nowait(self, item: Event) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # nothing could wake a reader later
            self._release()
            super().put_nowait(item)
            return
        self._held.append(item)
        if self._timer is None:
            self._held_since = loop.time()
            self._timer = loop.call_later(SUBSCRIBER_DELAY, self._due)

    def _due(self) -> None:
        loop = asyncio.get_running_loop()
        if self._busy() and loop.time() - self._held_since < SUBSCRIBER_HOLD_LIMIT:
            self._timer = loop.call_later(SUBSCRIBER_DELAY, self._due)
            return
        self._release()

    def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        held, self._held = self._held, []
        for item in held:
            super().put_nowait(item)

    def empty(self) -> bool:
        self._release()
        return super().empty()

    def qsize(self) -> int:
        self._release()
        return super().qsize()

    def get_nowait(self) -> Event:
        self._release()
        return super().get_nowait()

    def close(self) -> None:
        """The subscriber left: no wake-up is due any more."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class EventBus:
    """Listeners run inline, in order, as an event is published (the store must write before anyone
    else sees a request); subscribers get their own queue and read at their own pace."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._queues: set[Subscription] = set()
        # Set by the switchboard: True while some reply's first words are on their way.
        self.first_words_pending: Callable[[], bool] = lambda: False

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, event: Event) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                # One broken listener must not stop a reply from reaching its client.
                log.exception("event listener failed on %s", event.type)
        for queue in self._queues:
            queue.put_nowait(event)

    @contextlib.contextmanager
    def subscription(self) -> Iterator[asyncio.Queue[Event]]:
        """A queue that receives every event published while the block runs."""
        queue = Subscription(lambda: self.first_words_pending())
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
            queue.close()
