"""The copilot upstream through the real `openai.AsyncOpenAI` client against a fake OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from human_chat_completions.copilot import keyring_store
from human_chat_completions.copilot.profiles import Profile
from human_chat_completions.copilot.upstream import (
    Finish,
    Piece,
    TextDelta,
    ToolCallDelta,
    Upstream,
    UpstreamError,
    build_messages,
    close_candidates,
)
from tests.fakes.keyring import MemoryKeyring
from tests.fakes.upstream import Behaviour, FakeUpstream

KEY = "sk-test-SECRET-0123456789"
CLIENT_MESSAGES = [
    {"role": "system", "content": "You are Ada, a friendly tutor."},
    {"role": "user", "content": "What is a prime number?"},
]
WORDS = ["Draft ", "answer ", "to: ", "What ", "is ", "a ", "prime ", "number?"]


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(require_key=KEY) as running:
        yield running


@pytest.fixture
def profile(fake: FakeUpstream) -> Profile:
    return Profile(name="fake", base_url=fake.base_url, model="fake-model", instruction="Draft a reply.",
                   timeout_seconds=5)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with Upstream(key_lookup=lambda p: KEY) as running:
        yield running


async def collect(pieces: AsyncIterator[Piece]) -> list[Piece]:
    return [piece async for piece in pieces]


async def failure(pieces: AsyncIterator[Piece]) -> tuple[list[Piece], UpstreamError]:
    got: list[Piece] = []
    with pytest.raises(UpstreamError) as caught:
        async for piece in pieces:
            got.append(piece)
    return got, caught.value


def assert_no_key(error: UpstreamError) -> None:
    assert KEY not in error.message and KEY not in str(error) and KEY not in repr(error)
    assert "sk-test" not in error.message  # not even the masked form the upstream echoes
    assert error.__cause__ is None and error.__suppress_context__


async def wait_disconnected(fake: FakeUpstream, index: int, timeout: float = 3.0) -> bool:
    return await asyncio.to_thread(fake.wait_disconnected, index, timeout)


# -- a normal reply -------------------------------------------------------------------------------------------


async def test_text_streams_one_piece_per_upstream_chunk(
    fake: FakeUpstream, profile: Profile, upstream: Upstream
) -> None:
    pieces = await collect(upstream.stream_reply(profile, CLIENT_MESSAGES, {"temperature": 0.3}))
    assert pieces[:-1] == [TextDelta(w) for w in WORDS]
    finish = pieces[-1]
    assert isinstance(finish, Finish) and finish.finish_reason == "stop" and finish.model == "fake-model"
    assert finish.usage == {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18}


async def test_chunks_arrive_as_the_upstream_sends_them(fake: FakeUpstream, profile: Profile,
                                                       upstream: Upstream) -> None:
    fake.behaviour.chunk_delay = 0.08
    times: list[float] = []
    async for piece in upstream.stream_reply(profile, CLIENT_MESSAGES):
        if isinstance(piece, TextDelta):
            times.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == len(WORDS)
    assert min(gaps) > 0.04, gaps  # not buffered into one lump


async def test_request_keeps_the_client_system_prompt_after_the_instruction(
    fake: FakeUpstream, profile: Profile, upstream: Upstream
) -> None:
    client_params = {"temperature": 1.5, "max_completion_tokens": 50, "n": 3, "user": "participant-7",
                     "metadata": {"x": 1}, "stop": ["\n\n"], "seed": 4}
    tuned = profile.model_copy(update={"temperature": 0.2, "max_tokens": 99})
    await collect(upstream.stream_reply(tuned, CLIENT_MESSAGES, client_params, extra_instruction="shorter"))
    sent = fake.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    body = sent.body
    assert body["model"] == "fake-model" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"][0] == {
        "role": "system", "content": "Draft a reply.\n\nFor this reply, the operator asks: shorter"}
    assert body["messages"][1:] == CLIENT_MESSAGES
    assert body["temperature"] == 0.2 and body["max_tokens"] == 99
    assert body["stop"] == ["\n\n"] and body["seed"] == 4
    for dropped in ("n", "user", "metadata", "max_completion_tokens"):
        assert dropped not in body


async def test_instruction_override_and_none(fake: FakeUpstream, profile: Profile, upstream: Upstream) -> None:
    await collect(upstream.stream_reply(profile, CLIENT_MESSAGES, instruction=""))
    assert fake.requests[-1].body["messages"] == CLIENT_MESSAGES
    await collect(upstream.stream_reply(profile, CLIENT_MESSAGES, instruction="Be brief."))
    assert fake.requests[-1].body["messages"][0] == {"role": "system", "content": "Be brief."}


async def test_the_client_request_is_left_as_it_was(fake: FakeUpstream, profile: Profile,
                                                   upstream: Upstream) -> None:
    original = [dict(m) for m in CLIENT_MESSAGES]
    await collect(upstream.stream_reply(profile, original, instruction="I", extra_instruction="x"))
    assert original == CLIENT_MESSAGES
    assert fake.requests[-1].body["messages"][1:] == CLIENT_MESSAGES
    assert build_messages(original, None, None) == CLIENT_MESSAGES
    assert build_messages(original, "", "  ") == CLIENT_MESSAGES


async def test_no_usage_chunk_when_the_profile_says_so(fake: FakeUpstream, profile: Profile,
                                                       upstream: Upstream) -> None:
    plain = profile.model_copy(update={"stream_usage": False})
    pieces = await collect(upstream.stream_reply(plain, CLIENT_MESSAGES))
    assert "stream_options" not in fake.requests[-1].body
    assert pieces[-1] == Finish("stop", None, "fake-model")


async def test_tool_calls_pass_through_raw(fake: FakeUpstream, profile: Profile, upstream: Upstream) -> None:
    fake.behaviour.tool_call = True
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    pieces = await collect(upstream.stream_reply(profile, CLIENT_MESSAGES, {"tools": tools, "tool_choice": "auto"}))
    assert fake.requests[-1].body["tools"] == tools and fake.requests[-1].body["tool_choice"] == "auto"
    calls = [p for p in pieces if isinstance(p, ToolCallDelta)]
    assert len(calls) == 3 and not any(isinstance(p, TextDelta) for p in pieces)
    assert calls[0].tool_calls == [{"index": 0, "id": "call_fake1", "type": "function",
                                    "function": {"name": "lookup", "arguments": ""}}]
    assert calls[1].tool_calls == [{"index": 0, "function": {"arguments": calls[1].tool_calls[0]["function"]
                                                             ["arguments"]}}]
    arguments = "".join(c.tool_calls[0]["function"]["arguments"] for c in calls)
    assert json.loads(arguments) == {"query": "What is a prime number?"}
    assert isinstance(pieces[-1], Finish) and pieces[-1].finish_reason == "tool_calls"


# -- failures -------------------------------------------------------------------------------------------------


async def test_bad_key_is_an_auth_error(fake: FakeUpstream, profile: Profile) -> None:
    async with Upstream(key_lookup=lambda p: KEY + "-wrong") as wrong:
        _, error = await failure(wrong.stream_reply(profile, CLIENT_MESSAGES))
    assert error.kind == "auth" and error.status == 401
    assert "hcc keys set fake" in error.message
    assert_no_key(error)
    assert len(fake.requests) == 1  # no silent retry


async def test_missing_key_says_to_set_one(fake: FakeUpstream, profile: Profile) -> None:
    async with Upstream(key_lookup=lambda p: None) as keyless:
        _, error = await failure(keyless.stream_reply(profile, CLIENT_MESSAGES))
    assert error.kind == "auth" and "needs a key" in error.message and "hcc keys set fake" in error.message
    assert fake.requests[-1].headers["authorization"] == "Bearer no-key"


async def test_unavailable_keyring_is_explained_when_the_upstream_wants_a_key(
    fake: FakeUpstream, profile: Profile
) -> None:
    def lookup(p: Profile) -> str | None:
        raise keyring_store.KeyringUnavailable("No OS keyring is available to store keys.")

    async with Upstream(key_lookup=lookup) as no_keyring:
        _, error = await failure(no_keyring.stream_reply(profile, CLIENT_MESSAGES))
    assert error.kind == "auth" and "No OS keyring is available" in error.message


async def test_keyless_local_upstream_works_without_a_keyring(fake: FakeUpstream, profile: Profile) -> None:
    fake.require_key = None

    def lookup(p: Profile) -> str | None:
        raise keyring_store.KeyringUnavailable("no keyring")

    async with Upstream(key_lookup=lookup) as no_keyring:
        pieces = await collect(no_keyring.stream_reply(profile, CLIENT_MESSAGES))
    assert pieces[0] == TextDelta("Draft ")


async def test_server_down_is_unreachable(fake: FakeUpstream, profile: Profile, upstream: Upstream) -> None:
    fake.go_down()
    _, error = await failure(upstream.stream_reply(profile, CLIENT_MESSAGES))
    assert error.kind == "unreachable" and fake.base_url in error.message
    fake.come_up()
    assert isinstance((await collect(upstream.stream_reply(profile, CLIENT_MESSAGES)))[-1], Finish)


async def test_rate_limit(fake: FakeUpstream, profile: Profile, upstream: Upstream) -> None:
    fake.script.append(Behaviour(fail="rate_limit"))
    _, error = await failure(upstream.stream_reply(profile, CLIENT_MESSAGES))
    assert error.kind == "rate_limited" and error.status == 429
    assert "too many requests" in error.message and "20 s" in error.message
    assert len(fake.requests) == 1  # max_retries=0: the openai client did not retry behind our back


async def test_stall_times_out_and_closes_the_connection(fake: FakeUpstream, profile: Profile,
                                                         upstream: Upstream) -> None:
    fake.behaviour.fail = "stall"
    quick = profile.model_copy(update={"timeout_seconds": 0.4})
    started = time.monotonic()
    _, error = await failure(upstream.stream_reply(quick, CLIENT_MESSAGES))
    assert error.kind == "timeout" and "0.4 seconds" in error.message
    assert 0.3 < time.monotonic() - started < 3
    assert await wait_disconnected(fake, 0)


async def test_slow_first_token_within_the_timeout_is_fine(fake: FakeUpstream, profile: Profile,
                                                           upstream: Upstream) -> None:
    fake.behaviour.first_token_delay = 0.3
    patient = profile.model_copy(update={"timeout_seconds": 2})
    assert (await collect(upstream.stream_reply(patient, CLIENT_MESSAGES)))[0] == TextDelta("Draft ")
    fake.behaviour.first_token_delay = 1.0
    impatient = profile.model_copy(update={"timeout_seconds": 0.3})
    _, error = await failure(upstream.stream_reply(impatient, CLIENT_MESSAGES))
    assert error.kind == "timeout"


async def test_error_mid_stream_keeps_what_came_before(fake: FakeUpstream, profile: Profile,
                                                       upstream: Upstream) -> None:
    fake.behaviour = Behaviour(fail="error_mid_stream", chunks_before_error=3)
    got, error = await failure(upstream.stream_reply(profile, CLIENT_MESSAGES))
    assert got == [TextDelta(w) for w in WORDS[:3]]
    assert error.kind == "other" and "The model crashed while generating." in error.message


async def test_connection_cut_mid_stream(fake: FakeUpstream, profile: Profile, upstream: Upstream) -> None:
    fake.behaviour = Behaviour(fail="drop_mid_stream", chunks_before_error=2)
    got, error = await failure(upstream.stream_reply(profile, CLIENT_MESSAGES))
    assert got == [TextDelta(w) for w in WORDS[:2]]
    assert error.kind == "unreachable" and "lost in the middle" in error.message


@pytest.mark.parametrize(
    "behaviour, kind, status",
    [(Behaviour(fail="garbage"), "bad_response", None), (Behaviour(fail="server_error"), "other", 500)],
)
async def test_other_failures(fake: FakeUpstream, profile: Profile, upstream: Upstream, behaviour: Behaviour,
                              kind: str, status: int | None) -> None:
    fake.behaviour = behaviour
    _, error = await failure(upstream.stream_reply(profile, CLIENT_MESSAGES))
    assert (error.kind, error.status) == (kind, status)


async def test_unknown_model_or_path_is_explained(fake: FakeUpstream, profile: Profile,
                                                  upstream: Upstream) -> None:
    fake.known_models = {"fake-model"}
    typo = profile.model_copy(update={"model": "fake-modle"})
    _, error = await failure(upstream.stream_reply(typo, CLIENT_MESSAGES))
    assert error.kind == "other" and error.status == 404
    assert "“fake-modle”" in error.message and "does not exist" in error.message
    wrong_path = profile.model_copy(update={"base_url": fake.base_url + "/nope"})
    _, error = await failure(upstream.stream_reply(wrong_path, CLIENT_MESSAGES))
    assert error.kind == "other" and error.status == 404


# -- cancellation ---------------------------------------------------------------------------------------------


async def test_cancelling_the_task_closes_the_upstream_stream(fake: FakeUpstream, profile: Profile,
                                                              upstream: Upstream) -> None:
    fake.behaviour.chunk_delay = 0.5
    first = asyncio.Event()
    got: list[Piece] = []

    async def consume() -> None:
        async for piece in upstream.stream_reply(profile, CLIENT_MESSAGES):
            got.append(piece)
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 3)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_disconnected(fake, 0, timeout=2)
    assert fake.streams[0].ended_at is not None and fake.streams[0].ended_at - cancelled_at < 0.4
    assert not fake.streams[0].completed
    assert got == [TextDelta("Draft ")]


async def test_cancelling_while_waiting_for_the_first_token(fake: FakeUpstream, profile: Profile,
                                                            upstream: Upstream) -> None:
    fake.behaviour.fail = "stall"
    task = asyncio.create_task(collect(upstream.stream_reply(profile, CLIENT_MESSAGES)))
    while not fake.streams:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_disconnected(fake, 0, timeout=2)


async def test_leaving_early_with_aclosing_closes_the_stream(fake: FakeUpstream, profile: Profile,
                                                             upstream: Upstream) -> None:
    fake.behaviour.chunk_delay = 0.3
    async with contextlib.aclosing(upstream.stream_reply(profile, CLIENT_MESSAGES)) as pieces:
        async for _ in pieces:
            break
    assert await wait_disconnected(fake, 0, timeout=2)


# -- N candidates ---------------------------------------------------------------------------------------------


async def test_candidates_stream_concurrently(fake: FakeUpstream, profile: Profile, upstream: Upstream) -> None:
    fake.behaviour.chunk_delay = 0.05
    candidates = upstream.draft_candidates(profile, CLIENT_MESSAGES, 3, extra_instruction="warmer")
    assert [c.index for c in candidates] == [0, 1, 2]
    results = await asyncio.gather(*(collect(c) for c in candidates))
    for pieces in results:
        assert "".join(p.text for p in pieces if isinstance(p, TextDelta)) == "".join(WORDS)
        assert isinstance(pieces[-1], Finish)
    assert len(fake.requests) == 3 and fake.max_concurrent_streams() == 3
    assert all("warmer" in r.body["messages"][0]["content"] for r in fake.requests)
    assert all(c.done and c.error is None for c in candidates)


async def test_one_failed_candidate_does_not_stop_the_others(fake: FakeUpstream, profile: Profile,
                                                             upstream: Upstream) -> None:
    fake.script.append(Behaviour(fail="rate_limit"))
    candidates = upstream.draft_candidates(profile, CLIENT_MESSAGES, 2)
    outcomes = await asyncio.gather(*(collect(c) for c in candidates), return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, UpstreamError)]
    assert len(errors) == 1 and errors[0].kind == "rate_limited"
    assert sum(1 for c in candidates if c.error is not None) == 1
    ok = [o for o in outcomes if isinstance(o, list)]
    assert len(ok) == 1 and isinstance(ok[0][-1], Finish)


async def test_closing_candidates_closes_their_streams(fake: FakeUpstream, profile: Profile,
                                                       upstream: Upstream) -> None:
    fake.behaviour.chunk_delay = 0.5
    candidates = upstream.draft_candidates(profile, CLIENT_MESSAGES, 2)
    first = await anext(candidates[0])
    assert first == TextDelta("Draft ")
    await close_candidates(candidates)
    assert await wait_disconnected(fake, 0) and await wait_disconnected(fake, 1)
    assert all(c.cancelled for c in candidates)
    assert [p async for p in candidates[1]] in ([], [TextDelta("Draft ")])  # ends, never hangs


async def test_a_candidate_cancelled_before_it_ran_ends(profile: Profile, upstream: Upstream) -> None:
    (candidate,) = upstream.draft_candidates(profile, CLIENT_MESSAGES, 1)
    candidate.cancel()
    assert await asyncio.wait_for(collect(candidate), 2) == []


async def test_zero_candidates_is_refused(profile: Profile, upstream: Upstream) -> None:
    with pytest.raises(ValueError):
        upstream.draft_candidates(profile, CLIENT_MESSAGES, 0)


# -- client cache ---------------------------------------------------------------------------------------------


async def test_one_client_per_profile_rebuilt_when_address_or_key_change(fake: FakeUpstream,
                                                                         profile: Profile) -> None:
    keys = {"fake": KEY}
    lookups: list[str] = []

    def lookup(p: Profile) -> str | None:
        lookups.append(p.name)
        return keys.get(p.name)

    async with Upstream(key_lookup=lookup, key_ttl=3600) as upstream:
        first = await upstream.client(profile)
        assert await upstream.client(profile) is first
        assert lookups == ["fake"]  # cached key: the keyring is not on every draft's path
        moved = await upstream.client(profile.model_copy(update={"base_url": "http://127.0.0.1:9/v1"}))
        assert moved is not first
        keys["fake"] = KEY + "-new"
        assert await upstream.client(profile) is not first  # rebuilt for the old URL...
        upstream.forget("fake")
        newest = await upstream.client(profile)
        assert newest.api_key == KEY + "-new"
        other = profile.model_copy(update={"name": "other"})
        assert await upstream.client(other) is not newest


async def test_a_refused_key_is_looked_up_again(fake: FakeUpstream, profile: Profile) -> None:
    keys = [KEY + "-old", KEY]

    async with Upstream(key_lookup=lambda p: keys[0], key_ttl=3600) as upstream:
        _, error = await failure(upstream.stream_reply(profile, CLIENT_MESSAGES))
        assert error.kind == "auth"
        keys.pop(0)  # the operator ran `hcc keys set fake`
        assert isinstance((await collect(upstream.stream_reply(profile, CLIENT_MESSAGES)))[-1], Finish)


async def test_default_key_lookup_reads_the_keyring(fake: FakeUpstream, profile: Profile,
                                                    memory_keyring: MemoryKeyring) -> None:
    keyring_store.set_key(profile, KEY)
    async with Upstream() as upstream:
        assert isinstance((await collect(upstream.stream_reply(profile, CLIENT_MESSAGES)))[-1], Finish)
        assert await upstream.list_models(profile) == ["fake-model"]


async def test_list_models_maps_errors(fake: FakeUpstream, profile: Profile) -> None:
    async with Upstream(key_lookup=lambda p: "wrong") as upstream:
        with pytest.raises(UpstreamError) as caught:
            await upstream.list_models(profile)
    assert caught.value.kind == "auth"



@pytest.mark.parametrize("raw, kind", [("ReadTimeout", "timeout"), ("RemoteProtocolError", "unreachable")])
async def test_raw_transport_errors_of_older_openai_versions_are_mapped(profile: Profile, raw: str,
                                                                         kind: str) -> None:
    """openai < 2 lets httpx's own errors out of a stream being read; newer versions wrap them."""
    import httpx

    async with Upstream(key_lookup=lambda p: KEY) as upstream:
        entry = await upstream._entry(profile)
        mapped = upstream._error(getattr(httpx, raw)("boom"), profile, entry, started=True)
    assert mapped.kind == kind


