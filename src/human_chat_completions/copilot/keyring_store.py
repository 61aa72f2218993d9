"""Upstream LLM keys, kept in the OS keyring only (service `human-chat-completions`, user = profile name).

A profile may also name an environment variable (`key_env`) that supplies its key; that wins over the keyring,
so a machine without a working keyring can still be used. Keys are never logged and never written to the
settings file.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Literal, TypeVar

import keyring
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
from keyring.backend import KeyringBackend

from human_chat_completions.copilot.schemas import Profile

SERVICE = "human-chat-completions"
log = logging.getLogger(__name__)

KeySource = Literal["env", "keyring"]
T = TypeVar("T")


class KeyringUnavailable(RuntimeError):
    """No working OS keyring: the message says how to fix it."""


def _how_to_fix() -> str:
    if sys.platform.startswith("linux"):
        where = (
            "On Linux, install and unlock a Secret Service provider (e.g. `gnome-keyring`, or KeePassXC with "
            "Secret Service integration) in your desktop session"
        )
    elif sys.platform == "darwin":
        where = "On macOS, make sure your login Keychain is unlocked"
    elif sys.platform == "win32":
        where = "On Windows, the Credential Manager should work; check that it is not disabled"
    else:
        where = "Install a keyring backend supported by the Python `keyring` package"
    return (
        f"{where}. Or set the profile's key environment variable instead "
        "(`hcc profiles add NAME ... --key-env VAR`, then export VAR before starting hcc)."
    )


def _backend() -> KeyringBackend:
    backend = keyring.get_keyring()
    if isinstance(backend, (keyring.backends.fail.Keyring, keyring.backends.null.Keyring)):
        raise KeyringUnavailable(f"No OS keyring is available to store keys. {_how_to_fix()}")
    return backend


def _call(action: Callable[[KeyringBackend], T]) -> T:
    """Run one keyring operation, turning every backend failure into KeyringUnavailable."""
    backend = _backend()
    try:
        return action(backend)
    except keyring.errors.KeyringLocked as error:
        raise KeyringUnavailable(f"The OS keyring is locked ({error}). Unlock it and try again.") from error
    except keyring.errors.NoKeyringError as error:
        raise KeyringUnavailable(f"No OS keyring is available to store keys. {_how_to_fix()}") from error
    except KeyringUnavailable:
        raise
    except Exception as error:  # Backends raise their own types (D-Bus, secretstorage, Win32).
        # The message names the failure, never the key: backends do not put secrets in their errors.
        raise KeyringUnavailable(
            f"The OS keyring did not work ({type(error).__name__}: {error}). {_how_to_fix()}"
        ) from error


def _name(profile: Profile | str) -> str:
    return profile if isinstance(profile, str) else profile.name


def set_key(profile: Profile | str, key: str) -> None:
    """Store the key for a profile in the OS keyring (replacing any earlier one)."""
    key = key.strip()
    if not key:
        raise ValueError("the key is empty")
    if any(ch in key for ch in "\r\n\0"):
        raise ValueError("the key contains a line break or NUL; paste only the key")
    name = _name(profile)
    _call(lambda backend: backend.set_password(SERVICE, name, key))
    log.info("stored a key for profile %s in the OS keyring", name)


def _env_key(profile: Profile | str) -> str | None:
    if isinstance(profile, Profile) and profile.key_env:
        value = os.environ.get(profile.key_env, "").strip()
        return value or None
    return None


def get_key(profile: Profile | str) -> str | None:
    """The profile's key: from its `key_env` variable when set there, else from the keyring; None if neither.

    Raises KeyringUnavailable when the keyring has to be asked and does not work.
    """
    env = _env_key(profile)
    if env is not None:
        return env
    name = _name(profile)
    return _call(lambda backend: backend.get_password(SERVICE, name))


def key_source(profile: Profile | str) -> KeySource | None:
    """Where the profile's key would come from (`env`, `keyring`), or None when it has none."""
    if _env_key(profile) is not None:
        return "env"
    name = _name(profile)
    return "keyring" if _call(lambda backend: backend.get_password(SERVICE, name)) is not None else None


def delete_key(profile: Profile | str) -> bool:
    """Remove the profile's key from the keyring; False when there was none."""
    name = _name(profile)

    def delete(backend: KeyringBackend) -> bool:
        if backend.get_password(SERVICE, name) is None:
            return False
        try:
            backend.delete_password(SERVICE, name)
        except keyring.errors.PasswordDeleteError:
            return False
        return True

    deleted = _call(delete)
    if deleted:
        log.info("deleted the key for profile %s from the OS keyring", name)
    return deleted

