"""The switchboard: exchanges, conversations, modes, reply streams and events.

Plain asyncio and dataclasses; nothing here knows about HTTP, Flet or LLM clients.
"""

from human_chat_completions.core.events import EventBus
from human_chat_completions.core.exchange import Author, Exchange, ExchangeState, Mode
from human_chat_completions.core.stream import ReplyStream
from human_chat_completions.core.switchboard import ExchangeClosedError, Switchboard

__all__ = [
    "Author",
    "EventBus",
    "Exchange",
    "ExchangeClosedError",
    "ExchangeState",
    "Mode",
    "ReplyStream",
    "Switchboard",
]
