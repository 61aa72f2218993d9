"""Upstream keys in the OS keyring (`copilot/keyring_store.py`), or from a profile's variable."""

from __future__ import annotations

import ast
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import keyring
import pytest

from human_chat_completions.copilot import keyring_store
from human_chat_completions.copilot.keyring_store import KeyringUnavailable
from human_chat_completions.copilot.profiles import Profile
from tests.fakes.keyring import MemoryKeyring

KEY = "sk-test-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


def profile(name: str = "openai", key_env: str | None = None) -> Profile:
    return Profile(name=name, base_url="https://api.openai.com/v1", model="gpt-4o-mini", key_env=key_env)


def test_keys_go_to_the_keyring_under_the_service_and_profile_name(
    memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    keyring_store.set_key(profile(), f"  {KEY}\n")
    assert memory_keyring.store == {("human-chat-completions", "openai"): KEY}
    assert keyring.get_password("human-chat-completions", "openai") == KEY
    assert keyring_store.get_key(profile()) == KEY
    assert keyring_store.get_key("openai") == KEY
    assert keyring_store.key_source(profile()) == "keyring"
    assert KEY not in caplog.text


def keys_of(profiles) -> list[str]:
    """What `hcc copilot keys list` lists: the profiles that have a key (never the keys)."""
    return [p.name for p in profiles if keyring_store.key_source(p) is not None]


def test_list_keys_names_only(memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCC_TEST_KEY", "sk-from-env")
    profiles = [profile("a"), profile("b"), profile("c", key_env="HCC_TEST_KEY")]
    keyring_store.set_key("a", KEY)
    assert keys_of(profiles) == ["a", "c"]


def test_delete_key(memory_keyring: MemoryKeyring) -> None:
    keyring_store.set_key("a", KEY)
    assert keyring_store.delete_key("a") is True
    assert keyring_store.delete_key("a") is False
    assert keyring_store.get_key("a") is None
    assert memory_keyring.store == {}


def test_environment_variable_wins_over_the_keyring(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring_store.set_key("openai", KEY)
    with_env = profile(key_env="HCC_TEST_KEY")
    monkeypatch.setenv("HCC_TEST_KEY", "sk-from-env")
    assert keyring_store.get_key(with_env) == "sk-from-env"
    assert keyring_store.key_source(with_env) == "env"
    monkeypatch.setenv("HCC_TEST_KEY", "  ")  # blank counts as unset
    assert keyring_store.get_key(with_env) == KEY


def test_empty_or_multiline_key_is_refused(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(ValueError):
        keyring_store.set_key("a", "   ")
    with pytest.raises(ValueError):
        keyring_store.set_key("a", "sk-one\nsk-two")
    assert memory_keyring.store == {}


def test_no_keyring_says_how_to_fix(no_keyring: None) -> None:
    for call in (
        lambda: keyring_store.set_key("a", KEY),
        lambda: keyring_store.get_key(profile()),
        lambda: keyring_store.delete_key("a"),
        lambda: keys_of([profile()]),
    ):
        with pytest.raises(KeyringUnavailable) as caught:
            call()
        message = str(caught.value)
        assert "keyring" in message.lower()
        assert "environment variable" in message
        if sys.platform.startswith("linux"):
            assert "gnome-keyring" in message


def test_no_keyring_but_environment_variable_works(no_keyring: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCC_TEST_KEY", "sk-from-env")
    assert keyring_store.get_key(profile(key_env="HCC_TEST_KEY")) == "sk-from-env"


def test_a_failing_backend_becomes_keyring_unavailable() -> None:
    class Broken(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise OSError("D-Bus went away")

    from tests.fakes.keyring import using_keyring

    with using_keyring(Broken()), pytest.raises(KeyringUnavailable, match="D-Bus went away"):
        keyring_store.get_key("a")


SCRIPT = textwrap.dedent(
    """
    import keyring
    from keyring.backends.SecretService import Keyring
    from human_chat_completions.copilot import keyring_store

    keyring.set_keyring(Keyring())
    assert keyring_store.get_key("real") is None
    keyring_store.set_key("real", "sk-real-secret-service")
    assert keyring_store.get_key("real") == "sk-real-secret-service"
    assert keyring.get_password("human-chat-completions", "real") == "sk-real-secret-service"
    assert keyring_store.delete_key("real") is True
    assert keyring_store.get_key("real") is None
    print("secret-service-ok")
    """
)


@pytest.mark.skipif(
    not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
    reason="needs dbus-run-session and gnome-keyring-daemon (apt install dbus gnome-keyring)",
)
def test_real_secret_service(tmp_path: Path) -> None:
    """The real Secret Service backend, against a throwaway gnome-keyring on a private D-Bus session."""
    script = tmp_path / "script.py"
    script.write_text(SCRIPT, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),  # gnome-keyring keeps its files under $HOME / XDG dirs: never the real ones
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
    }
    (tmp_path / "run").mkdir(mode=0o700)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    shell = (
        "echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; "
        f'"{sys.executable}" "{script}"'
    )
    result = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", shell],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "secret-service-ok" in result.stdout


def python_files(folder: Path) -> list[Path]:
    """The folder's own Python files; hidden folders (the compat clients' virtualenvs) left out."""
    found = []
    for directory, subfolders, names in os.walk(folder):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        found += [Path(directory, name) for name in names if name.endswith(".py")]
    return found


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, `from package import name` counted as `package.name` too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_module_imports_the_package_secrets_that_shadowed_the_standard_library() -> None:
    # A package module named `secrets` hid the standard library's from scripts run in its folder.
    assert importlib.util.find_spec("human_chat_completions.secrets") is None
    files = [path for folder in ("src", "tests", "benchmarks") for path in python_files(ROOT / folder)]
    offenders = [str(path.relative_to(ROOT)) for path in files
                 if "human_chat_completions.secrets" in imported_modules(path)]
    assert offenders == []
