"""One run wired together (`server.build_runtime`): the switchboard follows the run's settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

from human_chat_completions.config import Settings, load_settings
from human_chat_completions.core import Mode
from human_chat_completions.server import build_runtime
from human_chat_completions.settings_store import SettingsStore
from human_chat_completions.ui import door


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


def test_a_window_closing_while_the_server_stops_does_not_break_the_stop(tmp_path: Path, monkeypatch):
    """A browser's close frame can arrive just before the stop, while its connection is still
    listed (its transport flushing): the stop must still close everything and end cleanly."""
    import threading

    from websockets.sync.client import connect

    from tests.support import RunningServer, wait_until

    crashes: list[BaseException] = []
    monkeypatch.setattr(door, "CLOSED_WINDOW_GRACE_SECONDS", 0.1)  # Flet's unregistered handler
    monkeypatch.setattr(threading, "excepthook", lambda args: crashes.append(args.exc_value))
    running = RunningServer(tmp_path / "data").start()
    with connect(f"ws://127.0.0.1:{running.port}/ui/ws", origin=f"http://127.0.0.1:{running.port}"):
        websockets = lambda: [c for c in running.server.server_state.connections  # noqa: E731
                              if hasattr(c, "conn")]
        wait_until(lambda: len(websockets()) == 1)
        window = websockets()[0]
        # The close frame, read by the protocol but not yet answered: state CLOSING, still listed.
        masked_close_1000 = bytes([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8])
        running.on_loop(lambda: window.conn.receive_data(masked_close_1000))
        assert window.conn.state.name == "CLOSING"
        running.stop()
    assert crashes == []
    assert window.transport.is_closing()


def test_a_window_closed_before_it_registered_leaves_no_handler_behind(tmp_path: Path, monkeypatch):
    """Flet's handler waits for ever for a page that closed before registering; the door ends it."""
    from websockets.sync.client import connect

    from tests.support import RunningServer, wait_until

    monkeypatch.setattr(door, "CLOSED_WINDOW_GRACE_SECONDS", 0.1)
    with RunningServer(tmp_path / "data") as running:
        handlers = running.server.server_state.tasks
        with connect(f"ws://127.0.0.1:{running.port}/ui/ws", origin=f"http://127.0.0.1:{running.port}"):
            wait_until(lambda: len(handlers) == 1)
        wait_until(lambda: not handlers, timeout=10)
