"""The user's language, and strings looked up in a two-language table (English, 日本語).

The operator window (`ui/i18n.py`) and the tray (`tray/strings.py`) each keep their own table; this
module is what they share, so that the tray never imports the window (and Flet with it).
"""

from __future__ import annotations

import locale
import os
from collections.abc import Mapping
from typing import ClassVar

Strings = Mapping[str, tuple[str, str]]  # key: (English, 日本語)


def system_language() -> str:
    """'ja' when the OS locale is Japanese, else 'en'."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(name, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    code = locale.getlocale()[0] or ""
    return "ja" if code.lower().startswith("ja") else "en"


def resolve_language(setting: str) -> str:
    """The `language` setting made concrete: 'auto' follows the system."""
    return system_language() if setting == "auto" else setting


class Translator:
    """Looks strings up in one language; `t("key", name=value)` fills placeholders.
    Each part of the app subclasses it with its own `strings` table."""

    strings: ClassVar[Strings] = {}

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, **values: object) -> str:
        english, japanese = self.strings[key]
        text = japanese if self.language == "ja" else english
        return text.format(**values) if values else text
