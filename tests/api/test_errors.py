"""Bad input gets OpenAI's error shape, a 4xx, and never an invitation to retry."""

from __future__ import annotations

import httpx
import openai
import pytest

from human_chat_completions.api.chat import CHAT_PATHS
from human_chat_completions.config import Settings
from tests.support import RunningServer

MESSAGES = [{"role": "user", "content": "hi"}]


def assert_openai_error(response: httpx.Response, status: int, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["x-should-retry"] == "false"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param
    return error


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"", None),
        (b"[1, 2]", None),
        (b'"just a string"', None),
        (b'{"model": "m"}', "messages"),
        (b'{"model": "m", "messages": []}', "messages"),
        (b'{"model": "m", "messages": "hello"}', "messages"),
        (b'{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}', "messages.0.role"),
        (b'{"model": "m", "messages": [{"content": "x"}]}', "messages.0.role"),
        (b'{"model": "m", "messages": [{"role": "user", "content": 42}]}', None),
        (b'{"model": "m", "messages": [{"role": "user", "content": [{"text": "x"}]}]}', None),
        (b'{"model": "m", "messages": ["hi"]}', "messages.0"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x", "name": 5}]}', "messages.0.name"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x", "tool_calls": "x"}]}',
         "messages.0.tool_calls"),
        (b'{"model": 7, "messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}',
         "temperature"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 9}',
         "temperature"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 0}', "n"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": [1]}', "stream"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "metadata": {"a": 1}}',
         "metadata.a"),
        ("{\"model\": \"m\", \"messages\": [\"\udce9\"]}".encode("utf-8", "surrogatepass"), None),
    ],
)
def test_bad_chat_requests_get_a_400_in_openai_shape(app_client, body, param):
    response = app_client.post("/v1/chat/completions", content=body,
                               headers={"content-type": "application/json"})
    assert_openai_error(response, 400, param)
    assert app_client.get("/health").json()["waiting"] == 0


@pytest.mark.parametrize("path", CHAT_PATHS)
def test_every_chat_path_answers_in_openai_shape_and_other_methods_meet_the_router(app_client, path):
    """Chat POSTs take a lane past the router: the app's error handlers still shape what they
    refuse, and the lane takes nothing else."""
    assert_openai_error(app_client.post(path, content=b"{not json"), 400)
    too_big = app_client.post(path, content=b" " * (Settings().max_body_bytes + 1))
    assert_openai_error(too_big, 413)
    assert_openai_error(app_client.get(path), 405)
    assert app_client.options(path).status_code == 405


def test_bad_input_opens_no_exchange_and_the_server_still_answers(app_client, operator_headers):
    for _ in range(5):
        app_client.post("/v1/chat/completions", content=b"{oops")
    assert app_client.get("/operator/api/exchanges", headers=operator_headers).json() == []
    assert app_client.get("/v1/models").status_code == 200


