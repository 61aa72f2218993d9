"""Copilot drafts on an exchange: streamed in, finished, chosen; and how much a chosen one was edited."""

from __future__ import annotations

import time

from human_chat_completions.core.events import DraftChanged, EventBus, ExchangeChanged
from human_chat_completions.core.exchange import Draft, Exchange


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in characters (how much the operator changed a draft).

    The shared start and end are cut off first: an operator's edit usually touches a small part,
    and the quadratic table is then built only over that part.
    """
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start:len(a) - end], b[start:len(b) - end]
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


class DraftBook:
    """Records copilot drafts on exchanges, and the operator's choice among them, announcing each change.

    Owned by the switchboard (`switchboard.drafts`): drafts are part of the exchange it writes.
    """

    def __init__(self, events: EventBus) -> None:
        self.events = events

    def start(self, exchange: Exchange, profile: str, model: str,
              instruction: str | None = None) -> Draft:
        draft = Draft(exchange_id=exchange.id, profile=profile, model=model, instruction=instruction)
        exchange.drafts.append(draft)
        self.events.publish(DraftChanged(exchange, draft))
        return draft

    def grow(self, exchange: Exchange, draft: Draft, text: str) -> None:
        if not text or draft.finished:
            return
        if draft.first_token_at is None:
            draft.first_token_at = time.time()
        draft.text += text
        self.events.publish(DraftChanged(exchange, draft, text))

    def finish(self, exchange: Exchange, draft: Draft, error: str | None = None) -> None:
        if draft.finished:
            return
        draft.done_at = time.time()
        draft.error = error
        self.events.publish(DraftChanged(exchange, draft))

    def choose(self, exchange: Exchange, draft_id: str | None) -> None:
        """The operator took this draft into the editor (None: discarded all drafts)."""
        exchange.chosen_draft_id = draft_id
        self.events.publish(ExchangeChanged(exchange))
