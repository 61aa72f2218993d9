"""The three modes end to end: an openai-python client, our server, a real upstream over HTTP."""

from __future__ import annotations

import sqlite3
import threading

import openai
import pytest

from human_chat_completions.config import Settings
from human_chat_completions.copilot.profiles import Profile
from tests.fakes.upstream import Behaviour, FakeUpstream, split_words
from tests.support import Operator, RunningServer, wait_until


@pytest.fixture
def upstream():
    with FakeUpstream() as fake:
        yield fake


def running(tmp_path, upstream: FakeUpstream, mode: str, **settings) -> RunningServer:
    profile = Profile(name="fake", base_url=upstream.base_url, model="fake-model",
                      instruction="You help a human operator.", timeout_seconds=2)
    return RunningServer(tmp_path / "data", Settings(default_mode=mode, profiles=[profile],
                                                     **settings))


class Client:
    """One streaming request in a thread, keeping each chunk as it arrived."""

    def __init__(self, base: str, text: str, stream: bool = True, **extra) -> None:
        self.chunks: list = []
        self.completion = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(base, text, stream, extra))
        self.thread.start()

    def _run(self, base: str, text: str, stream: bool, extra: dict) -> None:
        try:
            with openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0) as api:
                messages = [{"role": "system", "content": "Client system prompt."},
                            {"role": "user", "content": text}]
                result = api.chat.completions.create(model="gpt-x", messages=messages,
                                                     stream=stream, **extra)
                if stream:
                    for chunk in result:
                        self.chunks.append(chunk)
                else:
                    self.completion = result
        except BaseException as error:
            self.error = error

    def join(self) -> None:
        self.thread.join(20)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error

    @property
    def contents(self) -> list[str]:
        return [c.choices[0].delta.content for c in self.chunks
                if c.choices and c.choices[0].delta.content]

    @property
    def text(self) -> str:
        return "".join(self.contents)


def log_row(server: RunningServer, exchange_id: str) -> dict:
    db = sqlite3.connect(server.data_dir / "exchanges.sqlite3")
    db.row_factory = sqlite3.Row
    row = dict(db.execute("SELECT * FROM exchanges WHERE id = ?", (exchange_id,)).fetchone())
    row["drafts"] = [dict(r) for r in db.execute("SELECT * FROM drafts WHERE exchange_id = ?",
                                                 (exchange_id,))]
    db.close()
    return row


def finished_draft(operator: Operator, exchange_id: str) -> dict:
    def ready():
        drafts = operator.exchange(exchange_id)["drafts"]
        return next((d for d in drafts if d["done_at"]), None)

    return wait_until(ready)


def test_copilot_draft_sent_unchanged_edited_or_discarded(tmp_path, upstream):
    upstream.behaviour.chunk_delay = 0.01
    with running(tmp_path, upstream, "copilot") as server:
        operator = Operator(server.base)
        outcomes = {}
        for how in ("unchanged", "edited", "discarded"):
            client = Client(server.base, f"question {how}")
            exchange = operator.wait_for(1)[0]
            draft = finished_draft(operator, exchange["id"])
            assert draft["text"] == f"Draft answer to: question {how}" and draft["error"] is None
            if how == "unchanged":
                operator.http.post(f"/exchanges/{exchange['id']}/reply",
                                   json={"text": draft["text"], "done": True, "draft_id": draft["id"]})
            elif how == "edited":
                operator.http.post(f"/exchanges/{exchange['id']}/reply",
                                   json={"text": draft["text"] + " Indeed.", "done": True,
                                         "draft_id": draft["id"]})
            else:
                operator.reply(exchange["id"], "Written by hand.")
            client.join()
            outcomes[how] = (client.text, log_row(server, exchange["id"]))
        operator.close()
    assert outcomes["unchanged"][0] == "Draft answer to: question unchanged"
    assert outcomes["unchanged"][1]["author"] == "copilot"
    assert outcomes["unchanged"][1]["edit_distance"] == 0
    assert outcomes["edited"][1]["author"] == "edited" and outcomes["edited"][1]["edit_distance"] == 8
    assert outcomes["discarded"][0] == "Written by hand."
    assert outcomes["discarded"][1]["author"] == "human"
    for _, row in outcomes.values():
        [draft] = row["drafts"]
        assert draft["profile"] == "fake" and draft["model"] == "fake-model"
        assert draft["first_token_at"] and draft["done_at"] and draft["text"]
        assert row["first_draft_token_at"]
    # The copilot instruction went first; the client's own system prompt was kept.
    sent = upstream.requests[0].body["messages"]
    assert sent[0]["role"] == "system" and "human operator" in sent[0]["content"]
    assert {"role": "system", "content": "Client system prompt."} in sent


