"""Who wrote a reply: the one rule, applied by the switchboard each time someone writes to it."""

from __future__ import annotations

from human_chat_completions.core.exchange import Author, Draft

_LLM = (Author.AUTO, Author.AUTO_TAKEOVER)


def author_of(
    so_far: Author | None,
    sender: Author,
    *,
    done: bool = False,
    chosen: Draft | None = None,
    reply: str = "",
) -> Author:
    """The author of a reply once `sender` has written to it.

    `so_far` is the author recorded before this write (`Author.AUTO` once an LLM has had the
    reply, even if the operator stopped it before it wrote anything). While the reply is open,
    the first writer holds it and anyone stepping into an auto answer makes it a take-over. When
    `done`, the final word: a taken-over auto answer stays one, a human reply based on the
    `chosen` draft is `copilot` (sent as is) or `edited`, anything else is the sender's.
    """
    if not done:
        if so_far is None:
            return sender
        return Author.AUTO_TAKEOVER if so_far is Author.AUTO and sender is not Author.AUTO else so_far
    if so_far in _LLM and sender is not Author.AUTO:
        return Author.AUTO_TAKEOVER
    if sender is Author.HUMAN and chosen is not None:
        return Author.COPILOT if chosen.text.strip() == reply.strip() else Author.EDITED
    return sender
