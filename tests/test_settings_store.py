"""The run's settings store: a change is validated, saved, then announced; a refused one is not."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from human_chat_completions.config import Settings, save_settings, settings_path
from human_chat_completions.core import Mode
from human_chat_completions.settings_store import SettingsChange, SettingsStore


def test_update_saves_the_new_value_then_tells_every_listener():
    store = SettingsStore(Settings(port=8123))
    seen: list[tuple[SettingsChange, dict]] = []
    # A listener reading the file proves the value was saved before anyone heard of it.
    store.listen(lambda change: seen.append((change, json.loads(settings_path().read_text()))))
    new = store.update(default_mode=Mode.COPILOT, canned_replies=["One moment."])
    assert store.current is new and new.default_mode is Mode.COPILOT and new.port == 8123
    [(change, on_disk)] = seen
    assert change.old == Settings(port=8123) and change.new is new
    assert change.fields == {"default_mode", "canned_replies"} and change.touches(["default_mode"])
    assert on_disk["default_mode"] == "copilot" and on_disk["canned_replies"] == ["One moment."]


def test_an_unchanged_value_is_saved_but_announces_nothing():
    store = SettingsStore()
    seen: list[SettingsChange] = []
    store.listen(seen.append)
    store.update(port=8000)
    assert seen == [] and settings_path().exists()


def test_an_invalid_replace_raises_and_changes_nothing():
    before = Settings(port=8123)
    save_settings(before)
    on_disk = settings_path().read_bytes()
    store = SettingsStore(before)
    seen: list[SettingsChange] = []
    store.listen(seen.append)
    # model_copy skips validation: the store validates again.
    with pytest.raises(ValidationError, match="port"):
        store.replace(before.model_copy(update={"port": 0}))
    with pytest.raises(ValidationError, match="tokens_per_second"):
        store.update(tokens_per_second="fast")
    assert store.current is before and seen == []
    assert settings_path().read_bytes() == on_disk


def test_a_value_that_cannot_be_saved_is_not_taken():
    def full_disk(_settings: Settings) -> None:
        raise OSError(28, "No space left on device")

    store = SettingsStore(Settings(), save=full_disk)
    seen: list[SettingsChange] = []
    store.listen(seen.append)
    with pytest.raises(OSError, match="No space"):
        store.update(language="ja")
    assert store.current.language == "auto" and seen == []


def test_adopting_a_value_already_on_disk_announces_it_without_writing():
    written: list[Settings] = []
    store = SettingsStore(Settings(), save=written.append)
    seen: list[SettingsChange] = []
    store.listen(seen.append)
    store.replace(Settings(port=8124), save=False)
    assert written == [] and [change.fields for change in seen] == [{"port"}]


def test_a_failing_listener_does_not_keep_the_change_from_the_others(caplog: pytest.LogCaptureFixture):
    store = SettingsStore(save=lambda _settings: None)
    seen: list[SettingsChange] = []

    def broken(_change: SettingsChange) -> None:
        raise RuntimeError("listener bug")

    store.listen(broken)
    store.listen(seen.append)
    store.update(theme="dark")
    assert store.current.theme == "dark" and len(seen) == 1
    assert "a settings listener failed" in caplog.text


def test_a_listener_that_stopped_hears_nothing_more():
    store = SettingsStore(save=lambda _settings: None)
    seen: list[SettingsChange] = []
    stop = store.listen(seen.append)
    store.update(theme="dark")
    stop()
    stop()  # twice is harmless (a window may close twice)
    store.update(theme="light")
    assert [change.new.theme for change in seen] == ["dark"]
