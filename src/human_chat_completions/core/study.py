"""What a study sets for a participant's conversation, and the guard on what reaches them.

A study file (see `human_chat_completions.studies`) assigns each participant a condition; the
API hands the switchboard the condition of the participant whose key sent a request.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from human_chat_completions.core.exchange import Mode


@dataclass(frozen=True)
class Condition:
    """One study condition: the mode its conversations start in, the persona the operator and the
    copilot see (never the participant), the copilot profile, the pace of every Send, and the
    phrases that would break the illusion."""

    study: str
    name: str
    mode: Mode | None = None
    persona: str | None = None
    profile: str | None = None
    first_token_ms: int | None = None
    tokens_per_second: float | None = None
    guard_phrases: tuple[str, ...] = ()


def folded(text: str) -> str:
    """Case- and width-blind form: ＯｐｅｎＡＩ, OPENAI and openai are one text."""
    return unicodedata.normalize("NFKC", text).casefold()


def guard_span(text: str, phrase: str) -> tuple[int, int] | None:
    """Where in `text` (original characters) the folded `phrase` is, for the window to mark it.
    Folding can change lengths (ß → ss), so positions map back character by character."""
    starts: list[int] = []  # folded position → index of the original character it came from
    folded_text = ""
    for index, char in enumerate(text):
        piece = folded(char)
        starts += [index] * len(piece)
        folded_text += piece
    at = folded_text.find(folded(phrase.strip()))
    if at < 0 or not phrase.strip():
        return None
    end = at + len(folded(phrase.strip())) - 1
    return starts[at], starts[end] + 1


def guard_hit(text: str, phrases: tuple[str, ...] | list[str]) -> str | None:
    """The first guard phrase that `text` holds (case- and width-insensitive), if any."""
    haystack = folded(text)
    for phrase in phrases:
        if phrase.strip() and folded(phrase.strip()) in haystack:
            return phrase
    return None
