from __future__ import annotations

import json

from human_chat_completions.config import Settings, settings_path
from human_chat_completions.core import Mode, Switchboard
from human_chat_completions.settings_store import SettingsStore
from human_chat_completions.ui.i18n import STRINGS, Translator, resolve_language
from human_chat_completions.ui.settings_view import SettingsView
from human_chat_completions.ui.viewmodel import OperatorState, format_wait


def ask(board: Switchboard, who: str, text: str):
    exchange = board.open({"messages": [{"role": "user", "content": text}]}, stream=True,
                          identity=who)
    board.attach(exchange)
    return exchange


def test_list_puts_longest_waiting_first_then_replying_then_recent_idle():
    board = Switchboard()
    idle_old = ask(board, "idle-old", "a")
    board.reply(idle_old.id, "x", done=True)
    waiting_late = ask(board, "waiting-late", "b")
    replying = ask(board, "replying", "c")
    board.reply(replying.id, "typing…")
    idle_new = ask(board, "idle-new", "d")
    board.reply(idle_new.id, "y", done=True)
    waiting_early = ask(board, "waiting-early", "e")
    waiting_early.received_at = waiting_late.received_at - 30
    rows = OperatorState().rows(board)
    assert [row.label for row in rows] == ["waiting-early", "waiting-late", "replying", "idle-new",
                                           "idle-old"]
    assert [row.status for row in rows] == ["waiting", "waiting", "replying", "idle", "idle"]


def test_unread_marks_other_conversations_and_selecting_clears_it():
    board = Switchboard()
    state = OperatorState()
    first = ask(board, "p1", "hi")
    assert state.note_new_exchange(first) and not state.note_new_exchange(first)
    state.select(first.conversation_id)
    second = ask(board, "p2", "hello")
    state.note_new_exchange(second)
    third = ask(board, "p1", "again")
    state.note_new_exchange(third)
    assert state.unread == {second.conversation_id}
    state.select(second.conversation_id)
    assert state.unread == set()


def test_timer_format():
    assert [format_wait(s) for s in (0, 7, 65, 3600 + 62, -3)] == ["0:00", "0:07", "1:05",
                                                                   "1:01:02", "0:00"]


def test_every_string_exists_in_both_languages_and_locale_is_followed(monkeypatch):
    assert all(en.strip() and ja.strip() for en, ja in STRINGS.values())
    monkeypatch.setenv("LC_ALL", "ja_JP.UTF-8")
    assert resolve_language("auto") == "ja"
    assert Translator("ja")("send") == "送信"
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    assert resolve_language("auto") == "en" and resolve_language("ja") == "ja"
    assert Translator("en")("new_request", label="p1") == "New request from p1"


def test_settings_page_validates_saves_and_applies_at_once():
    store = SettingsStore(Settings())
    saved = []
    store.listen(saved.append)
    view = SettingsView(store, Translator("en"))
    view.tokens_per_second.value = "fast"
    view._save(None)
    assert "Tokens per second" in view.message.value and not saved
    assert not settings_path().exists()
    view.tokens_per_second.value = "90"
    view.language.value = "ja"
    view.default_mode.value = "human"
    view.canned.value = "One\n\n  Two  \n"
    view._save(None)
    settings = store.current
    assert [change.new for change in saved] == [settings]
    assert saved[0].fields == {"tokens_per_second", "language", "canned_replies"}
    assert settings.tokens_per_second == 90 and settings.language == "ja"
    assert settings.canned_replies == ["One", "Two"] and settings.default_mode is Mode.HUMAN
    stored = json.loads(settings_path().read_text())
    assert stored["tokens_per_second"] == 90 and stored["canned_replies"] == ["One", "Two"]


def test_side_requests_are_dimmed_and_do_not_hide_the_participants_words():
    board = Switchboard()
    real = ask(board, "p1", "What should I cook?")
    board.reply(real.id, "Pasta.", done=True)
    title = ask(board, "p1", "### Task: Generate a concise title")
    board.mark_side_request(title.id, "openwebui-title")
    board.reply(title.id, '{"title": "Cooking"}', done=True)
    only_side = ask(board, "p2", "### Task: Generate 1-3 broad tags")
    board.mark_side_request(only_side.id, "openwebui-tags")
    board.reply(only_side.id, "{}", done=True)
    rows = {row.label: row for row in OperatorState().rows(board)}
    assert rows["p1"].preview == "What should I cook?" and not rows["p1"].side_only
    assert rows["p2"].side_only


def test_settings_page_saves_a_profile_and_keeps_its_key_in_the_keyring():
    from human_chat_completions.copilot import keyring_store
    from tests.fakes.keyring import MemoryKeyring, using_keyring

    store = SettingsStore(Settings())
    forgotten = []
    view = SettingsView(store, Translator("en"), forgotten.append)
    view.profile_name.value = "local"
    view.profile_url.value = "http://127.0.0.1:11434/v1/"
    view.profile_model.value = "llama3"
    view.profile_key.value = "sk-very-secret-key"
    view.candidates.value = "2"
    with using_keyring(MemoryKeyring()):
        view._save(None)
        assert keyring_store.get_key("local") == "sk-very-secret-key"
    assert view.message.value == "Settings saved.", view.message.value
    settings = store.current
    assert [p.name for p in settings.profiles] == ["local"] and settings.default_profile == "local"
    assert settings.profiles[0].base_url == "http://127.0.0.1:11434/v1"
    assert settings.draft_candidates == 2 and forgotten == ["local"]
    stored = settings_path().read_text()
    assert "sk-very-secret-key" not in stored and "llama3" in stored
    assert view.profile_key.value == ""


def test_settings_page_sets_the_away_policy_per_mode():
    store = SettingsStore(Settings())
    view = SettingsView(store, Translator("ja"))
    view.away_seconds[Mode.COPILOT].value = "45"
    view.away_actions[Mode.COPILOT].value = "send_draft"
    view.away_seconds[Mode.HUMAN].value = ""
    view._save(None)
    assert view.message.value == "設定を保存しました。", view.message.value
    settings = store.current
    assert settings.away_timeout_seconds[Mode.COPILOT] == 45
    assert settings.away_action[Mode.COPILOT] == "send_draft"
    assert settings.away_timeout_seconds[Mode.HUMAN] is None
    view.away_seconds[Mode.AUTO].value = "-3"
    view._save(None)
    assert "自動で対応するまで" in view.message.value
