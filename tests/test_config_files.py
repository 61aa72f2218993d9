"""The settings file and the operator token on disk: owner-only, written atomically, never lost.

HCC_CONFIG_DIR is a tmp folder (see conftest); every test writes real files there.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import sys

import pytest
from typer.testing import CliRunner

from human_chat_completions.cli import app
from human_chat_completions.config import (
    Settings,
    config_dir,
    load_settings,
    operator_token,
    save_settings,
    settings_path,
)
from human_chat_completions.copilot.profiles import Profile
from human_chat_completions.settings_store import SettingsStore
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.settings_view import SettingsView

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def mode(path: os.PathLike) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@posix_only
def test_settings_file_is_owner_only():
    previous = os.umask(0o022)  # the usual umask would make a plain write 0644
    try:
        save_settings(Settings(port=8123))
    finally:
        os.umask(previous)
    assert mode(settings_path()) == 0o600
    assert load_settings().port == 8123


@posix_only
def test_a_settings_file_made_readable_by_others_is_owner_only_after_a_save():
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text("{}", encoding="utf-8")
    os.chmod(settings_path(), 0o644)
    save_settings(Settings(port=8124))
    assert mode(settings_path()) == 0o600
    assert json.loads(settings_path().read_text(encoding="utf-8"))["port"] == 8124


@posix_only
def test_generated_operator_token_file_is_owner_only():
    token, path = operator_token()
    assert path == config_dir() / "operator-token"
    assert mode(path) == 0o600
    assert path.read_text(encoding="utf-8").strip() == token and len(token) >= 32
    assert operator_token() == (token, path)  # kept, not regenerated


@posix_only
def test_an_old_token_file_readable_by_others_is_made_owner_only():
    path = config_dir() / "operator-token"
    path.parent.mkdir(parents=True)
    path.write_text("an-old-token", encoding="utf-8")
    os.chmod(path, 0o644)
    assert operator_token()[0] == "an-old-token"
    assert mode(path) == 0o600


def test_saving_leaves_no_temporary_file_behind():
    save_settings(Settings(port=8125))
    save_settings(Settings(port=8126))
    operator_token()
    assert sorted(p.name for p in config_dir().iterdir()) == ["operator-token", "settings.json"]
    assert load_settings().port == 8126


def test_a_broken_settings_file_is_kept_aside_and_defaults_are_used(caplog):
    broken = '{"port": 8127, "profiles": [ oops'
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text(broken, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="human_chat_completions.config"):
        settings = load_settings()
    assert settings == Settings()
    [kept] = [p for p in config_dir().iterdir() if p.name.startswith("settings.json.broken-")]
    assert re.fullmatch(r"settings\.json\.broken-\d{8}-\d{6}", kept.name)
    assert kept.read_text(encoding="utf-8") == broken
    assert not settings_path().exists()
    assert str(kept) in caplog.text
    # A later save writes a new file and leaves the broken one alone.
    save_settings(settings)
    assert kept.read_text(encoding="utf-8") == broken
    assert load_settings() == Settings()


def test_an_invalid_but_well_formed_settings_file_is_kept_aside_too(caplog):
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text('{"port": "not a port"}', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="human_chat_completions.config"):
        assert load_settings() == Settings()
    [kept] = [p for p in config_dir().iterdir() if p.name.startswith("settings.json.broken-")]
    assert kept.read_text(encoding="utf-8") == '{"port": "not a port"}'
    assert str(kept) in caplog.text


def test_two_broken_files_in_the_same_second_are_both_kept():
    settings_path().parent.mkdir(parents=True)
    for text in ("first {", "second {"):
        settings_path().write_text(text, encoding="utf-8")
        load_settings()
    kept = sorted(p.read_text(encoding="utf-8") for p in config_dir().iterdir()
                  if p.name.startswith("settings.json.broken-"))
    assert kept == ["first {", "second {"]


def local_profile() -> Profile:
    return Profile(name="local", base_url="http://127.0.0.1:11434/v1", model="llama3",
                   temperature=0.3, max_tokens=200, instruction="Draft briefly.",
                   key_env="LOCAL_LLM_KEY", timeout_seconds=12.5, stream_usage=False)


def test_saving_the_settings_page_keeps_profile_fields_it_does_not_show():
    other = Profile(name="other", base_url="https://api.example.com/v1", model="m",
                    temperature=1.5, key_env="OTHER_KEY")
    store = SettingsStore(Settings(profiles=[local_profile(), other], default_profile="local"))
    save_settings(store.current)
    view = SettingsView(store, Translator("en"))
    assert view.profile_name.value == "local"
    view.profile_model.value = "llama3.1"
    view.profile_instruction.value = "Draft very briefly."
    view._save(None)
    assert view.message.value == "Settings saved.", view.message.value
    expected = local_profile().model_copy(
        update={"model": "llama3.1", "instruction": "Draft very briefly."})
    for seen in (store.current, load_settings()):
        profiles = {p.name: p for p in seen.profiles}
        assert profiles["local"] == expected
        assert profiles["other"] == other
        assert seen.default_profile == "local"


def test_a_profile_copied_under_a_new_name_keeps_the_hidden_fields_of_the_one_shown():
    store = SettingsStore(Settings(profiles=[local_profile()], default_profile="local"))
    view = SettingsView(store, Translator("en"))
    view.profile_name.value = "local-big"
    view.profile_model.value = "llama3:70b"
    view._save(None)
    profiles = {p.name: p for p in load_settings().profiles}
    assert profiles["local"] == local_profile()
    assert profiles["local-big"] == local_profile().model_copy(
        update={"name": "local-big", "model": "llama3:70b"})


def test_an_invalid_profile_field_is_still_refused():
    store = SettingsStore(Settings(profiles=[local_profile()], default_profile="local"))
    view = SettingsView(store, Translator("en"))
    view.profile_url.value = "ftp://nowhere"
    view._save(None)
    assert "Base URL" in view.message.value  # named in words, not as the field "base_url"
    assert store.current.profiles == [local_profile()] and not settings_path().exists()


def test_help_recommends_the_environment_variable_over_the_token_option():
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert re.search(r"prefer\w* (setting )?HCC_OPERATOR_TOKEN", text, re.IGNORECASE), text
    assert re.search(r"\bps\b", text), text