async def test_the_key_is_never_logged(fake: FakeUpstream, profile: Profile, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with Upstream(key_lookup=lambda p: KEY) as upstream:
        await collect(upstream.stream_reply(profile, CLIENT_MESSAGES))
    async with Upstream(key_lookup=lambda p: KEY + "-wrong") as upstream:
        await failure(upstream.stream_reply(profile, CLIENT_MESSAGES))
    assert caplog.records and "upstream auth" in caplog.text
    assert "sk-test" not in caplog.text


def test_the_environment_proxy_is_looked_up_once_per_profile_and_no_proxy_respected(monkeypatch) -> None:
    from human_chat_completions.copilot.sse import proxy_for

    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_for("https://api.openai.com/v1") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert proxy_for("https://api.openai.com/v1") == "http://proxy.example:3128"
    assert proxy_for("http://127.0.0.1:11434/v1") is None  # NO_PROXY, and no HTTP_PROXY anyway
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert proxy_for("http://localhost:11434/v1") is None
    assert proxy_for("http://lab-server:8000/v1") == "http://proxy.example:3128"


def test_sse_chunks_read_what_json_reads_as_json_does() -> None:
    """Events are decoded by orjson, and what it refuses (a lone surrogate, NaN) by json."""
    from human_chat_completions.copilot.sse import UpstreamResponse, sse_chunks

    body = (b'data: {"choices":[{"delta":{"content":"caf\\u00e9 \\ud83d\\ude00"}}],"created":1}\n\n'
            b'data: {"choices":[{"delta":{"content":"half \\ud800"}}],"x":NaN}\n\n'
            b"data: [DONE]\n\n")

    async def pieces() -> AsyncIterator[bytes]:
        yield body

    async def read() -> list[dict]:
        return [chunk async for chunks in sse_chunks(UpstreamResponse(pieces(), lambda: None))
                for chunk in chunks]

    first, second = asyncio.run(read())
    assert first == json.loads(body.split(b"\n\n")[0][6:])
    assert second["choices"][0]["delta"]["content"] == "half \ud800" and second["x"] != second["x"]
