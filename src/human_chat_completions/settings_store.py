"""The run's settings: one value at a time, replaced whole through the store, which saves it and
tells everyone who listens.

`Settings` is frozen, so nobody can change what another part of the app is reading; a change is a
new value handed to `SettingsStore.replace` (or `update`). The switchboard, the tray and every
operator window listen instead of copying fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from human_chat_completions.config import Settings, save_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SettingsChange:
    """What a replace did: the value before, the value after."""

    old: Settings
    new: Settings

    @property
    def fields(self) -> frozenset[str]:
        """The names of the settings whose value differs."""
        return frozenset(name for name in Settings.model_fields
                         if getattr(self.old, name) != getattr(self.new, name))

    def touches(self, names: Iterable[str]) -> bool:
        return not self.fields.isdisjoint(names)


Listener = Callable[[SettingsChange], None]


class SettingsStore:
    """Holds the current `Settings`; `replace` validates, saves, then publishes.

    initial: the value to start from (usually `config.load_settings()`).
    save: writes a value to disk (default: the settings file, atomically and owner-only).

    Listeners are called in the caller's thread, one after another, after the value is saved and
    current. The server's parts expect that thread to be the server loop's: code on another thread
    (the tray) posts its change there first.
    """

    def __init__(self, initial: Settings | None = None,
                 save: Callable[[Settings], None] = save_settings) -> None:
        self._current = initial if initial is not None else Settings()
        self._save = save
        self._listeners: list[Listener] = []

    @property
    def current(self) -> Settings:
        return self._current

    def replace(self, new: Settings, *, save: bool = True) -> Settings:
        """Make `new` the current value and announce it; returns the value now current.

        Raises pydantic's ValidationError (or the save's OSError) and changes nothing when the
        value is invalid or cannot be written. `save=False` adopts a value that is already on disk.
        """
        # Validated again: a `model_copy(update=…)` or `model_construct` skips validation.
        value = Settings.model_validate(new.model_dump())
        if save:
            self._save(value)
        old, self._current = self._current, value
        if value != old:
            self._publish(SettingsChange(old, value))
        return value

    def update(self, **changes: Any) -> Settings:
        """Replace the named settings, keeping the rest (`store.update(default_mode=Mode.AUTO)`)."""
        return self.replace(Settings.model_validate({**self._current.model_dump(), **changes}))

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` after every change; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._forget(listener)

    def _forget(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _publish(self, change: SettingsChange) -> None:
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                # The value is saved and current: one broken listener must not keep the others
                # (or the caller) from it.
                log.exception("a settings listener failed")
