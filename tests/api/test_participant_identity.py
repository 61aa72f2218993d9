"""A participant key is an identity: headers, `user` and history only choose among its own threads."""

from __future__ import annotations

import threading

import openai
import pytest

from human_chat_completions.config import Settings
from tests.support import Operator, RunningServer

ALICE, BOB = "sk-alice-0123456789", "sk-bob-9876543210"
KEYS = {ALICE: "Alice", BOB: "Bob"}


def ask(server: RunningServer, operator: Operator, key: str, messages: list[dict], reply: str,
        **options) -> dict:
    """Ask with the official client under `key`, answer as the operator, return the exchange."""
    client = openai.OpenAI(base_url=server.base + "/v1", api_key=key, max_retries=0, timeout=10)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(
        completion=client.chat.completions.create(model="m", messages=messages, **options)))
    thread.start()
    exchange = operator.wait_for(1, outcome="waiting")[0]
    operator.reply(exchange["id"], reply).raise_for_status()
    thread.join(10)
    assert result["completion"].choices[0].message.content == reply
    return operator.exchange(exchange["id"])


@pytest.fixture
def study(tmp_path):
    with RunningServer(tmp_path / "data", Settings(participant_keys=KEYS)) as running:
        operator = Operator(running.base)
        yield running, operator
        operator.close()


def test_bob_cannot_reach_alices_thread_by_any_header(study):
    server, operator = study
    hello = [{"role": "user", "content": "hello"}]
    alice = ask(server, operator, ALICE, hello, "Hi Alice", user="thread-1",
                extra_headers={"X-Conversation-Id": "shared-id"})
    alice_by_user = ask(server, operator, ALICE, hello, "Hi again", user="alice-notes")
    alice_by_meta = ask(server, operator, ALICE, hello, "Hi there", store=True,
                        metadata={"conversation_id": "alice-meta"})
    alices = {alice["conversation"]["id"], alice_by_user["conversation"]["id"], alice_by_meta["conversation"]["id"]}
    continued = [*hello, {"role": "assistant", "content": "Hi Alice"}, {"role": "user", "content": "more"}]
    attempts = [
        ask(server, operator, BOB, hello, "x", extra_headers={"X-Conversation-Id": "shared-id"}),
        ask(server, operator, BOB, hello, "x", user="alice-notes"),
        ask(server, operator, BOB, hello, "x", store=True, metadata={"conversation_id": "alice-meta"}),
        ask(server, operator, BOB, continued, "x"),  # Alice's history, replayed
        ask(server, operator, BOB, hello, "x", user=alice["conversation"]["id"]),
        ask(server, operator, BOB, hello, "x", user="Alice"),
    ]
    for attempt in attempts:
        assert attempt["conversation"]["id"] not in alices
        assert attempt["conversation"]["label"].startswith("Bob")
    # Alice herself still picks her own threads by the same means.
    again = ask(server, operator, ALICE, hello, "ok", extra_headers={"X-Conversation-Id": "shared-id"})
    assert again["conversation"]["id"] == alice["conversation"]["id"]
    assert again["conversation"]["label"] == "Alice · shared-id"


def test_a_participant_without_a_thread_name_has_one_conversation(study):
    server, operator = study
    first = ask(server, operator, ALICE, [{"role": "user", "content": "hello"}], "hi")
    second = ask(server, operator, ALICE, [{"role": "user", "content": "new chat"}], "hi")
    assert first["conversation"]["id"] == second["conversation"]["id"]
    assert first["conversation"]["label"] == "Alice"


def test_no_key_or_an_unknown_key_is_refused_when_participants_are_configured(study):
    server, operator = study
    for key in ("", "sk-not-a-participant"):
        client = openai.OpenAI(base_url=server.base + "/v1", api_key=key or "x", max_retries=0)
        headers = {"Authorization": ""} if not key else {}
        with pytest.raises(openai.AuthenticationError) as refused:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                           extra_headers=headers)
        assert refused.value.status_code == 401
        assert refused.value.body["code"] == "invalid_api_key"
    assert operator.exchanges() == []


def test_anonymous_clients_allowed_when_asked_and_kept_apart_from_participants(tmp_path):
    settings = Settings(participant_keys=KEYS, allow_anonymous_clients=True)
    with RunningServer(tmp_path / "data", settings) as server:
        operator = Operator(server.base)
        alice = ask(server, operator, ALICE, [{"role": "user", "content": "hello"}], "hi",
                    user="shared")
        anonymous = ask(server, operator, "sk-whatever", [{"role": "user", "content": "hello"}], "hi",
                        user="shared")
        operator.close()
    assert anonymous["conversation"]["id"] != alice["conversation"]["id"]
    assert anonymous["conversation"]["label"] == "shared"


def test_owners_survive_a_restart(tmp_path):
    with RunningServer(tmp_path / "data", Settings(participant_keys=KEYS)) as server:
        operator = Operator(server.base)
        alice = ask(server, operator, ALICE, [{"role": "user", "content": "hello"}], "hi", user="t")
        operator.close()
    with RunningServer(tmp_path / "data", Settings(participant_keys=KEYS)) as server:
        operator = Operator(server.base)
        bob = ask(server, operator, BOB, [{"role": "user", "content": "hello"}], "hi", user="t")
        alice_again = ask(server, operator, ALICE, [{"role": "user", "content": "hello"}], "hi", user="t")
        operator.close()
    assert bob["conversation"]["id"] != alice["conversation"]["id"]
    assert alice_again["conversation"]["id"] == alice["conversation"]["id"]
