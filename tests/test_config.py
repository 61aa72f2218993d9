"""The settings schema (`config.py`): a value that cannot change in place, loaded without the copilot."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = (
    "import json, sys, human_chat_completions.config; "
    "print(json.dumps(sorted(name for name in sys.modules if name.split('.')[0] == 'openai' "
    "or name.startswith('human_chat_completions.copilot.'))))"
)


def test_loading_the_settings_imports_neither_openai_nor_the_copilot_service():
    # A fresh interpreter: this test process has long imported everything.
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == ["human_chat_completions.copilot.schemas"]
