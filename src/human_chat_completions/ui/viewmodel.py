"""What the operator window shows, as plain data: the conversation list and one session's state.

Widgets render this; nothing here imports Flet, so the logic is tested without a browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from human_chat_completions.core import Exchange, ExchangeState, Mode, Switchboard
from human_chat_completions.core.conversation import Conversation


@dataclass(frozen=True)
class ConversationRow:
    """One line of the conversation list."""

    id: str
    label: str
    mode: Mode
    status: str  # waiting | replying | idle (answered) | abandoned (client left) | failed
    waiting_since: float | None
    last_activity: float
    unread: bool
    preview: str
    side_only: bool = False  # nothing but chat apps' own side requests (titles, tags): dimmed
    condition: str | None = None  # the participant's study condition
    armed: bool = False  # a failure waits for the conversation's next request


def open_exchange(switchboard: Switchboard, conversation: Conversation) -> Exchange | None:
    """The exchange the editor answers: the newest one still open in the conversation."""
    for exchange_id in reversed(conversation.exchange_ids):
        exchange = switchboard.exchanges.get(exchange_id)
        if exchange is not None and exchange.state.open:
            return exchange
    return None


def latest_exchange(switchboard: Switchboard, conversation: Conversation) -> Exchange | None:
    """The newest exchange, preferring the participant's own over an app's side request."""
    fallback = None
    for exchange_id in reversed(conversation.exchange_ids):
        exchange = switchboard.exchanges.get(exchange_id)
        if exchange is None:
            continue
        if exchange.side_request is None:
            return exchange
        fallback = fallback or exchange
    return fallback


def conversation_row(switchboard: Switchboard, conversation: Conversation, unread: bool) -> ConversationRow:
    pending = open_exchange(switchboard, conversation)
    latest = latest_exchange(switchboard, conversation)
    if pending is None:
        status, since = _closed_status(latest), None
    elif pending.state is ExchangeState.WAITING:
        status, since = "waiting", pending.received_at
    else:
        status, since = "replying", pending.received_at
    activity = conversation.created_at
    if latest is not None:
        activity = max(latest.received_at, latest.done_at or 0.0)
    preview = latest.preview if latest is not None else ""  # in memory even if the body is not
    return ConversationRow(
        id=conversation.id,
        label=conversation.label,
        mode=conversation.mode,
        status=status,
        waiting_since=since,
        last_activity=activity,
        unread=unread,
        preview=" ".join(preview.split())[:80],
        side_only=latest is not None and latest.side_request is not None,
        condition=conversation.condition.name if conversation.condition else None,
        armed=conversation.armed_failure is not None,
    )


def _closed_status(latest: Exchange | None) -> str:
    """Nothing open: answered, or the participant left before the reply, or it failed."""
    if latest is not None and latest.state is ExchangeState.ABANDONED:
        return "abandoned"
    if latest is not None and latest.state in (ExchangeState.FAILED, ExchangeState.TIMED_OUT):
        return "failed"
    return "idle"


_STATUS_ORDER = {"waiting": 0, "replying": 1, "idle": 2, "abandoned": 2, "failed": 2}


def ordered_rows(rows: list[ConversationRow]) -> list[ConversationRow]:
    """Waiting first (longest wait on top), then replying, then the rest (most recent first)."""
    return sorted(
        rows,
        key=lambda row: (
            _STATUS_ORDER[row.status],
            row.waiting_since if row.waiting_since is not None else -row.last_activity,
        ),
    )


def format_wait(seconds: float) -> str:
    """A live timer: 0:07, 12:03, 1:02:09."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class OperatorState:
    """One operator session: what is selected, what is typed but unsent, what is unread."""

    selected: str | None = None
    drafts: dict[str, str] = field(default_factory=dict)
    delivery: dict[str, str] = field(default_factory=dict)
    unread: set[str] = field(default_factory=set)
    seen_exchanges: set[str] = field(default_factory=set)
    seen_notices: set[tuple[str, str]] = field(default_factory=set)
    markdown: bool = False  # the transcript as Markdown instead of the text as sent
    condition_filter: str | None = None  # only this study condition's conversations
    signed_in: str | None = None  # the named operator signed in here (None: the main operator)

    def held_by_other(self, exchange: Exchange | None) -> str | None:
        """Another named operator answering this exchange, if any."""
        holder = exchange.claimed_by if exchange is not None else None
        return holder if holder is not None and holder != self.signed_in else None

    def note_notice(self, exchange: Exchange) -> bool:
        """True the first time this session sees this notice on this exchange (alert once)."""
        key = (exchange.id, exchange.notice_code or "")
        if key in self.seen_notices:
            return False
        self.seen_notices.add(key)
        return True

    def select(self, conversation_id: str) -> None:
        self.selected = conversation_id
        self.unread.discard(conversation_id)

    def note_new_exchange(self, exchange: Exchange) -> bool:
        """Record a new request; True if it should alert (it is not in the selected conversation
        or it is the first time this session sees it)."""
        if exchange.id in self.seen_exchanges:
            return False
        self.seen_exchanges.add(exchange.id)
        if exchange.conversation_id != self.selected:
            self.unread.add(exchange.conversation_id)
        return True

    def delivery_style(self, conversation_id: str, default: str) -> str:
        return self.delivery.get(conversation_id, default)

    def rows(self, switchboard: Switchboard) -> list[ConversationRow]:
        conversations = switchboard.conversations.conversations.values()
        wanted = self.condition_filter
        rows = [conversation_row(switchboard, c, c.id in self.unread) for c in conversations
                if c.exchange_ids and (wanted is None or (c.condition and c.condition.name == wanted))]
        return ordered_rows(rows)


def conditions(switchboard: Switchboard) -> list[str]:
    """The study conditions of this run's conversations, for the list's filter."""
    return sorted({c.condition.name for c in switchboard.conversations.conversations.values()
                   if c.condition is not None})


def now() -> float:
    return time.time()
