"""The one rule for who wrote a reply (core/authorship.py), as a table."""

from __future__ import annotations

import pytest

from human_chat_completions.core.authorship import author_of
from human_chat_completions.core.exchange import Author, Draft

A = Author
DRAFT = "Try Dune."

# (author so far, sender, done, chosen draft's text or None, reply text) -> author
TABLE = [
    # While the reply is open: the first writer holds it; stepping into an auto answer is a take-over.
    (None, A.HUMAN, False, None, "", A.HUMAN),
    (None, A.AUTO, False, None, "", A.AUTO),
    (None, A.TIMEOUT_POLICY, False, None, "", A.TIMEOUT_POLICY),
    (A.HUMAN, A.HUMAN, False, None, "", A.HUMAN),
    (A.AUTO, A.AUTO, False, None, "", A.AUTO),
    (A.AUTO, A.HUMAN, False, None, "", A.AUTO_TAKEOVER),
    (A.AUTO, A.TIMEOUT_POLICY, False, None, "", A.AUTO_TAKEOVER),
    (A.AUTO_TAKEOVER, A.HUMAN, False, None, "", A.AUTO_TAKEOVER),
    (A.AUTO_TAKEOVER, A.AUTO, False, None, "", A.AUTO_TAKEOVER),
    (A.HUMAN, A.AUTO, False, None, "", A.HUMAN),
    # Finished by hand: from scratch, a draft sent as is (whitespace aside), or a draft edited.
    (A.HUMAN, A.HUMAN, True, None, "Hi", A.HUMAN),
    (A.HUMAN, A.HUMAN, True, DRAFT, DRAFT, A.COPILOT),
    (A.HUMAN, A.HUMAN, True, DRAFT, f"  {DRAFT}\n", A.COPILOT),
    (A.HUMAN, A.HUMAN, True, DRAFT, "Try Dune!", A.EDITED),
    (None, A.HUMAN, True, DRAFT, DRAFT, A.COPILOT),
    # Finished by the LLM or the away policy: theirs, even with a draft chosen.
    (A.AUTO, A.AUTO, True, None, "Hello", A.AUTO),
    (None, A.AUTO, True, None, "canned title", A.AUTO),
    (A.AUTO_TAKEOVER, A.AUTO, True, None, "", A.AUTO),
    (A.HUMAN, A.AUTO, True, None, "", A.AUTO),
    (A.TIMEOUT_POLICY, A.TIMEOUT_POLICY, True, DRAFT, DRAFT, A.TIMEOUT_POLICY),
    # A taken-over auto answer stays one, whoever finishes it and whatever draft was used.
    (A.AUTO, A.HUMAN, True, None, "Hello", A.AUTO_TAKEOVER),
    (A.AUTO_TAKEOVER, A.HUMAN, True, DRAFT, DRAFT, A.AUTO_TAKEOVER),
    (A.AUTO, A.TIMEOUT_POLICY, True, None, "Sorry", A.AUTO_TAKEOVER),
]


@pytest.mark.parametrize(("so_far", "sender", "done", "draft", "reply", "expected"), TABLE)
def test_author_of(so_far, sender, done, draft, reply, expected):
    chosen = None if draft is None else Draft(exchange_id="ex_1", profile="p", model="m", text=draft)
    assert author_of(so_far, sender, done=done, chosen=chosen, reply=reply) is expected
