"""How an operator's text reaches a client: released live as it is typed, or paced on Send."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from human_chat_completions.core.exchange import Author
from human_chat_completions.core.switchboard import Switchboard

# A word is finished once whitespace or punctuation follows it (CJK has no spaces between words,
# so its punctuation counts too).
_BOUNDARY = re.compile(r"[\s.,;:!?、。，．！？：；)\]」』）]")


def stable_prefix_length(tail: str) -> int:
    """How much of not-yet-sent text can go now: everything up to the last word boundary."""
    last = -1
    for match in _BOUNDARY.finditer(tail):
        last = match.end()
    return max(last, 0)


class LiveTyping:
    """Releases what the operator types while they type it.

    The editor reports its full text on every change; only stable text (finished words, or all of
    it after `idle` seconds without a change) is committed, and committed text can never change
    because the client cannot un-receive it.
    """

    def __init__(self, switchboard: Switchboard, exchange_id: str, idle: float = 0.8,
                 author: Author = Author.HUMAN) -> None:
        self.switchboard = switchboard
        self.exchange_id = exchange_id
        self.idle = idle
        self.author = author
        self.committed = switchboard.get(exchange_id).reply.text
        self._idle_timer: asyncio.TimerHandle | None = None
        self._last_text = self.committed

    @property
    def streams(self) -> bool:
        """Non-stream clients get the whole text on Send; nothing is released before."""
        return self.switchboard.get(self.exchange_id).stream

    def update(self, text: str) -> str:
        """The editor now holds `text`. Returns the text the editor must show: the committed part
        is put back if the operator changed it."""
        if not text.startswith(self.committed):
            # An edit reached into the delivered part: refuse it, keep the last valid text.
            text = self._last_text
        self._last_text = text
        if self.streams:
            tail = text[len(self.committed):]
            self._release(tail[: stable_prefix_length(tail)])
            self._restart_idle_timer(text)
        return text

    def _restart_idle_timer(self, text: str) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if len(text) > len(self.committed):
            loop = asyncio.get_running_loop()
            self._idle_timer = loop.call_later(self.idle, self._release_rest, text)

    def _release_rest(self, text: str) -> None:
        if text.startswith(self.committed) and self._open():
            self._release(text[len(self.committed):])

    def _release(self, piece: str) -> None:
        if piece and self._open():
            self.switchboard.reply(self.exchange_id, piece, author=self.author)
            self.committed += piece

    def _open(self) -> bool:
        return self.switchboard.get(self.exchange_id).state.open

    def send(self, text: str) -> None:
        """Send: release whatever is left and finish the reply."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        text = self.update(text) if self.streams else text
        rest = text[len(self.committed):] if text.startswith(self.committed) else ""
        self.switchboard.reply(self.exchange_id, rest, done=True, author=self.author)
        self.committed += rest

    def cancel(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()


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


async def send_paced(switchboard: Switchboard, exchange_id: str, text: str, pace: Pace,
                     author: Author = Author.HUMAN) -> None:
    """Stream `text` to the client at `pace`, then finish. Non-stream clients get it at once."""
    exchange = switchboard.get(exchange_id)
    if not exchange.stream:
        switchboard.reply(exchange_id, text, done=True, author=author)
        return
    await asyncio.sleep(pace.first_token_delay)
    interval = 1.0 / pace.tokens_per_second
    for piece in paced_pieces(text, pace):
        if not exchange.state.open:
            return
        switchboard.reply(exchange_id, piece, author=author)
        await asyncio.sleep(interval)
    if exchange.state.open:
        switchboard.reply(exchange_id, "", done=True, author=author)
