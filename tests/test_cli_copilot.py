"""`hcc profiles` and `hcc keys` through the CLI runner (HCC_CONFIG_DIR is a tmp dir: see conftest)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from human_chat_completions import cli_copilot
from human_chat_completions.cli import app
from human_chat_completions.config import load_settings, settings_path
from tests.fakes.keyring import MemoryKeyring, fail_keyring, using_keyring

KEY = "sk-cli-SECRET-0123456789"
runner = CliRunner()


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    with using_keyring(MemoryKeyring()) as backend:
        assert isinstance(backend, MemoryKeyring)
        yield backend


def hcc(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def add(name: str = "openai", *extra: str) -> None:
    code, out, err = hcc("profiles", "add", name, "--base-url", "https://api.openai.com/v1/",
                         "--model", "gpt-4o-mini", *extra)
    assert code == 0, out + err


def test_add_list_default_remove(memory_keyring: MemoryKeyring) -> None:
    code, out, _ = hcc("profiles", "list")
    assert code == 0 and "No profiles yet" in out
    add("openai", "--temperature", "0.4", "--instruction", "Draft a warm reply.")
    code, out, _ = hcc("profiles", "add", "local", "--base-url", "http://127.0.0.1:11434/v1",
                       "--model", "llama3.2", "--default", "--no-usage", "--timeout", "20")
    assert code == 0 and "Added profile “local”" in out

    settings = load_settings()
    assert [p.name for p in settings.profiles] == ["openai", "local"]
    assert settings.default_profile == "local"
    openai_profile = settings.profiles[0]
    assert openai_profile.base_url == "https://api.openai.com/v1" and openai_profile.temperature == 0.4
    assert openai_profile.instruction == "Draft a warm reply."
    assert settings.profiles[1].stream_usage is False and settings.profiles[1].timeout_seconds == 20

    code, out, _ = hcc("profiles", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("  openai") and lines[1].startswith("* local")
    assert "key: none" in out

    code, out, _ = hcc("profiles", "default", "openai")
    assert code == 0 and load_settings().default_profile == "openai"
    assert hcc("profiles", "default")[1].strip() == "openai"

    code, out, _ = hcc("profiles", "remove", "openai")
    assert code == 0 and [p.name for p in load_settings().profiles] == ["local"]
    assert load_settings().default_profile is None
    assert hcc("profiles", "default")[1].strip() == "local"


def test_add_refuses_duplicates_unless_replace(memory_keyring: MemoryKeyring) -> None:
    add("openai")
    code, out, err = hcc("profiles", "add", "openai", "--base-url", "https://x.test/v1", "--model", "m")
    assert code == 1 and "exists already" in err and "Traceback" not in out + err
    code, _, _ = hcc("profiles", "add", "openai", "--base-url", "https://x.test/v1", "--model", "m", "--replace")
    assert code == 0 and load_settings().profiles[0].base_url == "https://x.test/v1"


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["bad name", "--base-url", "https://x.test/v1", "--model", "m"], "name"),
        (["p", "--base-url", "x.test/v1", "--model", "m"], "base_url must be an http"),
        (["p", "--base-url", "https://x.test/v1", "--model", "m", "--temperature", "9"], "temperature"),
        (["p", "--base-url", "https://x.test/v1", "--model", "m", "--key-env", "A-B"], "key_env"),
    ],
)
def test_add_reports_bad_values_cleanly(args: list[str], complaint: str) -> None:
    code, out, err = hcc("profiles", "add", *args)
    assert code == 2 and complaint in err and "Traceback" not in out + err
    assert not settings_path().exists()


def test_unknown_profile_is_a_clean_error(memory_keyring: MemoryKeyring) -> None:
    for args in (["profiles", "remove", "nope"], ["profiles", "default", "nope"], ["keys", "set", "nope"]):
        code, out, err = hcc(*args, input=KEY)
        assert code == 1 and "No profile named “nope”" in err and "Traceback" not in out + err
    assert memory_keyring.store == {}


def test_settings_file_never_holds_a_key(memory_keyring: MemoryKeyring) -> None:
    add("openai")
    code, out, err = hcc("keys", "set", "openai", input=KEY + "\n")
    assert code == 0 and "Stored the key" in out
    assert memory_keyring.store == {("human-chat-completions", "openai"): KEY}
    assert KEY not in out + err
    assert KEY not in settings_path().read_text(encoding="utf-8")
    assert "key: keyring" in hcc("profiles", "list")[1]


def test_keys_set_with_the_hidden_prompt(memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    add("openai")
    monkeypatch.setattr(cli_copilot, "_stdin_is_tty", lambda: True)
    code, out, err = hcc("keys", "set", "openai", input=KEY + "\n")
    assert code == 0 and "Key for profile openai" in out
    assert KEY not in out + err  # not echoed
    assert memory_keyring.store[("human-chat-completions", "openai")] == KEY


def test_keys_set_refuses_an_empty_key(memory_keyring: MemoryKeyring) -> None:
    add("openai")
    code, _, err = hcc("keys", "set", "openai", input="\n")
    assert code == 1 and "Nothing stored" in err and memory_keyring.store == {}


def test_keys_list_and_delete(memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    add("openai")
    add("other")
    add("from-env", "--key-env", "HCC_CLI_TEST_KEY")
    monkeypatch.setenv("HCC_CLI_TEST_KEY", "sk-env-value")
    assert hcc("keys", "list")[1].splitlines() == ["from-env  (env HCC_CLI_TEST_KEY)"]
    hcc("keys", "set", "openai", input=KEY)
    code, out, _ = hcc("keys", "list")
    assert code == 0 and out.splitlines() == ["openai  (keyring)", "from-env  (env HCC_CLI_TEST_KEY)"]
    assert KEY not in out and "sk-env-value" not in out

    code, out, _ = hcc("keys", "delete", "openai")
    assert code == 0 and memory_keyring.store == {}
    code, _, err = hcc("keys", "delete", "openai")
    assert code == 1 and "No key stored" in err


def test_removing_a_profile_deletes_its_key_unless_kept(memory_keyring: MemoryKeyring) -> None:
    add("a")
    add("b")
    hcc("keys", "set", "a", input=KEY)
    hcc("keys", "set", "b", input=KEY)
    assert "Deleted its key" in hcc("profiles", "remove", "a")[1]
    hcc("profiles", "remove", "b", "--keep-key")
    assert set(memory_keyring.store) == {("human-chat-completions", "b")}


def test_without_a_keyring_the_error_says_how_to_fix() -> None:
    add("openai")
    with using_keyring(fail_keyring()):
        code, out, err = hcc("keys", "set", "openai", input=KEY)
        assert code == 1 and "keyring" in err.lower() and "environment variable" in err
        assert KEY not in out + err and "Traceback" not in out + err
        code, out, err = hcc("keys", "list")
        assert code == 1 and "keyring" in err.lower()
        code, out, err = hcc("profiles", "list")
        assert code == 0 and "key: unknown (keyring unavailable)" in out
        code, out, err = hcc("profiles", "remove", "openai")
        assert code == 0 and "Could not delete its key" in err
        assert load_settings().profiles == []


def test_a_broken_settings_file_is_not_overwritten(memory_keyring: MemoryKeyring) -> None:
    add("openai")
    data = json.loads(settings_path().read_text(encoding="utf-8"))
    data["profiles"][0]["base_url"] = "not a url"
    settings_path().write_text(json.dumps(data), encoding="utf-8")
    before = settings_path().read_text(encoding="utf-8")
    code, _, err = hcc("profiles", "add", "second", "--base-url", "https://x.test/v1", "--model", "m")
    assert code == 1 and "cannot be read" in err and "profiles.0.base_url" in err
    assert settings_path().read_text(encoding="utf-8") == before


def test_help_lists_the_groups() -> None:
    out = hcc("--help")[1]
    assert "profiles" in out and "keys" in out
    out = hcc("keys", "--help")[1]
    assert "set" in out and "delete" in out and "list" in out
