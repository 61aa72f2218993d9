"""A web page may only use the chat API from a browser when its origin is allowed."""

from __future__ import annotations

import threading

import httpx
import openai

from human_chat_completions.api.chat import CHAT_PATHS
from human_chat_completions.config import Settings
from tests.api.conftest import in_process
from tests.support import Operator, RunningServer

CHAT = {"model": "m", "messages": [{"role": "user", "content": "planted"}]}


def test_a_foreign_page_cannot_queue_work(app_client, operator_headers):
    for path in (*CHAT_PATHS, "/v1/responses"):
        response = app_client.post(path, json=CHAT,
                              headers={"Origin": "https://evil.example", "Content-Type": "text/plain"})
        assert response.status_code == 403, path
        error = response.json()["error"]
        assert error["code"] == "origin_not_allowed" and error["type"] == "invalid_request_error"
        assert set(error) == {"message", "type", "param", "code"}
        assert "allowed_client_origins" in error["message"]
        assert response.headers["x-should-retry"] == "false"
    preflight = app_client.options("/v1/chat/completions", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    assert app_client.get("/operator/api/exchanges", headers=operator_headers).json() == []


def test_server_side_sdks_send_no_origin_and_are_unaffected(server, operator):
    client = openai.OpenAI(base_url=server.base + "/v1", api_key="x", max_retries=0, timeout=10)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(reply=client.chat.completions.create(**CHAT)))
    thread.start()
    exchange = operator.wait_for(1)[0]
    operator.reply(exchange["id"], "fine").raise_for_status()
    thread.join(10)
    assert result["reply"].choices[0].message.content == "fine"


def test_an_allowed_web_chat_app_gets_cors_answers(tmp_path):
    app_origin = "https://chat.example.org"
    settings = Settings(allowed_client_origins=[app_origin])
    with RunningServer(tmp_path / "data", settings) as server:
        operator = Operator(server.base)
        preflight = httpx.options(server.base + "/v1/chat/completions", headers={
            "Origin": app_origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == app_origin
        result: dict = {}
        thread = threading.Thread(target=lambda: result.update(response=httpx.post(
            server.base + "/v1/chat/completions", json=CHAT, headers={"Origin": app_origin}, timeout=10)))
        thread.start()
        exchange = operator.wait_for(1)[0]
        operator.reply(exchange["id"], "hello web").raise_for_status()
        thread.join(10)
        operator.close()
        response = result["response"]
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == app_origin
        assert response.json()["choices"][0]["message"]["content"] == "hello web"
        other = httpx.post(server.base + "/v1/chat/completions", json=CHAT,
                           headers={"Origin": "https://other.example.org"})
        assert other.status_code == 403


def test_star_allows_any_page(tmp_path):
    with in_process(tmp_path / "data", Settings(allowed_client_origins=["*"])) as app_client:
        preflight = app_client.options("/v1/chat/completions", headers={
            "Origin": "https://anywhere.example", "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] in ("*", "https://anywhere.example")
