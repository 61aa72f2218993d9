"""The tray's own strings: both languages, and no import of the operator window for them."""

from __future__ import annotations

import json
import string
import subprocess
import sys

from human_chat_completions.tray.strings import TRAY_STRINGS, TrayTranslator

PROBE = (
    "import json, sys, human_chat_completions.tray.app; "
    "print(json.dumps(sorted(name for name in sys.modules if name.split('.')[0] == 'flet' "
    "or name.startswith('human_chat_completions.ui'))))"
)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_tray_string_exists_in_both_languages_with_the_same_placeholders():
    for key, (english, japanese) in TRAY_STRINGS.items():
        assert english.strip() and japanese.strip(), key
        assert placeholders(english) == placeholders(japanese), key
    assert TrayTranslator("ja")("tray_waiting_many", count=3) == "返信待ち 3 件"
    assert TrayTranslator("en")("mode_copilot") == "Copilot"


def test_the_tray_imports_neither_the_window_nor_flet():
    # A fresh interpreter: this test process may have imported the window already.
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
