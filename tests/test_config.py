"""The settings schema (`config.py`): a value that cannot change in place, loaded without the copilot."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from human_chat_completions.config import Settings
from human_chat_completions.copilot.schemas import Profile
from human_chat_completions.core import Mode

PROBE = (
    "import json, sys, human_chat_completions.config; "
    "print(json.dumps(sorted(name for name in sys.modules if name.split('.')[0] == 'openai' "
    "or name.startswith('human_chat_completions.copilot.'))))"
)


def test_loading_the_settings_imports_neither_openai_nor_the_copilot_service():
    # A fresh interpreter: this test process has long imported everything.
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == ["human_chat_completions.copilot.schemas"]


def test_settings_cannot_be_changed_in_place():
    settings = Settings(profiles=[Profile(name="local", base_url="http://127.0.0.1:11434/v1", model="m")])
    with pytest.raises(ValidationError, match="frozen"):
        settings.default_mode = Mode.AUTO  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        settings.profiles[0].model = "other"  # type: ignore[misc]
    assert settings.default_mode is Mode.HUMAN and settings.profiles[0].model == "m"


def test_every_mode_has_an_away_policy_by_default():
    settings = Settings()
    assert settings.away_timeout_seconds == {mode: None for mode in Mode}
    assert settings.away_action == {mode: "wait" for mode in Mode}
