"""The OpenAI-compatible API driven by the official openai client, answered through the operator API."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from tests.support import Operator, RunningServer, wait_until


def client(server: RunningServer, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base + "/v1", api_key="sk-participant-key", **kwargs)


def test_non_stream_reply_reaches_the_client_in_openai_shape(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(
            api.chat.completions.create,
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Hello?"}],
        )
        [exchange] = operator.wait_for(1)
        assert exchange["user_input"] == "Hello?"
        assert exchange["stream"] is False
        operator.reply(exchange["id"], "Hi, I am here.").raise_for_status()
        completion = future.result(timeout=10)
    assert completion.choices[0].message.content == "Hi, I am here."
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_stream_in_five_pieces_arrives_as_five_deltas_with_usage(server, operator):
    pieces = ["Once ", "upon ", "a ", "time, ", "the end."]
    with ThreadPoolExecutor(1) as pool, client(server) as api:

        def read_stream() -> list:
            stream = api.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "Tell me a story"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            return list(stream)

        future = pool.submit(read_stream)
        [exchange] = operator.wait_for(1)
        for piece in pieces[:-1]:
            operator.reply(exchange["id"], piece, done=False).raise_for_status()
        operator.reply(exchange["id"], pieces[-1], done=True).raise_for_status()
        chunks = future.result(timeout=10)
    assert chunks[0].choices[0].delta.role == "assistant"
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert contents == pieces
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert all(c.model == "m" for c in chunks)


async def test_twenty_concurrent_requests_answered_in_shuffled_order(server, operator):
    api = openai.AsyncOpenAI(base_url=server.base + "/v1", api_key="k")
    questions = [f"question number {i}" for i in range(20)]

    async def ask(index: int, question: str) -> str:
        if index % 2:
            completion = await api.chat.completions.create(
                model="m", messages=[{"role": "user", "content": question}]
            )
            return completion.choices[0].message.content
        stream = await api.chat.completions.create(
            model="m", messages=[{"role": "user", "content": question}], stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    tasks = [asyncio.create_task(ask(i, q)) for i, q in enumerate(questions)]
    waiting = await asyncio.to_thread(operator.wait_for, 20)
    random.Random(7).shuffle(waiting)
    for exchange in waiting:
        response = await asyncio.to_thread(
            operator.reply, exchange["id"], "answer to " + exchange["user_input"]
        )
        response.raise_for_status()
    answers = await asyncio.wait_for(asyncio.gather(*tasks), 20)
    await api.close()
    assert answers == ["answer to " + q for q in questions]
    assert len({e["conversation"]["id"] for e in operator.exchanges()}) == 20


def test_base_url_ending_in_chat_completions_still_works(server, operator):
    api = openai.OpenAI(base_url=server.base + "/v1/chat/completions", api_key="k")
    with ThreadPoolExecutor(1) as pool, api:
        future = pool.submit(
            lambda: "".join(
                c.choices[0].delta.content or ""
                for c in api.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}], stream=True
                )
                if c.choices
            )
        )
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], "hello there")
        assert future.result(timeout=10) == "hello there"


def test_client_that_hangs_up_leaves_an_abandoned_exchange_and_server_keeps_serving(
    server, operator
):
    impatient = client(server, timeout=1.0, max_retries=0)
    with pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(model="m", messages=[{"role": "user", "content": "wait"}])
    impatient.close()
    [gone] = operator.wait_for(1, outcome="abandoned")
    assert gone["user_input"] == "wait"
    late = operator.reply(gone["id"], "too late")
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "exchange_abandoned"
    # The server still answers the next participant.
    test_non_stream_reply_reaches_the_client_in_openai_shape(server, operator)


def test_streaming_client_that_hangs_up_is_abandoned(server, operator):
    import httpx

    with httpx.Client(base_url=server.base) as http:
        with http.stream(
            "POST", "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "s"}], "stream": True},
        ) as response:
            lines = response.iter_lines()  # dropping this iterator would close the stream
            assert next(lines).startswith("data: ")
            operator.wait_for(1)
            time.sleep(0.3)
            assert operator.exchanges("waiting"), "abandoned while the client still listened"
    operator.wait_for(1, outcome="abandoned")


@pytest.mark.slow  # the client's own timeout has to pass
def test_timed_out_client_retry_attaches_to_the_same_exchange(server, operator):
    # openai-python retries a timed-out request by itself; the operator must see it once.
    patient = client(server, timeout=1.0, max_retries=2)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(
            patient.chat.completions.create, model="m",
            messages=[{"role": "user", "content": "retry me"}],
        )
        operator.wait_for(1, outcome="abandoned")
        [revived] = operator.wait_for(1, outcome="waiting", timeout=10)
        operator.reply(revived["id"], "answered once").raise_for_status()
        completion = future.result(timeout=10)
    patient.close()
    assert completion.choices[0].message.content == "answered once"
    assert len(operator.exchanges()) == 1


def test_declared_retry_beside_a_live_twin_shares_its_reply(server, operator):
    import httpx

    body = {"model": "m", "messages": [{"role": "user", "content": "twin"}]}
    with ThreadPoolExecutor(2) as pool, httpx.Client(base_url=server.base, timeout=10) as http:
        first = pool.submit(http.post, "/v1/chat/completions", json=body)
        [exchange] = operator.wait_for(1)
        second = pool.submit(http.post, "/v1/chat/completions", json=body,
                             headers={"x-stainless-retry-count": "1"})
        wait_until(lambda: server.runtime.switchboard.get(exchange["id"]).readers == 2)
        operator.reply(exchange["id"], "one answer")
        replies = [f.result(10).json()["choices"][0]["message"]["content"] for f in (first, second)]
    assert replies == ["one answer", "one answer"]
    assert len(operator.exchanges()) == 1


def test_same_words_from_another_client_open_a_second_exchange(server, operator):
    import httpx

    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    with ThreadPoolExecutor(2) as pool, httpx.Client(base_url=server.base, timeout=10) as http:
        futures = [pool.submit(http.post, "/v1/chat/completions", json=body) for _ in range(2)]
        exchanges = operator.wait_for(2)
        for i, exchange in enumerate(exchanges):
            operator.reply(exchange["id"], f"reply {i}")
        replies = sorted(f.result(10).json()["choices"][0]["message"]["content"] for f in futures)
    assert replies == ["reply 0", "reply 1"]
    assert exchanges[0]["conversation"]["id"] != exchanges[1]["conversation"]["id"]


def test_long_non_stream_wait_sends_headers_early_and_still_parses(tmp_path):
    from human_chat_completions.config import Settings

    settings = Settings(nonstream_headers_after=0.1, keepalive_seconds=0.1)
    with RunningServer(tmp_path / "data", settings) as running:
        operator = Operator(running.base)
        import httpx

        headers_in = threading.Event()  # the response began before the operator answered
        with httpx.Client(base_url=running.base, timeout=10) as http, ThreadPoolExecutor(1) as pool:
            def raw() -> tuple[int, bytes]:
                with http.stream("POST", "/v1/chat/completions",
                                 json={"model": "m", "messages": [{"role": "user", "content": "x"}]}) as r:
                    headers_in.set()
                    return r.status_code, r.read()

            future = pool.submit(raw)
            [exchange] = operator.wait_for(1)
            assert headers_in.wait(10)
            operator.reply(exchange["id"], "late but fine")
            status, body = future.result(10)
        assert status == 200
        assert body.startswith(b"\n")  # headers and whitespace went out before the answer
        import json
        assert json.loads(body)["choices"][0]["message"]["content"] == "late but fine"

        early = threading.Event()

        def official_client_call(api: openai.OpenAI):
            # The official client's call returns its response object as soon as headers arrive.
            with api.chat.completions.with_streaming_response.create(
                    model="m", messages=[{"role": "user", "content": "y"}]) as response:
                early.set()
                return response.parse()

        with ThreadPoolExecutor(1) as pool, client(running) as api:
            future = pool.submit(official_client_call, api)
            [exchange] = operator.wait_for(1)
            assert early.wait(10)
            operator.reply(exchange["id"], "parsed by openai")
            assert future.result(10).choices[0].message.content == "parsed by openai"
        operator.close()


def test_stream_sends_keepalive_comments_while_waiting(tmp_path):
    import httpx

    from human_chat_completions.config import Settings

    with RunningServer(tmp_path / "data", Settings(keepalive_seconds=0.1)) as running:
        operator = Operator(running.base)
        with httpx.Client(base_url=running.base, timeout=10) as http, http.stream(
            "POST", "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "k"}], "stream": True},
        ) as response:
            lines = response.iter_lines()
            seen = [next(lines) for _ in range(4)]
            assert seen[0].startswith("data: ")
            assert ": keep-alive" in seen
            [exchange] = operator.wait_for(1)
            operator.reply(exchange["id"], "ok")
            rest = list(lines)
        assert rest[-2:] == ["data: [DONE]", ""] or rest[-1] == "data: [DONE]"
        operator.close()


def test_models_are_listed_and_any_model_exists(server):
    with client(server) as api:
        assert [m.id for m in api.models.list()] == ["human"]
        assert api.models.retrieve("gpt-4o").id == "gpt-4o"


def test_shutdown_ends_waiting_clients_with_an_error_not_a_hang(tmp_path):
    running = RunningServer(tmp_path / "data").start()
    operator = Operator(running.base)
    api = client(running, max_retries=0)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(
            lambda: list(api.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "bye"}], stream=True))
        )
        operator.wait_for(1)
        operator.close()
        running.stop()
        with pytest.raises(openai.APIError) as raised:
            future.result(timeout=20)
    assert "shutting down" in str(raised.value)
    api.close()
    import sqlite3
    db = sqlite3.connect(tmp_path / "data" / "exchanges.sqlite3")
    assert db.execute("SELECT state FROM exchanges").fetchall() == [("failed",)]
    db.close()