def test_regenerate_with_an_instruction_adds_drafts(tmp_path, upstream):
    with running(tmp_path, upstream, "copilot", draft_candidates=2) as server:
        operator = Operator(server.base)
        client = Client(server.base, "hello")
        [exchange] = operator.wait_for(1)
        wait_until(lambda: len([d for d in operator.exchange(exchange["id"])["drafts"]
                                if d["done_at"]]) == 2)
        response = operator.http.post(f"/exchanges/{exchange['id']}/regenerate",
                                      json={"instruction": "shorter"})
        assert response.status_code == 200
        drafts = wait_until(lambda: (d := operator.exchange(exchange["id"])["drafts"]) and
                            len(d) == 4 and all(x["done_at"] for x in d) and d)
        assert [d["instruction"] for d in drafts] == [None, None, "shorter", "shorter"]
        assert "shorter" in upstream.requests[-1].body["messages"][0]["content"]
        operator.reply(exchange["id"], "ok")
        client.join()
        operator.close()


def test_auto_streams_the_upstream_chunk_by_chunk(tmp_path, upstream):
    upstream.behaviour.chunk_delay = 0.02
    with running(tmp_path, upstream, "auto") as server:
        client = Client(server.base, "tell me about tea", stream_options={"include_usage": True})
        client.join()
        operator = Operator(server.base)
        [exchange] = operator.exchanges()
        operator.close()
    expected = "Draft answer to: tell me about tea"
    assert client.contents == split_words(expected)  # upstream chunk boundaries preserved
    assert [c.choices[0].finish_reason for c in client.chunks if c.choices][-1] == "stop"
    assert exchange["author"] == "auto" and exchange["final"] == expected


