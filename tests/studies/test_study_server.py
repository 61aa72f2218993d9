"""A study against a real server and the official client: participants' keys carry their
condition into the log and the exports, Send is paced per condition and measured, the guard holds
persona-breaking replies, and the report's numbers come from the log."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import openai
import pytest
from typer.testing import CliRunner

from human_chat_completions.cli import app
from human_chat_completions.ui.logs_view import LogReader, summary_line
from tests.support import Operator, RunningServer, wait_until

STUDY = """
name = "trust"
participants = 8
assignment = "latin-square"
seed = 7
[conditions.fast]
mode = "human"
persona = "You are Aiko, a helpful assistant."
first_token_ms = 800
tokens_per_second = 40
[conditions.slow]
mode = "copilot"
first_token_ms = 1600
tokens_per_second = 15
[guard]
phrases = ["as an ai", "language model", "openai"]
"""


def hcc(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def participants(tmp_path: Path) -> list[dict[str, str]]:
    study = tmp_path / "trust.toml"
    study.write_text(STUDY)
    hcc("study", "load", str(study))
    return json.loads(hcc("study", "participants", "trust", "--json"))


class Participant:
    """A participant's chat app: the official client with their key, streaming in a thread;
    notes when the first word of the reply arrives."""

    def __init__(self, base: str, key: str, text: str) -> None:
        self.api = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=30)
        self.text, self.first_token_at = "", None
        self.thread = threading.Thread(target=self._run, args=(text,))
        self.thread.start()

    def _run(self, text: str) -> None:
        stream = self.api.chat.completions.create(
            model="m", stream=True, messages=[{"role": "user", "content": text}])
        for chunk in stream:
            piece = chunk.choices[0].delta.content if chunk.choices else None
            if piece:
                self.first_token_at = self.first_token_at or time.perf_counter()
                self.text += piece

    def join(self) -> str:
        self.thread.join(30)
        self.api.close()
        return self.text


def waiting_for(operator: Operator, participant: str) -> dict[str, Any]:
    return wait_until(lambda: next((e for e in operator.exchanges("waiting")
                                    if e["participant"] == participant), None))


def test_four_in_each_condition_and_each_request_carries_its_condition(tmp_path, participants):
    assert sorted(p["condition"] for p in participants) == ["fast"] * 4 + ["slow"] * 4
    again = tmp_path / "again"
    again.mkdir()
    (again / "trust.toml").write_text(STUDY.replace('"trust"', '"trust-again"'))
    hcc("study", "load", str(again / "trust.toml"))
    same_seed = json.loads(hcc("study", "participants", "trust-again", "--json"))
    assert [p["condition"] for p in same_seed] == [p["condition"] for p in participants]
    assert set(participants[0]) == {"participant", "key", "condition", "base_url"}

    with RunningServer(tmp_path / "data") as server:
        operator = Operator(server.base)
        for person in participants[:2]:
            chat = Participant(server.base, person["key"], f"hello from {person['participant']}")
            exchange = waiting_for(operator, person["participant"])
            assert (exchange["study"], exchange["condition"]) == ("trust", person["condition"])
            assert exchange["mode"] == {"fast": "human", "slow": "copilot"}[person["condition"]]
            operator.reply(exchange["id"], "Hi!").raise_for_status()
            assert chat.join() == "Hi!"
        conversations = operator.http.get("/conversations").json()
        personas = {c["label"]: c["persona"] for c in conversations}
        operator.close()
    fast = next(p for p in participants[:2] if p["condition"] == "fast")
    assert personas[fast["participant"]] == "You are Aiko, a helpful assistant."
    rows = list(csv.DictReader(io.StringIO(hcc(
        "logs", "export", "-f", "csv", "--data-dir", str(tmp_path / "data"),
        "--study", "trust", "--condition", "fast"))))
    assert [(r["participant"], r["study"], r["condition"]) for r in rows] == [
        (fast["participant"], "trust", "fast")]
    listed = hcc("logs", "list", "--data-dir", str(tmp_path / "data"), "--study", "trust",
                 "--condition", "fast").splitlines()
    assert len(listed) == 2 and fast["participant"] in listed[1], listed
    assert hcc("logs", "list", "--data-dir", str(tmp_path / "data"), "--study", "other").count("\n") == 1
    # The Logs page finds a study's exchanges by its name and condition, and says them.
    found = LogReader(tmp_path / "data" / "exchanges.sqlite3").page("trust fast", 0)
    assert [r.participant for r in found.records] == [fast["participant"]]
    assert " · trust/fast · " in summary_line(found.records[0])


@pytest.mark.slow  # the conditions' delays have to pass: 0.8 s and 1.6 s, then the tokens
def test_a_paced_send_reaches_the_client_at_the_conditions_pace(tmp_path, participants):
    fast = next(p for p in participants if p["condition"] == "fast")
    slow = next(p for p in participants if p["condition"] == "slow")
    answer = "This reply is paced like a model that thinks first and then types steadily."
    with RunningServer(tmp_path / "data") as server:
        operator = Operator(server.base)
        measured = {}
        for person, setting in ((fast, 0.8), (slow, 1.6)):
            chat = Participant(server.base, person["key"], "tell me something")
            exchange = waiting_for(operator, person["participant"])
            sent = time.perf_counter()
            operator.http.post(f"/exchanges/{exchange['id']}/reply", json={
                "text": answer, "done": True, "delivery": "paced"}).raise_for_status()
            assert chat.join() == answer
            measured[person["condition"]] = chat.first_token_at - sent
            assert abs(measured[person["condition"]] - setting) <= 0.15 * setting, measured
        operator.close()
    stats = json.loads(hcc("logs", "stats", "--json", "--data-dir", str(tmp_path / "data")))
    by_condition = stats["by_condition"]
    assert by_condition["trust/fast"]["setting"] == {"first_token_ms": 800, "tokens_per_second": 40}
    assert abs(by_condition["trust/fast"]["median_first_token_ms"] - 800) <= 120
    assert abs(by_condition["trust/slow"]["median_first_token_ms"] - 1600) <= 240
    assert by_condition["trust/slow"]["median_tokens_per_second"] == pytest.approx(15, rel=0.15)
    assert all(not group["off_setting"] for group in by_condition.values()), by_condition


def test_a_guard_phrase_is_held_until_forced_and_flagged(tmp_path, participants):
    person = participants[0]
    with RunningServer(tmp_path / "data") as server:
        operator = Operator(server.base)
        chat = Participant(server.base, person["key"], "are you a bot?")
        exchange = waiting_for(operator, person["participant"])
        reply = f"/exchanges/{exchange['id']}/reply"
        held = operator.http.post(reply, json={"text": "I was made by ＯｐｅｎＡＩ.", "done": True})
        assert held.status_code == 409
        error = held.json()["error"]
        assert (error["code"], error["param"], error["type"]) == ("guard_phrase", "openai",
                                                                  "conflict_error")
        assert operator.exchange(exchange["id"])["guard_action"] == "held"
        assert chat.thread.is_alive()  # nothing reached the participant
        forced = operator.http.post(reply, json={"text": "I was made by ＯｐｅｎＡＩ.", "done": True,
                                                 "force": True})
        assert forced.status_code == 200
        assert chat.join() == "I was made by ＯｐｅｎＡＩ."
        record = operator.exchange(exchange["id"])
        assert (record["guard_phrase"], record["guard_action"]) == ("openai", "forced")
        operator.close()
    report = json.loads(hcc("study", "report", "trust", "--json", "--data-dir", str(tmp_path / "data")))
    assert report[person["condition"]]["guard_holds"] == 1


def test_the_report_counts_what_the_log_holds(tmp_path, participants):
    replies = {"fast": ["One.", "Two, edited."], "slow": ["Three."]}
    by_condition = {c: [p for p in participants if p["condition"] == c] for c in ("fast", "slow")}
    with RunningServer(tmp_path / "data") as server:
        operator = Operator(server.base)
        for condition, texts in replies.items():
            for person, text in zip(by_condition[condition], texts, strict=False):
                chat = Participant(server.base, person["key"], "hi")
                exchange = waiting_for(operator, person["participant"])
                operator.reply(exchange["id"], text).raise_for_status()
                chat.join()
        operator.close()
    report = json.loads(hcc("study", "report", "trust", "--json", "--data-dir", str(tmp_path / "data")))
    assert (report["fast"]["participants"], report["fast"]["exchanges"]) == (2, 2)
    assert (report["slow"]["participants"], report["slow"]["exchanges"]) == (1, 1)
    assert report["fast"]["guard_holds"] == 0 and report["fast"]["median_response_seconds"] > 0
    table = hcc("study", "report", "trust", "--data-dir", str(tmp_path / "data"))
    assert "fast" in table and "slow" in table


def test_two_studies_with_the_same_ids_keep_their_participants_apart_across_a_restart(tmp_path):
    for name, mode in (("first", "human"), ("second", "copilot")):
        (tmp_path / f"{name}.toml").write_text(
            f'name = "{name}"\nparticipants = 1\n[conditions.{name}-only]\nmode = "{mode}"\n')
        hcc("study", "load", str(tmp_path / f"{name}.toml"))
    keys = {name: json.loads(hcc("study", "participants", name, "--json"))[0]["key"]
            for name in ("first", "second")}
    with RunningServer(tmp_path / "data") as server:
        operator = Operator(server.base)
        for name in ("first", "second"):
            chat = Participant(server.base, keys[name], "the same opening words")
            exchange = wait_until(lambda: next(iter(operator.exchanges("waiting")), None))
            assert (exchange["participant"], exchange["study"]) == ("P01", name)
            operator.reply(exchange["id"], f"to {name}").raise_for_status()
            assert chat.join() == f"to {name}"
        threads = operator.http.get("/conversations").json()
        operator.close()
    assert sorted((t["label"], t["condition"], t["mode"]) for t in threads) == [
        ("P01", "first-only", "human"), ("P01", "second-only", "copilot")]
    with RunningServer(tmp_path / "data") as server:  # a new run: the threads wear their conditions
        operator = Operator(server.base)
        again = operator.http.get("/conversations").json()
        operator.close()
    assert sorted((t["label"], t["condition"]) for t in again) == [
        ("P01", "first-only"), ("P01", "second-only")]