def test_everything_the_schema_allows_is_accepted_and_kept(server, operator):
    request = {
        "model": "gpt-4.1",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "system", "content": [{"type": "text", "text": "System part"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "lookup", "arguments": "{\"q\": 1}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "result"},
            {"role": "user", "content": "and now?", "name": "alice"},
        ],
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
        "tool_choice": "auto",
        "response_format": {"type": "json_object"},
        "n": 2, "stop": ["\n\n"], "max_completion_tokens": 50, "max_tokens": 40,
        "temperature": 0.2, "top_p": 0.9, "seed": 3, "logprobs": True, "top_logprobs": 2,
        "metadata": {"study": "s1"}, "parallel_tool_calls": False, "store": False,
        "reasoning_effort": "low", "service_tier": "auto", "some_future_field": {"x": 1},
    }
    with httpx.Client(base_url=server.base, timeout=10) as http:
        import threading
        result = {}
        thread = threading.Thread(target=lambda: result.update(
            r=http.post("/v1/chat/completions", json=request)))
        thread.start()
        [exchange] = operator.wait_for(1)
        assert exchange["request"]["messages"] == request["messages"]
        assert exchange["user_input"] == "and now?"
        # The request asks for a JSON object: the operator's answer must be one.
        assert operator.reply(exchange["id"], "Done.").status_code == 422
        operator.reply(exchange["id"], '{"answer": "Done."}').raise_for_status()
        thread.join(10)
    assert result["r"].status_code == 200
    assert result["r"].json()["choices"][0]["message"]["content"] == '{"answer": "Done."}'
    import json
    import sqlite3
    db = sqlite3.connect(server.data_dir / "exchanges.sqlite3")
    [(stored,)] = db.execute("SELECT request_json FROM requests").fetchall()
    db.close()
    assert json.loads(stored) == request


def test_unknown_routes_and_methods(app_client):
    assert_openai_error(app_client.post("/v1/completions-typo", json={}), 404)
    assert_openai_error(app_client.get("/v1/chat/completions"), 405)


def test_body_over_the_limit_is_a_413(tmp_path):
    with RunningServer(tmp_path / "data", Settings(max_body_bytes=4096)) as running:
        big = {"model": "m", "messages": [{"role": "user", "content": "x" * 10_000}]}
        with httpx.Client(base_url=running.base) as http:
            assert_openai_error(http.post("/v1/chat/completions", json=big), 413)

            def chunks():
                yield b'{"model": "m", "messages": [{"role": "user", "content": "'
                yield b"y" * 10_000
                yield b'"}]}'

            # Without a content-length (chunked upload), the limit still holds.
            response = http.post("/v1/chat/completions", content=chunks())
            assert_openai_error(response, 413)


def test_client_keys_when_enabled(tmp_path):
    settings = Settings(client_api_keys=["sk-participant-1"])
    with RunningServer(tmp_path / "data", settings) as running:
        with httpx.Client(base_url=running.base) as http:
            body = {"model": "m", "messages": MESSAGES}
            for path in CHAT_PATHS:  # each one the chat lane serves
                assert_openai_error(http.post(path, json=body), 401)
                wrong = http.post(path, json=body, headers={"Authorization": "Bearer sk-nope"})
                assert assert_openai_error(wrong, 401)["code"] == "invalid_api_key"
        api = openai.OpenAI(base_url=running.base + "/v1", api_key="sk-wrong", max_retries=3)
        with pytest.raises(openai.AuthenticationError):
            api.chat.completions.create(model="m", messages=MESSAGES)
        api.close()


def test_openai_client_sees_bad_request_once_without_retrying(server, operator):
    api = openai.OpenAI(base_url=server.base + "/v1", api_key="k", max_retries=3)
    with pytest.raises(openai.BadRequestError) as raised:
        api.chat.completions.create(model="m", messages=[])
    api.close()
    assert raised.value.body["param"] == "messages"
    assert operator.exchanges() == []


def test_operator_api_needs_the_token(app_client):
    assert_openai_error(app_client.get("/operator/api/exchanges"), 401)
    wrong = app_client.get("/operator/api/exchanges", headers={"Authorization": "Bearer wrong"})
    assert_openai_error(wrong, 401)


def test_operator_reply_to_unknown_exchange_is_404_and_bad_body_is_400(app_client, operator_headers):
    reply = "/operator/api/exchanges/ex_nope/reply"
    assert_openai_error(app_client.post(reply, json={"text": "x"}, headers=operator_headers), 404)
    assert_openai_error(app_client.post(reply, content=b"{bad", headers=operator_headers), 400)


def test_each_api_refuses_in_its_own_shape(app_client):
    """An Anthropic or Ollama client parses only its own error shape; the origin gate and the
    app's own 404/405 answer in the shape of the API the path belongs to."""
    page = {"origin": "https://evil.example"}
    anthropic_refused = app_client.post("/v1/messages", json={}, headers=page)
    assert anthropic_refused.status_code == 403
    assert anthropic_refused.json()["type"] == "error"
    assert anthropic_refused.json()["error"]["type"] == "permission_error"
    ollama_refused = app_client.post("/api/chat", json={}, headers=page)
    assert ollama_refused.status_code == 403 and set(ollama_refused.json()) == {"error"}
    assert app_client.get("/v1/messages").json()["error"]["type"] == "invalid_request_error"
    assert app_client.get("/v1/messages").json()["type"] == "error"
    assert set(app_client.post("/api/generate", json={}).json()) == {"error"}
    assert app_client.post("/v1/nowhere", json={}).json()["error"]["code"] == "not_found"
