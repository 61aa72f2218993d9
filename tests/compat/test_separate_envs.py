"""Python clients in environments of their own (see envs/README.md), and curl."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.compat.answering import ANSWER, VERSIONS, answered_call

HERE = Path(__file__).parent
ENVS = HERE / ".envs"


def env_python(name: str) -> Path:
    python = ENVS / name / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    if not python.exists():
        pytest.skip(f"{python} missing: .ci/run makes it")
    return python


def run_client(name: str, *args: str) -> dict:
    done = subprocess.run([str(env_python(name)), str(HERE / "envs" / f"{name}_client.py"), *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for package, version in result["versions"].items():
        VERSIONS[f"{package} ({name} env)"] = version
    return result


@pytest.mark.parametrize("name", ["litellm", "llamaindex"])
@pytest.mark.parametrize("mode", ["stream", "plain"])
def test_client_in_its_own_environment(server, operator, name, mode):
    env_python(name)
    result, exchange = answered_call(
        operator, lambda: run_client(name, server.base + "/v1", mode, f"Hi from {name}"))
    assert result["text"] == ANSWER
    assert exchange["user_input"] == f"Hi from {name}"
    assert exchange["stream"] is (mode == "stream")


def curl(*args: str) -> str:
    done = subprocess.run(["curl", "-sS", "--fail-with-body", *args], capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
    return done.stdout.decode()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl: apt-get install curl (.ci/run installs it)")
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "plain"])
def test_curl(server, operator, stream):
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi from curl"}], "stream": stream}
    output, _ = answered_call(operator, lambda: curl(
        "-N", server.base + "/v1/chat/completions", "-H", "Content-Type: application/json",
        "-H", "Authorization: Bearer sk-curl", "-d", json.dumps(body)))
    VERSIONS["curl"] = subprocess.run(["curl", "--version"], capture_output=True,
                                      text=True).stdout.split()[1]
    if not stream:
        assert json.loads(output)["choices"][0]["message"]["content"] == ANSWER
        return
    events = [line[6:] for line in output.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) \
        == ANSWER


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl: apt-get install curl (.ci/run installs it)")
def test_curl_responses_stream(server, operator):
    body = {"model": "m", "input": "Hi from curl", "stream": True}
    output, _ = answered_call(operator, lambda: curl(
        "-N", server.base + "/v1/responses", "-H", "Content-Type: application/json",
        "-d", json.dumps(body)))
    data = [json.loads(line[6:]) for line in output.splitlines() if line.startswith("data: ")]
    assert "".join(d["delta"] for d in data if d["type"] == "response.output_text.delta") == ANSWER
    assert data[-1]["response"]["output"][0]["content"][0]["text"] == ANSWER
