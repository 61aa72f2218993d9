"""Auto mode under load loses nothing: many streaming clients at once through the real server, and
afterwards every reply is in the log exactly as its client received it."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
import openai

from human_chat_completions.config import Settings
from human_chat_completions.copilot.profiles import Profile
from tests.fakes.upstream import FakeUpstream, reply_text
from tests.support import RunningServer

CLIENTS = 20
ROUNDS = 2


def question(client: int, round_: int) -> str:
    # Escapes, non-Latin text and an emoji: the chunks are re-serialised on the way.
    return (f"client {client} round {round_}: naïve “quotes” \"escaped\" back\\slash 日本語 😀 "
            + " ".join(f"w{n}" for n in range(30)))


async def ask(api: openai.AsyncOpenAI, client: int, round_: int) -> tuple[str, str]:
    stream = await api.chat.completions.create(
        model="m", stream=True, messages=[{"role": "user", "content": question(client, round_)}])
    received = "".join([chunk.choices[0].delta.content or "" async for chunk in stream
                        if chunk.choices])
    return question(client, round_), received


async def load(base: str) -> list[tuple[str, str]]:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        api = openai.AsyncOpenAI(base_url=base + "/v1", api_key="k", http_client=http, max_retries=0)

        async def client(number: int) -> list[tuple[str, str]]:
            return [await ask(api, number, round_) for round_ in range(ROUNDS)]

        results = await asyncio.gather(*(client(number) for number in range(CLIENTS)))
    return [pair for pairs in results for pair in pairs]


async def test_every_auto_reply_under_load_is_in_the_log_byte_for_byte(tmp_path):
    with FakeUpstream() as upstream:
        profile = Profile(name="fake", base_url=upstream.base_url, model="fake-model", timeout_seconds=10)
        settings = Settings(default_mode="auto", profiles=[profile])
        with RunningServer(tmp_path / "data", settings) as server:
            answered = await load(server.base)
    db = sqlite3.connect(tmp_path / "data" / "exchanges.sqlite3")
    logged = {user_input: (reply, state, author) for user_input, reply, state, author in db.execute(
        "SELECT user_input, reply, state, author FROM exchanges")}
    db.close()
    assert len(answered) == len(logged) == CLIENTS * ROUNDS
    for asked, received in answered:
        expected = reply_text({"messages": [{"role": "user", "content": asked}]})
        assert received == expected
        assert logged[asked] == (received, "done", "auto")
