"""Real clients reading an auto-mode answer: the LLM's stream as hcc re-chunks it, with the role in
the chunk of the first words (no empty role chunk before them). Streaming only: a plain answer
is one JSON body in every mode."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import openai
import pytest

from human_chat_completions.config import Settings
from human_chat_completions.copilot.profiles import Profile
from tests.compat.test_node_clients import NODE_DIR, run_node
from tests.fakes.upstream import Behaviour, FakeUpstream
from tests.support import RunningServer


@pytest.fixture
def auto_server(tmp_path) -> Iterator[RunningServer]:
    upstream = FakeUpstream(Behaviour()).start()
    profile = Profile(name="fake", base_url=upstream.base_url, model="fake-model", timeout_seconds=5)
    try:
        with RunningServer(tmp_path / "data", Settings(default_mode="auto", profiles=[profile])) as server:
            yield server
    finally:
        upstream.stop()


def expected(prompt: str) -> str:
    return f"Draft answer to: {prompt}"


def test_openai_python_stream(auto_server):
    with openai.OpenAI(base_url=auto_server.base + "/v1", api_key="k", max_retries=0) as api:
        chunks = list(api.chat.completions.create(
            model="m", stream=True, messages=[{"role": "user", "content": "from python"}]))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == expected("from python")
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_langchain_stream(auto_server):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="gpt-4o-mini", base_url=auto_server.base + "/v1", api_key="k")
    chunks = list(llm.stream("from langchain"))
    assert "".join(str(chunk.content) for chunk in chunks) == expected("from langchain")


node = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules").is_dir(),
    reason="needs node and `npm ci` in tests/compat/node (apt-get install nodejs npm; .ci/run does both)",
)


@node
def test_openai_node_stream(auto_server):
    result = run_node("openai_client.mjs", auto_server.base + "/v1", "chat", "stream", "from node")
    assert result["text"] == expected("from node")


@node
def test_vercel_ai_sdk_stream(auto_server):
    result = run_node("ai_sdk.mjs", auto_server.base + "/v1", "compatible", "stream", "from ai")
    assert result["text"] == expected("from ai")
