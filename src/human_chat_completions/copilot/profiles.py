"""Copilot profiles: which OpenAI-compatible upstream drafts replies, and how.

A profile never holds a key: keys live in the OS keyring (see `copilot/keyring_store.py`), or come
from the environment variable the profile names in `key_env`.
"""

from __future__ import annotations

from collections.abc import Iterable

from human_chat_completions.copilot.schemas import Profile

__all__ = ["Profile", "default_profile", "find_profile"]


def find_profile(profiles: Iterable[Profile], name: str) -> Profile | None:
    """The profile called `name`, or None."""
    return next((p for p in profiles if p.name == name), None)


def default_profile(profiles: Iterable[Profile], default_name: str | None) -> Profile | None:
    """The profile named as default; when that is unset or gone, the first profile; None when there are none."""
    profiles = list(profiles)
    if default_name is not None:
        chosen = find_profile(profiles, default_name)
        if chosen is not None:
            return chosen
    return profiles[0] if profiles else None
