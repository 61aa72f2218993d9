"""Named operators: tokens made by `hcc operators add`, claims on exchanges, and who the record names."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from collections.abc import Iterator

import openai
import pytest
from anyio import to_thread
from typer.testing import CliRunner

from human_chat_completions import operators
from human_chat_completions.cli import app
from tests.api.conftest import in_process
from tests.support import Operator, RunningServer, wait_until

runner = CliRunner()


def hcc(*args: str, ok: bool = True):
    result = runner.invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


def add_operator(name: str) -> str:
    """`hcc operators add NAME`, and the token it prints as its last word."""
    return hcc("operators", "add", name).stdout.split()[-1]


@pytest.fixture
def named(server: RunningServer) -> Iterator[dict[str, Operator]]:
    """Alice and Bob, added while the server runs, each acting through the operator API."""
    acting = {name: Operator(server.base, token=add_operator(name)) for name in ("Alice", "Bob")}
    yield acting
    for operator in acting.values():
        operator.close()


class Asked:
    """A chat completion sent with the official client from a thread; the reply it got."""

    def __init__(self, server: RunningServer, text: str = "hello") -> None:
        client = openai.OpenAI(base_url=server.base + "/v1", api_key="sk-any", max_retries=0, timeout=20)
        self.result: dict = {}
        self.thread = threading.Thread(target=lambda: self.result.update(
            completion=client.chat.completions.create(
                model="human", messages=[{"role": "user", "content": text}])))
        self.thread.start()

    def reply(self) -> str:
        self.thread.join(20)
        return self.result["completion"].choices[0].message.content


def claim(operator: Operator, exchange_id: str, **body: object):
    return operator.http.post(f"/exchanges/{exchange_id}/claim", json=body or None)


def refusal(response) -> dict:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == ("conflict_error", "exchange_claimed")
    return error


def logged(server: RunningServer, exchange_id: str) -> dict:
    """The exchange as the SQLite log holds it, through `hcc logs export --format jsonl`."""
    def row() -> dict | None:
        out = hcc("logs", "export", "-f", "jsonl", "--data-dir", str(server.data_dir)).stdout
        found = [r for r in map(json.loads, out.splitlines()) if r["id"] == exchange_id]
        return found[0] if found and found[0]["outcome"] == "done" else None
    return wait_until(row)


def test_alice_claims_bob_takes_over_and_the_record_names_who_replied(server, operator, named, caplog):
    alice, bob = named["Alice"], named["Bob"]
    asked = Asked(server)
    exchange_id = operator.wait_for(1)[0]["id"]
    assert claim(alice, exchange_id).json()["claimed_by"] == "Alice"
    assert "Alice" in refusal(bob.reply(exchange_id, "Bob here"))["message"]
    assert "Alice" in refusal(claim(bob, exchange_id))["message"]
    with caplog.at_level(logging.INFO, logger="human_chat_completions.api.operator"):
        taken = claim(bob, exchange_id, take_over=True).raise_for_status().json()
    assert (taken["claimed_by"], taken["notice_code"]) == ("Bob", "claim_taken_over")
    assert taken["notice"] == "Taken over from Alice by Bob."
    assert any("over from Alice" in message for message in caplog.messages)
    assert "Bob" in refusal(alice.reply(exchange_id, "Alice again"))["message"]
    bob.reply(exchange_id, "Hello from Bob").raise_for_status()
    assert asked.reply() == "Hello from Bob"
    record = operator.exchange(exchange_id)
    assert (record["operator"], record["claimed_by"], record["final"]) == ("Bob", "Bob", "Hello from Bob")
    stored = logged(server, exchange_id)
    assert (stored["operator"], stored["claimed_by"], stored["notice_code"]) == ("Bob", "Bob",
                                                                               "claim_taken_over")


def test_the_first_reply_claims_the_exchange(server, operator, named):
    alice, bob = named["Alice"], named["Bob"]
    asked = Asked(server)
    exchange_id = operator.wait_for(1)[0]["id"]
    partial = alice.reply(exchange_id, "Hel", done=False).raise_for_status().json()
    assert (partial["claimed_by"], partial["operator"]) == ("Alice", "Alice")
    refusal(bob.reply(exchange_id, "Bob here"))
    alice.reply(exchange_id, "lo").raise_for_status()
    assert asked.reply() == "Hello"
    assert logged(server, exchange_id)["operator"] == "Alice"


def test_the_main_token_answers_any_exchange_and_names_nobody(server, operator, named):
    asked = Asked(server)
    exchange_id = operator.wait_for(1)[0]["id"]
    claim(named["Alice"], exchange_id).raise_for_status()
    unnamed = claim(operator, exchange_id)
    assert unnamed.status_code == 400 and unnamed.json()["error"]["code"] == "operator_unnamed"
    operator.reply(exchange_id, "From the main window").raise_for_status()
    assert asked.reply() == "From the main window"
    record = operator.exchange(exchange_id)
    assert (record["operator"], record["claimed_by"]) == (None, "Alice")


def test_a_wrong_or_removed_named_token_is_refused(server, named):
    assert named["Alice"].http.get("/exchanges").status_code == 200
    wrong = Operator(server.base, token="not-a-token")
    refused = wrong.http.get("/exchanges")
    wrong.close()
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_operator_token"
    hcc("operators", "remove", "Bob")
    assert named["Bob"].http.get("/exchanges").status_code == 401  # at once, no restart
    assert named["Alice"].http.get("/exchanges").status_code == 200


def test_the_main_token_needs_no_worker_thread(tmp_path, operator_headers):
    """Calls with the main token (scripts, the benchmark's operator) are checked on the event
    loop: a plain dependency would wait for one of the worker threads, in front of every Send, and
    behind whatever else holds them. Here the one worker thread left is held while the call is made."""
    with in_process(tmp_path / "data") as client:
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            held.set()
            release.wait(30)

        async def hold_the_only_worker() -> None:
            to_thread.current_default_thread_limiter().total_tokens = 1
            await to_thread.run_sync(hold)

        answered: list[int] = []
        call = threading.Thread(target=lambda: answered.append(
            client.get("/operator/api/exchanges", headers=operator_headers).status_code))
        client.portal.start_task_soon(hold_the_only_worker)
        try:
            assert held.wait(10)
            call.start()
            call.join(10)
            while_held = list(answered)
        finally:
            release.set()
        call.join(10)
        assert while_held == [200]


# -- hcc operators, and the file it keeps --------------------------------------------------------


def test_add_prints_the_token_as_the_last_word_and_list_and_remove_follow():
    result = hcc("operators", "add", "Alice")
    token = result.stdout.split()[-1]
    assert operators.name_for_token(token) == "Alice" and "Alice" in result.stdout
    hcc("operators", "add", "bob_2")
    assert hcc("operators", "list").stdout.split() == ["Alice", "bob_2"]
    taken = hcc("operators", "add", "alice", ok=False)
    assert taken.exit_code == 1 and "already" in taken.output and "Traceback" not in taken.output
    hcc("operators", "remove", "Alice")
    assert operators.name_for_token(token) is None
    assert hcc("operators", "remove", "Alice", ok=False).exit_code == 1
    assert hcc("operators", "list").stdout.split() == ["bob_2"]


def test_only_a_hash_of_each_token_is_kept_owner_only():
    token = operators.add("Alice")
    text = operators.operators_path().read_text(encoding="utf-8")
    assert token not in text and operators.token_hash(token) in text
    if os.name != "nt":
        assert stat.S_IMODE(operators.operators_path().stat().st_mode) == 0o600
    assert operators.name_for_token(token) == "Alice"
    assert operators.name_for_token(token + "x") is None and operators.name_for_token("") is None


@pytest.mark.parametrize("name", ["", "has space", "x" * 41, "Alice!", "émile"])
def test_a_bad_name_is_refused(name):
    with pytest.raises(operators.OperatorError, match="not a valid operator name"):
        operators.add(name)
    assert operators.names() == []


def test_a_duplicate_name_is_refused_whatever_its_case():
    first = operators.add("Alice")
    for again in ("Alice", "ALICE"):
        with pytest.raises(operators.OperatorError, match="already"):
            operators.add(again)
    assert operators.names() == ["Alice"] and operators.name_for_token(first) == "Alice"


def test_a_broken_file_is_kept_and_refuses_named_tokens():
    path = operators.operators_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    result = hcc("operators", "add", "Alice", ok=False)
    assert result.exit_code == 1 and "broken" in result.output
    assert path.read_text(encoding="utf-8") == "{not json"  # nothing saved over it
    assert operators.name_for_token("anything") is None
