"""ExchangeRecord: the one projection of an exchange that every reader shares.

The operator API returns it, the log stores it, the log's readers load it back, the exports and the
Logs page consume it, the spill file writes it. Its field names are the export's, because
researchers already hold files in that shape: `outcome`, `final`, `participant`,
`conversation{id, label, identity, owner}`, `timestamps{...}`.

It never holds an API key, masked or not. Timestamps are ISO 8601 strings in UTC with milliseconds,
the form the log stores and its filters compare as plain strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, computed_field

from human_chat_completions.core.conversation import Conversation
from human_chat_completions.core.exchange import Draft, Exchange, last_user_text

# What the log keeps elsewhere: the request in a table of its own (stored once, it may be megabytes),
# and what is computed from the record itself.
NOT_IN_RECORD_JSON = frozenset({"request", "user_input", "participant"})


def compact_json(value: Mapping[str, Any]) -> bytes:
    """`value` as compact UTF-8 JSON. orjson wrote a 100-message history in a fourteenth of
    json's time; what it refuses (an integer past 64 bits, a client may send one in a tool
    schema) is written by json, in ASCII: escaped, even half a surrogate pair is valid UTF-8."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


class _Part(BaseModel):
    # Records outlive versions: a field added later is ignored by an older reader, not refused.
    model_config = ConfigDict(extra="ignore")


class ConversationRef(_Part):
    id: str
    label: str | None = None
    identity: str | None = None
    owner: str | None = None  # the participant whose key opened it


class DraftRecord(_Part):
    id: str
    profile: str
    model: str | None = None
    instruction: str | None = None
    text: str = ""
    started_at: str | None = None
    first_token_at: str | None = None
    done_at: str | None = None  # set once the draft finished (with or without an error)
    error: str | None = None


class Timestamps(_Part):
    received_at: str | None = None
    shown_at: str | None = None
    first_draft_token_at: str | None = None
    first_keystroke_at: str | None = None
    sent_at: str | None = None
    first_byte_at: str | None = None
    done_at: str | None = None


class ClientRecord(_Part):
    address: str | None = None
    user_agent: str | None = None


class ExchangeRecord(_Part):
    """One exchange, complete: the request, drafts, reply, who wrote it, when, and how it ended.

    `outcome` is the exchange's state (`waiting`, `replying`, `done`, `abandoned`, `failed`,
    `timed_out`) or `interrupted` (left open by a run that died). `author`, `mode` and `outcome`
    are plain strings: a log written by a later version still reads.
    """

    id: str
    conversation: ConversationRef
    model: str = ""
    stream: bool = False
    request: dict[str, Any] = Field(default_factory=dict)
    drafts: list[DraftRecord] = Field(default_factory=list)
    chosen_draft_id: str | None = None
    final: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    finish_reason: str | None = None
    author: str | None = None
    mode: str
    delivery_style: str | None = None
    operator_session: str | None = None
    timestamps: Timestamps = Field(default_factory=Timestamps)
    outcome: str
    error: str | None = None
    edit_distance: int | None = None
    note: str | None = None
    tag: str | None = None
    side_request: str | None = None  # the rule that recognised a chat app's own request
    study: str | None = None
    condition: str | None = None
    operator: str | None = None  # the named operator who wrote the reply
    claimed_by: str | None = None
    guard_phrase: str | None = None
    guard_action: str | None = None  # held | forced
    injected_error: str | None = None  # "429", "500", "503", "529" or "drop": sent on purpose
    notice: str | None = None
    notice_code: str | None = None
    regenerate_of: str | None = None
    client: ClientRecord = Field(default_factory=ClientRecord)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def participant(self) -> str | None:
        """Who the researcher sees in tables: the participant whose key sent it (a study's
        `P01`, whose threads are owned as `study:P01`), else the conversation's label."""
        owner = self.conversation.owner
        if owner and self.study and owner.startswith(self.study + ":"):
            return owner[len(self.study) + 1:]
        return owner or self.conversation.label

    @computed_field  # type: ignore[prop-decorator]
    @property
    def user_input(self) -> str:
        """The whole last user message of the request: what the participant just said."""
        messages = self.request.get("messages")
        return last_user_text(messages) if isinstance(messages, list) else ""

    @property
    def chosen_draft(self) -> DraftRecord | None:
        return next((d for d in self.drafts if d.id == self.chosen_draft_id), None)

    def response_seconds(self) -> float | None:
        """How long the operator took: received → done, for exchanges that were answered."""
        received, done = self.timestamps.received_at, self.timestamps.done_at
        if self.outcome != "done" or not received or not done:
            return None
        return (datetime.fromisoformat(done) - datetime.fromisoformat(received)).total_seconds()

    def stored_json(self) -> str:
        """The record as the log's `record_json` column holds it (without the request)."""
        return self.model_dump_json(exclude=set(NOT_IN_RECORD_JSON))

    @classmethod
    def from_stored(cls, record_json: str, request: dict[str, Any]) -> ExchangeRecord:
        return cls.model_validate({**json.loads(record_json), "request": request})


def draft_record(draft: Draft) -> DraftRecord:
    return DraftRecord(
        id=draft.id, profile=draft.profile, model=draft.model, instruction=draft.instruction,
        text=draft.text, started_at=iso(draft.started_at), first_token_at=iso(draft.first_token_at),
        done_at=iso(draft.done_at), error=draft.error,
    )


def conversation_ref(conversation: Conversation) -> ConversationRef:
    return ConversationRef(id=conversation.id, label=conversation.label,
                           identity=conversation.identity, owner=conversation.owner)


def record_of(exchange: Exchange, conversation: Conversation | ConversationRef) -> ExchangeRecord:
    """The record of an exchange as it is now, in `conversation` (its own)."""
    ref = conversation if isinstance(conversation, ConversationRef) else conversation_ref(conversation)
    return ExchangeRecord(
        id=exchange.id,
        conversation=ref,
        model=exchange.model,
        stream=exchange.stream,
        request=exchange.request,
        drafts=[draft_record(draft) for draft in exchange.drafts],
        chosen_draft_id=exchange.chosen_draft_id,
        final=exchange.reply.text,
        tool_calls=exchange.reply.tool_calls,
        finish_reason=exchange.reply.finish_reason,
        author=exchange.author.value if exchange.author else None,
        mode=exchange.mode.value,
        delivery_style=exchange.delivery_style,
        operator_session=exchange.operator_session,
        timestamps=Timestamps(
            received_at=iso(exchange.received_at), shown_at=iso(exchange.shown_at),
            first_draft_token_at=iso(exchange.first_draft_token_at),
            first_keystroke_at=iso(exchange.first_keystroke_at), sent_at=iso(exchange.sent_at),
            first_byte_at=iso(exchange.first_byte_at), done_at=iso(exchange.done_at),
        ),
        outcome=exchange.state.value,
        error=exchange.error,
        edit_distance=exchange.edit_distance,
        note=exchange.note,
        tag=exchange.tag,
        side_request=exchange.side_request,
        study=exchange.study,
        condition=exchange.condition,
        operator=exchange.operator,
        claimed_by=exchange.claimed_by,
        guard_phrase=exchange.guard_phrase,
        guard_action=exchange.guard_action,
        injected_error=exchange.injected_error,
        notice=exchange.notice,
        notice_code=exchange.notice_code,
        regenerate_of=exchange.regenerate_of,
        client=ClientRecord(address=exchange.client.address, user_agent=exchange.client.user_agent),
    )
