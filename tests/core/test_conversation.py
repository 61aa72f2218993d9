"""Conversation matching, directly on the index: identity, owners, history and regenerates."""

from __future__ import annotations

from human_chat_completions.core.conversation import ConversationIndex, HistoryDigests, history_key
from human_chat_completions.core.exchange import Mode


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def test_history_continues_a_thread_after_its_reply():
    index = ConversationIndex()
    first, regenerates, new = index.resolve(None, [user("hi")])
    assert new and regenerates is None and first.label == "#1"
    index.remember_request(first, "ex1", [user("hi")])
    index.remember_reply(first, [user("hi")], "Hello!")
    second, regenerates, new = index.resolve(None, [user("hi"), assistant("Hello!"), user("more")])
    assert second is first and not new and regenerates is None


def test_a_reply_continues_the_digest_its_request_began():
    """The request's digest goes on into its reply's: the same key as digesting it all again,
    whatever the reply holds, and the thread continues from a later request either way."""
    index = ConversationIndex()
    history = [{"role": "system", "content": "Be kind."}, user("hi"), assistant("Hello!"),
               {"role": "user", "name": "P1", "content": [{"type": "text", "text": "more"}]}]
    conversation, _, _ = index.resolve(None, history)
    index.remember_request(conversation, "ex1", history, HistoryDigests(history))
    calls = [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]
    index.remember_reply(conversation, history, "Sure.", calls, exchange_id="ex1")
    said = {"role": "assistant", "content": "Sure.", "tool_calls": calls}
    assert HistoryDigests(history).with_reply(said) == history_key([*history, said])
    respaced = {**calls[0], "function": {"name": "f", "arguments": '{ "a":1 }'}}
    later = [*history, {"role": "assistant", "content": "Sure.", "tool_calls": [respaced]},
             {"role": "tool", "tool_call_id": "call_1", "content": "42"}]
    assert index.resolve(None, later)[0] is conversation


def test_a_repeated_request_regenerates_but_an_anonymous_opening_is_a_new_thread():
    index = ConversationIndex()
    history = [user("hi"), assistant("Hello!"), user("more")]
    conversation, _, _ = index.resolve("p1", history)
    index.remember_request(conversation, "ex1", history)
    again, regenerates, new = index.resolve("p1", history)
    assert again is conversation and regenerates == "ex1" and not new
    opening, _, _ = index.resolve(None, [user("hi")])
    index.remember_request(opening, "ex2", [user("hi")])
    other, regenerates, new = index.resolve(None, [user("hi")])
    assert new and other is not opening and regenerates is None


def test_an_owner_only_reaches_their_own_threads():
    index = ConversationIndex()
    alice, _, _ = index.resolve("shared", [user("hi")], owner="Alice")
    index.remember_request(alice, "ex1", [user("hi")])
    index.remember_reply(alice, [user("hi")], "Hello Alice")
    assert alice.label == "Alice · shared" and alice.owner == "Alice"
    by_name, _, new = index.resolve("shared", [user("x")], owner="Bob")
    assert new and by_name is not alice and by_name.label == "Bob · shared"
    by_history, _, new = index.resolve(None, [user("hi"), assistant("Hello Alice"), user("x")], owner="Bob")
    assert by_history is not alice
    anonymous, _, _ = index.resolve("shared", [user("x")])
    assert anonymous not in (alice, by_name)
    again, _, new = index.resolve("shared", [user("y")], owner="Alice")
    assert again is alice and not new


def test_a_participant_without_a_thread_name_has_one_thread_in_the_default_mode():
    index = ConversationIndex(default_mode=Mode.COPILOT)
    first, _, _ = index.resolve(None, [user("hello")], owner="P01")
    second, _, new = index.resolve(None, [user("new chat")], owner="P01")
    assert second is first and not new and first.label == "P01" and first.mode is Mode.COPILOT


def test_history_key_is_blind_to_wire_spelling():
    plain = [user("hi"), assistant("Hello!")]
    spelled = [{"role": "user", "content": [{"type": "text", "text": "hi "}]},
               {"role": "assistant", "content": "Hello!", "refusal": None}]
    assert history_key(plain) == history_key(spelled)
