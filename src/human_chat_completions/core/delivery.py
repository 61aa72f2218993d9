"""How an operator's text reaches a client: released live as it is typed, or paced on Send."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass

from human_chat_completions.core.exchange import Author
from human_chat_completions.core.study import Condition, guard_hit
from human_chat_completions.core.switchboard import Switchboard

# A word is finished once whitespace or punctuation follows it (CJK has no spaces between words,
# so its punctuation counts too).
_BOUNDARY = re.compile(r"[\s.,;:!?、。，．！？：；)\]」』）]")

# What an input method may still be composing: kana, CJK ideographs and punctuation, Hangul,
# full-width forms. A Japanese composition can hold punctuation too ("きょうは、いい"), and
# Flet reports no composing range to Python (see `releasable_length`).
_COMPOSABLE = re.compile(
    "[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\ufe30-\ufe4f"
    "\uff00-\uffef]")


def stable_prefix_length(tail: str) -> int:
    """How much of not-yet-sent text ends on a word boundary: everything up to the last one."""
    last = -1
    for match in _BOUNDARY.finditer(tail):
        last = match.end()
    return max(last, 0)


def releasable_length(unsent: str) -> int:
    """How much of the unsent text live typing may release when the operator pauses.

    Only finished words: the last word may still change. And nothing while the text ends in
    characters an input method composes: Flet 1.0 tells Python neither the field's composing
    range nor composition events (its TextField reports only `value` and `selection`), so kana
    still being converted look like any other text. A composition sits at the caret, at the end
    while typing, so text ending in CJK waits for a line break, a Latin character or Send.
    """
    if not unsent or _COMPOSABLE.match(unsent[-1]):
        return 0
    return stable_prefix_length(unsent)


class LiveTyping:
    """Releases what the operator typed once they pause.

    The editor holds only unsent text and reports it on every change (`update`). After `idle`
    seconds without a change the finished words in it (`releasable_length`) go to the client,
    and `on_release` is told what went so that the editor drops it: released text is locked
    because the client cannot un-receive it, and it lives in the reply, never in the editor.
    """

    def __init__(self, switchboard: Switchboard, exchange_id: str, idle: float = 0.8,
                 author: Author = Author.HUMAN,
                 on_release: Callable[[str], None] | None = None,
                 operator: str | None = None) -> None:
        self.operator = operator  # the named operator typing (None: unnamed)
        self.switchboard = switchboard
        self.exchange_id = exchange_id
        self.idle = idle
        self.author = author
        self.on_release = on_release
        self.unsent = ""
        self._idle_timer: asyncio.TimerHandle | None = None

    @property
    def streams(self) -> bool:
        """Non-stream clients get the whole text on Send; nothing is released before."""
        return self.switchboard.get(self.exchange_id).stream

    def update(self, unsent: str) -> None:
        """The editor now holds `unsent`; the pause starts again."""
        self.unsent = unsent
        self.cancel()
        if self.streams and unsent:
            self._idle_timer = asyncio.get_running_loop().call_later(self.idle, self._release)

    def _release(self) -> None:
        self._idle_timer = None
        piece = self.unsent[:releasable_length(self.unsent)]
        if not piece or not self._open() or self._guarded(piece):
            return
        self.switchboard.reply(self.exchange_id, piece, author=self.author, operator=self.operator)
        self.unsent = self.unsent[len(piece):]
        if self.on_release is not None:
            self.on_release(piece)

    def _open(self) -> bool:
        return self.switchboard.get(self.exchange_id).state.open

    def _guarded(self, piece: str) -> bool:
        """Words holding a study's guard phrase wait in the editor for Send, which asks first."""
        exchange = self.switchboard.get(self.exchange_id)
        condition = self.switchboard.conversation(exchange.conversation_id).condition
        return condition is not None and \
            guard_hit(exchange.reply.text + piece, condition.guard_phrases) is not None

    def send(self, unsent: str) -> None:
        """Send: the rest goes, and the reply is finished."""
        self.cancel()
        if self._open():
            self.switchboard.mark_sent(self.exchange_id)
            self.switchboard.reply(self.exchange_id, unsent, done=True, author=self.author,
                                   operator=self.operator)
        self.unsent = ""

    def cancel(self) -> None:
        """Stop the pause's clock (Send, another conversation shown, the window closed)."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None


@dataclass(frozen=True)
class Pace:
    """An LLM-like delivery pace: a pause before the first token, then steady tokens."""

    first_token_delay: float = 0.35
    tokens_per_second: float = 60.0
    chars_per_token: int = 4


def paced_pieces(text: str, pace: Pace) -> list[str]:
    """Token-sized pieces; CJK characters count as a token each, like real tokenizers roughly do."""
    pieces: list[str] = []
    current = ""
    for char in text:
        current += char
        wide = ord(char) > 0x2E7F
        if wide or len(current) >= pace.chars_per_token or char.isspace():
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


def pace_for(condition: Condition | None, default: Pace) -> Pace:
    """A study condition's pace where it sets one, the settings' elsewhere."""
    if condition is None:
        return default
    delay = condition.first_token_ms / 1000 if condition.first_token_ms is not None else None
    return Pace(default.first_token_delay if delay is None else delay,
                condition.tokens_per_second or default.tokens_per_second, default.chars_per_token)


async def send_paced(switchboard: Switchboard, exchange_id: str, text: str, pace: Pace,
                     author: Author = Author.HUMAN, operator: str | None = None) -> None:
    """Stream `text` to the client at `pace`, then finish. Non-stream clients get it at once.
    `operator` is the named operator sending it (None: the window or the main token)."""
    exchange = switchboard.mark_sent(exchange_id)
    if not exchange.stream:
        switchboard.reply(exchange_id, text, done=True, author=author, operator=operator)
        return
    if pace.first_token_delay > 0:  # none: the first piece goes now, not a loop turn later
        await asyncio.sleep(pace.first_token_delay)
    interval = 1.0 / pace.tokens_per_second
    for piece in paced_pieces(text, pace):
        if not exchange.state.open:
            return
        switchboard.reply(exchange_id, piece, author=author, operator=operator)
        await asyncio.sleep(interval)
    if exchange.state.open:
        switchboard.reply(exchange_id, "", done=True, author=author, operator=operator)