def test_an_auto_response_starts_with_the_llm_s_first_words_or_soon_without_them(tmp_path, upstream):
    """The role chunk waits for an LLM's first words and goes out with them; an LLM slower than
    HEAD_HOLD_SECONDS does not hold the response's start back."""
    import time

    import httpx

    from human_chat_completions.api.responses import HEAD_HOLD_SECONDS

    upstream.behaviour.first_token_delay = 1.0
    with running(tmp_path, upstream, "auto") as server:
        started = time.monotonic()
        arrivals: list[tuple[float, str]] = []
        with httpx.stream("POST", server.base + "/v1/chat/completions", timeout=10, json={
                "model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as response:
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    arrivals.append((time.monotonic() - started, line))
    (role_after, role), (words_after, words) = arrivals[:2]
    assert '"role": "assistant"' in role and '"content": "Draft "' in words
    assert HEAD_HOLD_SECONDS * 0.8 <= role_after < 0.9 < words_after


def test_an_auto_answer_s_first_chunk_carries_the_role_and_the_first_words(tmp_path, upstream):
    """A client parses one chunk, not an empty role chunk and then the words, before its first
    token; a person's reply (and an LLM too slow for the hold) still starts with the role alone."""
    with running(tmp_path, upstream, "auto") as server:
        client = Client(server.base, "tell me about tea")
        client.join()
    assert client.error is None
    first = client.chunks[0].choices[0].delta
    assert first.role == "assistant" and first.content == "Draft "
    assert [c.choices[0].delta.role for c in client.chunks if c.choices][1:] == [None] * (len(client.chunks) - 1)
    assert "".join(c.choices[0].delta.content or "" for c in client.chunks) == "Draft answer to: tell me about tea"


def test_auto_passes_tool_calls_through(tmp_path, upstream):
    upstream.behaviour.tool_call = True
    with running(tmp_path, upstream, "auto") as server:
        streamed = Client(server.base, "weather?", tools=[{"type": "function", "function": {
            "name": "get_weather", "parameters": {"type": "object", "properties": {}}}}])
        streamed.join()
        whole = Client(server.base, "weather again?", stream=False, tools=[{
            "type": "function", "function": {"name": "get_weather", "parameters": {}}}])
        whole.join()
    calls = [c.choices[0].delta.tool_calls for c in streamed.chunks
             if c.choices and c.choices[0].delta.tool_calls]
    assert calls and calls[0][0].function.name
    assert [c.choices[0].finish_reason for c in streamed.chunks if c.choices][-1] == "tool_calls"
    message = whole.completion.choices[0].message
    assert message.tool_calls and message.tool_calls[0].function.name == calls[0][0].function.name
    assert whole.completion.choices[0].finish_reason == "tool_calls"
    assert "tools" in upstream.requests[0].body


def test_take_over_mid_stream_keeps_what_was_sent(tmp_path, upstream):
    upstream.behaviour.chunk_delay = 0.3
    with running(tmp_path, upstream, "auto") as server:
        operator = Operator(server.base)
        client = Client(server.base, "a long answer please")
        wait_until(lambda: len(client.contents) >= 2)
        [exchange] = operator.exchanges()
        taken = operator.http.post(f"/exchanges/{exchange['id']}/takeover")
        assert taken.status_code == 200
        assert upstream.wait_disconnected(0)  # the upstream stream was cancelled
        sent = operator.exchange(exchange["id"])["final"]
        operator.reply(exchange["id"], " — finished by hand.")
        client.join()
        row = log_row(server, exchange["id"])
        operator.close()
    assert sent and client.text == sent + " — finished by hand."
    assert row["author"] == "auto+takeover"


@pytest.mark.parametrize("failure", [
    "fail_auth", "rate_limit", pytest.param("stall", marks=pytest.mark.slow),  # waits out a timeout
    "down", "error_mid_stream"])
def test_auto_failure_falls_back_to_the_operator(tmp_path, upstream, failure):
    if failure == "down":
        upstream.go_down()
    else:
        upstream.behaviour.fail = failure
    with running(tmp_path, upstream, "auto") as server:
        operator = Operator(server.base)
        client = Client(server.base, "are you there?")
        exchange = wait_until(lambda: (e := operator.exchanges()) and e[0]["notice"] and e[0])
        assert "answer by hand" in exchange["notice"]
        assert exchange["outcome"] in ("waiting", "replying")
        partial = exchange["final"]  # only what the LLM really wrote before failing
        operator.reply(exchange["id"], "Sorry for the wait.")
        client.join()
        operator.close()
    assert client.text == partial + "Sorry for the wait."
    assert "k" not in exchange["notice"].split()  # the key never shows


def test_copilot_failure_shows_in_the_draft_and_the_operator_answers(tmp_path, upstream):
    upstream.behaviour.fail = "fail_auth"
    with running(tmp_path, upstream, "copilot") as server:
        operator = Operator(server.base)
        client = Client(server.base, "hi")
        [exchange] = operator.wait_for(1)
        draft = finished_draft(operator, exchange["id"])
        assert draft["error"] and draft["text"] == ""
        operator.reply(exchange["id"], "Hello!")
        client.join()
        operator.close()
    assert client.text == "Hello!"


def test_away_policy_sends_the_draft(tmp_path, upstream):
    with running(tmp_path, upstream, "copilot", away_timeout_seconds={"copilot": 0.8},
                 away_action={"copilot": "send_draft"}) as server:
        client = Client(server.base, "anyone?")
        client.join()
        operator = Operator(server.base)
        [exchange] = operator.exchanges()
        operator.close()
    assert client.text == "Draft answer to: anyone?"
    assert exchange["author"] == "timeout-policy"


def test_away_policy_can_send_a_canned_reply_in_human_mode(tmp_path, upstream):
    with running(tmp_path, upstream, "human", away_timeout_seconds={"human": 0.5},
                 away_action={"human": "send_canned"}, canned_replies=["One moment please."]) as server:
        client = Client(server.base, "hello?", stream=False)
        client.join()
    assert client.completion.choices[0].message.content == "One moment please."


def test_side_requests_never_reach_the_operator(tmp_path, upstream):
    with running(tmp_path, upstream, "human") as server:
        title = Client(server.base, "### Task:\nGenerate a concise, 3-5 word title with an emoji "
                                    "summarizing the chat history.", stream=False)
        title.join()
        operator = Operator(server.base)
        [exchange] = operator.exchanges()
        operator.close()
    assert title.completion.choices[0].message.content == '{"title": "New chat"}'
    assert exchange["side_request"] == "openwebui-title" and exchange["author"] == "auto"
    assert upstream.requests == []  # canned: no study text sent to a third party


def test_without_a_profile_auto_mode_stays_with_the_operator(tmp_path):
    with RunningServer(tmp_path / "data", Settings(default_mode="auto")) as server:
        operator = Operator(server.base)
        client = Client(server.base, "hi")
        exchange = wait_until(lambda: (e := operator.exchanges()) and e[0]["notice"] and e[0])
        assert "profile" in exchange["notice"]
        response = operator.http.post(f"/exchanges/{exchange['id']}/takeover")
        assert response.status_code == 409
        operator.reply(exchange["id"], "by hand")
        client.join()
        operator.close()
    assert client.text == "by hand"


@pytest.mark.slow  # the client's own timeout has to pass
def test_a_timed_out_auto_request_retried_by_the_client_is_answered_once(tmp_path, upstream):
    upstream.script.append(Behaviour(first_token_delay=2.5))  # slower than the client waits
    with running(tmp_path, upstream, "auto") as server:
        with openai.OpenAI(base_url=server.base + "/v1", api_key="k", timeout=1.0,
                           max_retries=1) as api:
            # Non-stream: headers wait for the answer, so the client's timeout makes it retry.
            completion = api.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "patience"}])
            text = completion.choices[0].message.content
        operator = Operator(server.base)
        exchanges = operator.exchanges()
        operator.close()
    assert text == "Draft answer to: patience"
    assert len(exchanges) == 1 and exchanges[0]["author"] == "auto"
    assert len(upstream.requests) == 2 and upstream.streams[0].disconnected.is_set()
