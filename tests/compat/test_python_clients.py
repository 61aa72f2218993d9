"""Python clients that share our openai version, in the project environment, against a running
server: openai-python itself, langchain-openai's ChatOpenAI and pydantic-ai's OpenAI models."""

from __future__ import annotations

import asyncio
from importlib.metadata import version

import openai
import pytest

from tests.compat.answering import ANSWER, PIECES, VERSIONS, answer, answered_call
from tests.support import RunningServer


@pytest.fixture(autouse=True, scope="module")
def versions() -> None:
    for name in ("openai", "langchain-openai", "langchain-core", "pydantic-ai-slim"):
        VERSIONS[name] = version(name)


def base_url(server: RunningServer) -> str:
    return server.base + "/v1"


# -- openai-python ---------------------------------------------------------------------------------


def test_openai_python_sync_non_stream(server, operator):
    with openai.OpenAI(base_url=base_url(server), api_key="k") as api:
        completion, exchange = answered_call(operator, lambda: api.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "sync"}]))
    assert completion.choices[0].message.content == ANSWER
    assert exchange["user_input"] == "sync"


def test_openai_python_sync_stream_with_usage(server, operator):
    with openai.OpenAI(base_url=base_url(server), api_key="k") as api:
        chunks, _ = answered_call(operator, lambda: list(api.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "s"}], stream=True,
            stream_options={"include_usage": True})))
    assert [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content] \
        == PIECES
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


async def test_openai_python_async_stream_and_non_stream(server, operator):
    api = openai.AsyncOpenAI(base_url=base_url(server), api_key="k")

    async def both() -> list[str]:
        plain = await api.chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
        stream = await api.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "b"}], stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        return [plain.choices[0].message.content, text]

    task = asyncio.create_task(both())
    for _ in range(2):
        await asyncio.to_thread(answer, operator)
    assert await asyncio.wait_for(task, 30) == [ANSWER, ANSWER]
    await api.close()
    assert len(operator.exchanges()) == 2


# -- langchain-openai --------------------------------------------------------------------------------


def chat_openai(server: RunningServer, **kwargs):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="gpt-4o-mini", base_url=base_url(server), api_key="k", **kwargs)


def test_langchain_invoke(server, operator):
    llm = chat_openai(server)
    message, exchange = answered_call(operator, lambda: llm.invoke("Hello from langchain"))
    assert message.content == ANSWER
    assert exchange["user_input"] == "Hello from langchain"


def test_langchain_stream(server, operator):
    llm = chat_openai(server)
    chunks, exchange = answered_call(operator, lambda: list(llm.stream("Stream please")))
    assert "".join(chunk.content for chunk in chunks) == ANSWER
    assert exchange["stream"] is True


def test_langchain_responses_api(server, operator):
    llm = chat_openai(server, use_responses_api=True)
    message, exchange = answered_call(operator, lambda: llm.invoke("Via responses"))
    assert message.text == ANSWER
    assert "responses_request" in server.runtime.switchboard.get(exchange["id"]).request


# -- pydantic-ai ----------------------------------------------------------------------------------


def pydantic_ai_call(server: RunningServer, responses: bool, stream: bool, prompt: str) -> str:
    """One agent run in its own loop, with a client closed at the end (no leaked sockets)."""
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    async def run() -> str:
        async with openai.AsyncOpenAI(base_url=base_url(server), api_key="k") as client:
            provider = OpenAIProvider(openai_client=client)
            kind = OpenAIResponsesModel if responses else OpenAIChatModel
            agent = Agent(kind("gpt-4o-mini", provider=provider), instructions="Answer briefly.")
            if not stream:
                return (await agent.run(prompt)).output
            async with agent.run_stream(prompt) as result:
                return "".join([delta async for delta in result.stream_text(delta=True)])

    return asyncio.run(run())


@pytest.mark.parametrize("responses", [False, True], ids=["chat", "responses"])
@pytest.mark.parametrize("stream", [False, True], ids=["run", "run_stream"])
def test_pydantic_ai(server, operator, responses, stream):
    text, exchange = answered_call(
        operator, lambda: pydantic_ai_call(server, responses, stream, "Hello from pydantic-ai"))
    assert text == ANSWER
    assert exchange["user_input"] == "Hello from pydantic-ai"
    assert exchange["stream"] is stream
    assert exchange["request"]["messages"][0] == {"role": "system", "content": "Answer briefly."}
    request = server.runtime.switchboard.get(exchange["id"]).request
    assert ("responses_request" in request) is responses
