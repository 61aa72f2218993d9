"""Which requests belong together: explicit identity first, then the chat history."""

from __future__ import annotations

import threading

import httpx

from tests.support import Operator, RunningServer


def ask(server: RunningServer, operator: Operator, body: dict, reply: str,
        headers: dict | None = None) -> dict:
    """Send one request, answer it as the operator, return the exchange as the operator saw it."""
    before = {e["id"] for e in operator.exchanges()}
    result: dict = {}
    with httpx.Client(base_url=server.base, timeout=10) as http:
        thread = threading.Thread(target=lambda: result.update(
            response=http.post("/v1/chat/completions", json=body, headers=headers or {})))
        thread.start()
        exchange = operator.wait_for(1, outcome="waiting")[0]
        operator.reply(exchange["id"], reply).raise_for_status()
        thread.join(10)
    assert result["response"].status_code == 200
    assert result["response"].json()["choices"][0]["message"]["content"] == reply
    assert exchange["id"] not in before
    return operator.exchange(exchange["id"])


def body(*messages: tuple[str, str], **extra) -> dict:
    return {"model": "m", "messages": [{"role": r, "content": c} for r, c in messages], **extra}


SYSTEM = ("system", "You are a helpful assistant.")


def test_history_matching_threads_a_conversation_and_regenerate_stays_in_it(server, operator):
    first = ask(server, operator, body(SYSTEM, ("user", "hi")), "Hello! How can I help?")
    second = ask(server, operator,
                 body(SYSTEM, ("user", "hi"), ("assistant", "Hello! How can I help?"),
                      ("user", "plan a trip")), "Where to?")
    assert second["conversation"]["id"] == first["conversation"]["id"]
    # A client echoing the reply as content parts with extra fields still matches.
    parts_body = body(SYSTEM, ("user", "hi"))
    parts_body["messages"] += [
        {"role": "assistant", "content": [{"type": "text", "text": "Hello! How can I help?"}],
         "refusal": None},
        {"role": "user", "content": "plan a trip"},
        {"role": "assistant", "content": "Where to?"},
        {"role": "user", "content": "Kyoto"},
    ]
    third = ask(server, operator, parts_body, "Lovely.")
    assert third["conversation"]["id"] == first["conversation"]["id"]
    again = ask(server, operator, parts_body, "Lovely, in autumn.")
    assert again["conversation"]["id"] == first["conversation"]["id"]
    assert again["regenerate_of"] == third["id"]
    other = ask(server, operator, body(SYSTEM, ("user", "hi")), "Hi there")
    assert other["conversation"]["id"] != first["conversation"]["id"]
    assert other["regenerate_of"] is None


def test_explicit_identity_beats_history(server, operator):
    by_header = ask(server, operator, body(("user", "a")), "A", {"X-Conversation-Id": "p-7"})
    by_metadata = ask(server, operator,
                      body(("user", "b"), metadata={"conversation_id": "p-7"}), "B")
    by_user = ask(server, operator, body(("user", "c"), user="p-7"), "C")
    assert by_header["conversation"]["id"] == by_metadata["conversation"]["id"] == by_user["conversation"]["id"]
    assert by_header["conversation"]["label"] == "p-7"
    elsewhere = ask(server, operator, body(("user", "a"), ("assistant", "A"), ("user", "next")),
                    "N", {"X-Conversation-Id": "p-8"})
    assert elsewhere["conversation"]["id"] != by_header["conversation"]["id"]
    repeated = ask(server, operator, body(("user", "a")), "A again", {"X-Conversation-Id": "p-7"})
    assert repeated["regenerate_of"] == by_header["id"]


def test_mode_per_conversation(server, operator):
    exchange = ask(server, operator, body(("user", "x")), "y")
    conversation_id = exchange["conversation"]["id"]
    response = operator.http.post(f"/conversations/{conversation_id}/mode", json={"mode": "auto"})
    assert response.json()["mode"] == "auto"
    bad = operator.http.post(f"/conversations/{conversation_id}/mode", json={"mode": "robot"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "mode"
    [listed] = operator.http.get("/conversations").json()
    assert listed["mode"] == "auto" and listed["exchange_ids"] == [exchange["id"]]


def test_finished_exchange_refuses_more_text_with_409(server, operator):
    exchange = ask(server, operator, body(("user", "x")), "done")
    response = operator.reply(exchange["id"], "more")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "exchange_done"
    assert response.headers["x-should-retry"] == "false"


def test_operator_notes_and_tags_an_exchange_and_the_log_keeps_them(server, operator):
    exchange = ask(server, operator, body(("user", "x")), "y")
    response = operator.http.post(f"/exchanges/{exchange['id']}/note",
                                  json={"note": "participant seemed confused", "tag": "clarify"})
    assert response.json()["tag"] == "clarify"
    import sqlite3

    db = sqlite3.connect(server.data_dir / "exchanges.sqlite3")
    assert db.execute("SELECT note, tag FROM exchanges").fetchone() == (
        "participant seemed confused", "clarify")
    db.close()


def test_a_participant_key_identifies_the_conversation(tmp_path):
    from human_chat_completions.config import Settings

    settings = Settings(client_api_keys=["sk-admin"],
                        participant_keys={"sk-p1-key": "P01", "sk-p2-key": "P02"})
    with RunningServer(tmp_path / "data", settings) as running:
        operator = Operator(running.base)
        first = ask(running, operator, body(("user", "hello")), "hi",
                    {"Authorization": "Bearer sk-p1-key"})
        other = ask(running, operator, body(("user", "hello")), "hi",
                    {"Authorization": "Bearer sk-p2-key"})
        again = ask(running, operator, body(("user", "something else")), "ok",
                    {"Authorization": "Bearer sk-p1-key"})
        admin = ask(running, operator, body(("user", "hello")), "hi",
                    {"Authorization": "Bearer sk-admin"})
        operator.close()
    assert first["conversation"]["label"] == "P01" and other["conversation"]["label"] == "P02"
    assert again["conversation"]["id"] == first["conversation"]["id"]
    assert admin["conversation"]["id"] not in (first["conversation"]["id"], other["conversation"]["id"])
