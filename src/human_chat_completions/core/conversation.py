"""Conversations: which requests belong to the same participant's thread."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from human_chat_completions.core.exchange import Mode, message_text
from human_chat_completions.core.stream import StreamError
from human_chat_completions.core.study import Condition
from human_chat_completions.core.tool_calls import normalized_calls


@dataclass(eq=False)
class Conversation:
    """A thread of exchanges with one participant."""

    id: str
    label: str
    mode: Mode
    identity: str | None = None
    owner: str | None = None  # the participant whose key opened it: only they can reach it
    condition: Condition | None = None  # the owner's study condition
    armed_failure: StreamError | None = None  # the error its next request gets at once
    created_at: float = field(default_factory=time.time)
    exchange_ids: list[str] = field(default_factory=list)


def history_key(messages: list[dict[str, Any]]) -> str:
    """A digest of what a chat history says, blind to how a client spells it on the wire.

    Clients echo our reply back with extra fields (`refusal: null`, parts instead of a string) or
    trimmed whitespace, so only role, name, text and tool traffic count.
    """
    return HistoryDigests(messages).full


class HistoryDigests:
    """The digests of a request's whole history and of the part an earlier exchange answered
    (`answered_history`), made in one pass: a long history is read once per request. The whole
    history's hash goes on into `with_reply`, so the thread's next turn costs one message."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        answered_length = len(answered_history(messages))
        said = [_said(message) for message in messages]
        self._digest = hashlib.sha256(_encoded(said[:answered_length]))
        self.answered = self._digest.hexdigest() if answered_length else None
        self._digest.update(_encoded(said[answered_length:]))
        self.full = self._digest.hexdigest()

    def with_reply(self, reply: dict[str, Any]) -> str:
        """The digest of this history followed by `reply` (an assistant message)."""
        digest = self._digest.copy()
        digest.update(_encoded([_said(reply)]))
        return digest.hexdigest()


def _said(message: dict[str, Any]) -> str:
    """What a message says, spelled unambiguously (repr quotes and escapes its strings) for the
    digest only: it is never stored. Formatting the reprs took a third of the time a tuple's repr
    took, and a plain {role, content} message, most of a long history, skips the general reading."""
    content = message.get("content")
    if type(content) is str and len(message) == 2 and "role" in message:
        return "%r None %r None None\n" % (message["role"], content.strip())
    return "%r %r %r %r %r\n" % (message.get("role"), message.get("name"), message_text(message).strip(),
                                 normalized_calls(message.get("tool_calls")), message.get("tool_call_id"))


def _encoded(said: list[str]) -> bytes:
    return "".join(said).encode("utf-8", "surrogatepass")


IdentityKey = tuple[str | None, str | None]


def thread_label(owner: str | None, identity: str | None) -> str | None:
    if owner and identity:
        return f"{owner} · {identity}"
    return owner or identity


class ConversationIndex:
    """Finds the conversation a request belongs to: explicit identity first, then its history.

    Everything is looked up within an owner (the participant whose key sent the request, or
    nobody): a participant's header, `user` or history can only pick among their own threads.
    """

    def __init__(self, default_mode: Mode = Mode.HUMAN) -> None:
        self.default_mode = default_mode
        self.conversations: dict[str, Conversation] = {}
        self._by_identity: dict[IdentityKey, Conversation] = {}
        self._by_history: dict[tuple[str | None, str], Conversation] = {}
        self._last_request: dict[tuple[str | None, str], tuple[Conversation, str]] = {}
        self._open: dict[str, HistoryDigests] = {}  # by exchange id, until it ends

    def resolve(
        self, identity: str | None, messages: list[dict[str, Any]], owner: str | None = None,
        owner_label: str | None = None, digests: HistoryDigests | None = None,
    ) -> tuple[Conversation, str | None, bool]:
        """Return (conversation, id of the exchange this regenerates or None, whether it is new).
        `owner_label` is how a new thread names its owner when the owner's id is not for people
        (a study participant is `study:P01`, shown as `P01`); `digests` are the messages' own,
        when the caller has them already."""
        named = bool(identity or owner)
        digests = digests or HistoryDigests(messages)
        asked = self._last_request.get((owner, digests.full))
        if asked is not None and not named and _opening(messages):
            # Two participants may well open with the same words; without an identity, an opening
            # message is a new thread rather than a regenerate.
            asked = None
        if named:
            conversation = self._by_identity.get((owner, identity))
            if conversation is None:
                return self._create(identity, owner, owner_label), None, True
        elif asked is not None:
            conversation = asked[0]
        else:
            found = self._by_history.get((owner, digests.answered)) if digests.answered else None
            if found is None:
                return self._create(None, None), None, True
            conversation = found
        regenerates = asked[1] if asked is not None and asked[0] is conversation else None
        return conversation, regenerates, False

    def _create(self, identity: str | None, owner: str | None,
                owner_label: str | None = None) -> Conversation:
        label = thread_label(owner_label or owner, identity) or f"#{len(self.conversations) + 1}"
        conversation = Conversation(id="conv_" + uuid.uuid4().hex[:16], label=label,
                                    mode=self.default_mode, identity=identity, owner=owner)
        self.add(conversation)
        return conversation

    def add(self, conversation: Conversation) -> None:
        self.conversations[conversation.id] = conversation
        if conversation.identity or conversation.owner:
            self._by_identity[(conversation.owner, conversation.identity)] = conversation

    def remember_request(
        self, conversation: Conversation, exchange_id: str, messages: list[dict[str, Any]],
        digests: HistoryDigests | None = None,
    ) -> None:
        """`digests` are kept until the exchange ends (`remember_reply` or `forget_request`)."""
        digests = digests or HistoryDigests(messages)
        self._last_request[(conversation.owner, digests.full)] = (conversation, exchange_id)
        self._open[exchange_id] = digests

    def forget_request(self, exchange_id: str) -> None:
        """The exchange ended without a reply to remember."""
        self._open.pop(exchange_id, None)

    def remember_reply(
        self, conversation: Conversation, messages: list[dict[str, Any]], reply: str,
        tool_calls: list[dict[str, Any]] | None = None, exchange_id: str | None = None,
    ) -> None:
        """A later request whose history is these messages plus this reply (text, tool calls)
        continues the thread."""
        said: dict[str, Any] = {"role": "assistant", "content": reply}
        if tool_calls:
            said["tool_calls"] = tool_calls
        digests = self._open.pop(exchange_id, None) if exchange_id else None
        key = digests.with_reply(said) if digests else history_key([*messages, said])
        self._by_history[(conversation.owner, key)] = conversation


def answered_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The part of a history that an earlier exchange answered: all but the new turn, which is a
    user message, the tool results that follow the assistant's tool calls, or both (an agent app
    sends results and the user's next words together)."""
    end = len(messages)
    if end and messages[end - 1].get("role") != "tool":
        end -= 1
    while end > 0 and messages[end - 1].get("role") == "tool":
        end -= 1
    return messages[:end]


def _opening(messages: list[dict[str, Any]]) -> bool:
    """True when the history holds nothing but instructions and one user turn."""
    return sum(1 for message in messages if message.get("role") not in ("system", "developer")) <= 1
