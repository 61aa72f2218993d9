"""The guard on an auto answer: words that would complete a study's guard phrase never reach the
participant.

An LLM streams its reply in pieces and a phrase may be split across them ("As an A" + "I model"),
so the end of what arrived that could still begin a phrase is held back until the next piece shows
whether it does:

    guard = StreamGuard(condition.guard_phrases)
    for piece in pieces:
        text, phrase = guard.feed(piece)   # send `text`; a phrase means stop here
    send(guard.flush())                    # the stream ended clean: the held tail goes out
"""

from __future__ import annotations

from collections.abc import Iterable

from human_chat_completions.core.study import folded, guard_hit, guard_span


class StreamGuard:
    """Releases a streamed reply piece by piece, holding back what could begin a guard phrase."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = tuple(p for p in phrases if p.strip())
        self._folded = tuple(folded(p.strip()) for p in self.phrases)
        self._longest = max((len(p) for p in self._folded), default=0)
        self.held = ""

    def feed(self, text: str) -> tuple[str, str | None]:
        """What may go out now, and the guard phrase this piece completed (then nothing after the
        text before that phrase may ever go out)."""
        if not self.phrases:
            return text, None
        # Only the held tail can begin a phrase (what went out could not), so the check stays
        # as small as the piece plus one phrase.
        pending = self.held + text
        phrase = guard_hit(pending, self.phrases)
        if phrase is not None:
            self.held = ""
            span = guard_span(pending, phrase)  # found just now, so never None
            return pending[:span[0] if span else 0], phrase
        keep = self._open_tail(pending)
        self.held = pending[len(pending) - keep:]
        return pending[:len(pending) - keep], None

    def flush(self) -> str:
        """The held tail, once the reply has ended without completing a phrase."""
        held, self.held = self.held, ""
        return held

    def _open_tail(self, text: str) -> int:
        """How many characters at the end of `text` could still begin a guard phrase."""
        for size in range(min(len(text), self._longest), 0, -1):
            start = folded(text[-size:])
            if any(phrase.startswith(start) for phrase in self._folded):
                return size
        return 0

