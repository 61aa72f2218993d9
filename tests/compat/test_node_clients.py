"""JavaScript clients, installed for real by `npm ci` in tests/compat/node, against a running server:
the openai npm package and the Vercel AI SDK (openai-compatible provider and @ai-sdk/openai's
default provider, which calls the Responses API)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.compat.answering import ANSWER, VERSIONS, answered_call

NODE_DIR = Path(__file__).parent / "node"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules").is_dir(),
    reason="needs node and `npm ci` in tests/compat/node (apt-get install nodejs npm; .ci/run does both)",
)


def run_node(script: str, *args: str) -> dict:
    done = subprocess.run(["node", str(NODE_DIR / script), *args], capture_output=True, text=True,
                          timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "version" in result:
        VERSIONS["openai (npm)"] = result["version"]
    for name, version in result.get("versions", {}).items():
        VERSIONS[f"{name} (npm)"] = version
    return result


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("mode", ["stream", "plain"])
def test_openai_node(server, operator, api, mode):
    result, exchange = answered_call(
        operator, lambda: run_node("openai_client.mjs", server.base + "/v1", api, mode, "Hi from node")
    )
    assert result["text"] == ANSWER
    assert exchange["user_input"] == "Hi from node"
    assert exchange["stream"] is (mode == "stream")


@pytest.mark.parametrize("provider", ["compatible", "openai"])
@pytest.mark.parametrize("mode", ["stream", "generate"])
def test_vercel_ai_sdk(server, operator, provider, mode):
    result, exchange = answered_call(
        operator, lambda: run_node("ai_sdk.mjs", server.base + "/v1", provider, mode, "Hi from ai")
    )
    assert result["text"] == ANSWER
    assert exchange["user_input"] == "Hi from ai"
    assert exchange["stream"] is (mode == "stream")
    if provider == "openai":
        assert "responses_request" in server.runtime.switchboard.get(exchange["id"]).request
