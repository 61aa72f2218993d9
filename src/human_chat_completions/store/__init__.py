"""The exchange log: a SQLite file in the user data dir, and exports read from it."""

from human_chat_completions.store.log import ExchangeLog

__all__ = ["ExchangeLog"]
