"""Notifications where there is no notification service: logged once, nothing breaks."""

from __future__ import annotations

import logging

import pytest

from human_chat_completions.notify import Notifier, first_words


def test_first_words_keeps_whole_words_on_one_line():
    assert first_words("Hello\n there  friend") == "Hello there friend"
    long = " ".join(f"word{i}" for i in range(40))
    assert first_words(long) == " ".join(f"word{i}" for i in range(16)) + "…"
    assert first_words("x" * 500).endswith("…") and len(first_words("x" * 500)) <= 140
    assert first_words("") == ""


async def test_without_dbus_notifications_log_once_and_carry_on(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    notifier = Notifier()
    assert await notifier.send("Alice", "hello") is False
    assert await notifier.send("Bob", "hello again") is False
    warnings = [r for r in caplog.records if "no desktop notification service" in r.getMessage()]
    assert len(warnings) == 1 and notifier.available is False and notifier.sent == 0


async def test_muted_notifier_does_not_even_probe():
    notifier = Notifier(enabled=lambda: False)
    assert await notifier.send("Alice", "hello") is False
    assert notifier.available is None
