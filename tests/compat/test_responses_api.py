"""POST /v1/responses driven by the official openai-python client, answered by the operator."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.compat.answering import ANSWER, PIECES, answered_call
from tests.support import Operator, RunningServer


def client(server: RunningServer, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base + "/v1", api_key="sk-participant", **kwargs)


def test_non_stream_response_in_openai_shape(server, operator):
    with client(server) as api:
        response, exchange = answered_call(
            operator, lambda: api.responses.create(model="gpt-4.1-mini", input="What is the answer?")
        )
    assert exchange["request"]["messages"] == [{"role": "user", "content": "What is the answer?"}]
    assert exchange["stream"] is False
    assert response.output_text == ANSWER
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.model == "gpt-4.1-mini"
    [message] = response.output
    assert message.type == "message" and message.role == "assistant" and message.status == "completed"
    assert message.id.startswith("msg_")
    assert [part.type for part in message.content] == ["output_text"]
    assert response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


def test_stream_events_in_order_with_sequence_numbers(server, operator):
    with client(server) as api:
        events, exchange = answered_call(
            operator,
            lambda: list(api.responses.create(model="m", input="Tell me", stream=True)),
        )
    assert exchange["stream"] is True
    kinds = [event.type for event in events]
    assert kinds == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * len(PIECES),
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == PIECES
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    completed = events[-1].response
    assert completed.status == "completed" and completed.output_text == ANSWER
    assert completed.id == events[0].response.id
    assert len({e.item_id for e in events if hasattr(e, "item_id")}) == 1


def test_stream_helper_collects_the_final_response(server, operator):
    def run() -> tuple[str, str]:
        with client(server) as api, api.responses.stream(model="m", input="Hi") as stream:
            text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
            return text, stream.get_final_response().output_text

    (streamed, final), _ = answered_call(operator, run)
    assert streamed == final == ANSWER


async def test_async_client_stream_and_non_stream(server, operator):
    import asyncio

    api = openai.AsyncOpenAI(base_url=server.base + "/v1", api_key="k")

    async def both() -> tuple[str, str]:
        plain = await api.responses.create(model="m", input="one")
        stream = await api.responses.create(model="m", input="two", stream=True)
        text = "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])
        return plain.output_text, text

    task = asyncio.create_task(both())
    from tests.compat.answering import answer

    await asyncio.to_thread(answer, operator)
    await asyncio.to_thread(answer, operator)
    assert await asyncio.wait_for(task, 30) == (ANSWER, ANSWER)
    await api.close()
    assert len(operator.exchanges()) == 2


def test_instructions_and_message_list_become_chat_messages(server, operator):
    history = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "input_text", "text": "Hello "},
                                      {"type": "input_text", "text": "there"}]},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Hi.", "annotations": []}]},
        {"role": "user", "content": "And now?"},
    ]
    with client(server) as api:
        response, exchange = answered_call(
            operator,
            lambda: api.responses.create(model="m", instructions="You are kind.", input=history),
        )
    assert response.output_text == ANSWER
    assert response.instructions == "You are kind."
    assert exchange["request"]["messages"] == [
        {"role": "system", "content": "You are kind."},
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": "And now?"},
    ]
    assert exchange["user_input"] == "And now?"


def test_previous_response_id_continues_the_conversation(server, operator):
    with client(server) as api:
        first, one = answered_call(
            operator, lambda: api.responses.create(model="m", instructions="Be kind.", input="Hi")
        )
        second, two = answered_call(
            operator,
            lambda: api.responses.create(model="m", instructions="Be kind.", input="More?",
                                         previous_response_id=first.id),
        )
    assert second.output_text == ANSWER and second.previous_response_id == first.id
    assert two["request"]["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": ANSWER},
        {"role": "user", "content": "More?"},
    ]
    assert one["conversation"]["id"] == two["conversation"]["id"]


def test_conversation_header_and_metadata_name_the_thread(server, operator):
    with client(server) as api:
        _, by_header = answered_call(operator, lambda: api.responses.create(
            model="m", input="a", extra_headers={"X-Conversation-Id": "room-7"}))
        _, by_metadata = answered_call(operator, lambda: api.responses.create(
            model="m", input="b", metadata={"conversation_id": "room-7"}))
    assert by_header["conversation"]["id"] == by_metadata["conversation"]["id"]
    assert by_header["conversation"]["label"] == "room-7"


def test_unprefixed_path_and_unknown_previous_id(server, operator):
    with httpx.Client(base_url=server.base, timeout=30) as http, ThreadPoolExecutor(1) as pool:
        future = pool.submit(http.post, "/responses",
                             json={"input": "x", "previous_response_id": "resp_unknown"})
        from tests.compat.answering import answer

        answer(operator)
        body = future.result(30).json()
    assert body["output"][0]["content"][0]["text"] == ANSWER
    assert body["model"] == "human"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "input"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": "x", "temperature": 5}, "temperature"),
        ({"input": []}, "input"),
    ],
)
def test_bad_requests_get_openai_errors_and_open_nothing(server, operator, body, param):
    with httpx.Client(base_url=server.base) as http:
        response = http.post("/v1/responses", json=body)
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    assert response.json()["error"]["param"] == param
    assert operator.exchanges() == []


def test_operator_failure_reaches_the_client_as_failed_and_is_not_retried(server, operator):
    api = client(server)
    with ThreadPoolExecutor(2) as pool:
        streamed = pool.submit(lambda: list(api.responses.create(model="m", input="s", stream=True)))
        [exchange] = operator.wait_for(1)
        operator.http.post(f"/exchanges/{exchange['id']}/fail", json={"message": "No."})
        events = streamed.result(30)
        plain = pool.submit(api.responses.create, model="m", input="p")
        [exchange] = operator.wait_for(1)
        operator.http.post(f"/exchanges/{exchange['id']}/fail", json={"message": "No."})
        with pytest.raises(openai.APIStatusError) as raised:
            plain.result(30)
    api.close()
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.message == "No."
    assert raised.value.status_code == 502
    assert len(operator.exchanges()) == 2


def test_long_non_stream_wait_sends_headers_early(tmp_path):
    from human_chat_completions.config import Settings

    settings = Settings(nonstream_headers_after=0.1, keepalive_seconds=0.1)
    with RunningServer(tmp_path / "data", settings) as running, client(running) as api:
        operator = Operator(running.base)
        early = threading.Event()  # headers and whitespace before the operator answered

        def slow_answer_call():
            with api.responses.with_streaming_response.create(model="m", input="slow") as response:
                early.set()
                return response.parse()

        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(slow_answer_call)
            [exchange] = operator.wait_for(1)
            assert early.wait(10)
            operator.reply(exchange["id"], "late but parsed")
            assert future.result(10).output_text == "late but parsed"
        operator.close()


def test_a_decline_after_a_long_wait_is_a_failed_response(tmp_path):
    """The Responses API can say in its answer that it failed, so once the 200 went out, an
    operator's decline arrives as a failed response with the operator's words, not a cut."""
    from human_chat_completions.config import Settings

    settings = Settings(nonstream_headers_after=0.1, keepalive_seconds=0.1)
    with RunningServer(tmp_path / "data", settings) as running, client(running) as api:
        operator = Operator(running.base)
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(api.responses.create, model="m", input="decline me")
            [exchange] = operator.wait_for(1)
            time.sleep(0.3)  # past nonstream_headers_after: the 200 has gone out
            operator.fail(exchange["id"], message="Not today.").raise_for_status()
            response = future.result(10)
        assert response.status == "failed" and response.error is not None
        assert response.error.message == "Not today."
        operator.close()


def test_stream_keepalive_comments_while_waiting(tmp_path):
    from human_chat_completions.config import Settings

    with RunningServer(tmp_path / "data", Settings(keepalive_seconds=0.1)) as running:
        operator = Operator(running.base)
        with httpx.Client(base_url=running.base, timeout=10) as http, http.stream(
            "POST", "/v1/responses", json={"input": "k", "stream": True}
        ) as response:
            lines = response.iter_lines()
            seen = [next(lines) for _ in range(14)]
            assert ": keep-alive" in seen
            assert seen[0] == "event: response.created"
            [exchange] = operator.wait_for(1)
            operator.reply(exchange["id"], "ok")
            rest = list(lines)
        data = [json.loads(line[6:]) for line in seen + rest if line.startswith("data: ")]
        assert data[-1]["type"] == "response.completed"
        operator.close()


def test_timed_out_client_retry_attaches_to_the_same_exchange(server, operator):
    patient = client(server, timeout=1.0, max_retries=2)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(patient.responses.create, model="m", input="retry me")
        operator.wait_for(1, outcome="abandoned")
        [revived] = operator.wait_for(1, outcome="waiting", timeout=10)
        operator.reply(revived["id"], "answered once").raise_for_status()
        response = future.result(timeout=10)
    patient.close()
    assert response.output_text == "answered once"
    assert len(operator.exchanges()) == 1


def test_streaming_client_that_hangs_up_is_abandoned(server, operator):
    with httpx.Client(base_url=server.base) as http:
        with http.stream("POST", "/v1/responses", json={"input": "s", "stream": True}) as response:
            lines = response.iter_lines()
            assert next(lines) == "event: response.created"
            operator.wait_for(1)
    operator.wait_for(1, outcome="abandoned")
