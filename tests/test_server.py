"""One run wired together (`server.build_runtime`): the switchboard follows the run's settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

from human_chat_completions.config import Settings, load_settings
from human_chat_completions.core import Mode
from human_chat_completions.server import build_runtime
from human_chat_completions.settings_store import SettingsStore


def ask(runtime, who: str):
    return runtime.switchboard.open({"messages": [{"role": "user", "content": "hi"}]}, stream=True,
                                    identity=who)


async def test_a_default_mode_saved_through_the_store_is_the_mode_of_new_conversations(tmp_path: Path):
    # Async: the copilot routes new exchanges on the running loop, where listeners run too.
    store = SettingsStore(Settings())
    runtime = build_runtime(store, tmp_path / "data", "token")
    try:
        before = ask(runtime, "p1")
        store.update(default_mode=Mode.COPILOT)
        after = ask(runtime, "p2")
        conversation = runtime.switchboard.conversation
        assert conversation(before.conversation_id).mode is Mode.HUMAN
        assert conversation(after.conversation_id).mode is Mode.COPILOT
        assert load_settings().default_mode is Mode.COPILOT
        assert runtime.copilot.settings is store.current  # the copilot reads the same value
        await asyncio.sleep(0)  # the copilot routes the new exchanges before the log closes
    finally:
        runtime.close()


def test_a_plain_value_starts_a_store_of_the_runs_own(tmp_path: Path):
    runtime = build_runtime(Settings(default_mode=Mode.AUTO), tmp_path / "data", "token")
    try:
        assert runtime.settings_store.current.default_mode is Mode.AUTO
        assert runtime.switchboard.conversations.default_mode is Mode.AUTO
    finally:
        runtime.close()
