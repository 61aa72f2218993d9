"""A study condition steers the copilot, against a real server and a real upstream over HTTP: its
persona goes upstream (never to the participant), its profile drafts and answers, and in auto
mode its guard phrases stop the LLM before the participant reads one."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import tests.fakes.upstream as fake_upstream
from human_chat_completions.cli import app
from human_chat_completions.config import Settings
from human_chat_completions.copilot.guard import StreamGuard
from human_chat_completions.copilot.profiles import Profile
from tests.fakes.upstream import FakeUpstream
from tests.support import Operator, RunningServer, wait_until

AUTO_PERSONA = "You are Aiko, a cheerful barista from Osaka."
DRAFT_PERSONA = "You are Kenji, a retired ferry captain."

STUDY = f"""
name = "persona"
participants = 3
assignment = "latin-square"
[conditions.auto]
mode = "auto"
persona = "{AUTO_PERSONA}"
profile = "study"
[conditions.drafts]
mode = "copilot"
persona = "{DRAFT_PERSONA}"
profile = "study"
[conditions.lost]
mode = "copilot"
profile = "gone"
[guard]
phrases = ["as an ai", "language model", "openai"]
"""


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeUpstream]:
    # A scripted answer is cut into chunks at each "|", so a test decides where a phrase splits.
    monkeypatch.setattr(fake_upstream, "split_words", lambda text: [p for p in text.split("|") if p])
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def people(tmp_path: Path) -> dict[str, dict[str, str]]:
    """One participant per condition: their key and id."""
    (tmp_path / "persona.toml").write_text(STUDY)
    hcc("study", "load", str(tmp_path / "persona.toml"))
    listed = json.loads(hcc("study", "participants", "persona", "--json"))
    return {person["condition"]: person for person in reversed(listed)}


def hcc(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def running(tmp_path: Path, upstream: FakeUpstream, **settings: Any) -> RunningServer:
    def profile(name: str) -> Profile:
        return Profile(name=name, base_url=upstream.base_url, model=f"{name}-model",
                       instruction="You help a human operator.", timeout_seconds=5)

    return RunningServer(tmp_path / "data", Settings(
        profiles=[profile("default"), profile("study")], default_profile="default", **settings))


class Participant:
    """A participant's chat app streaming one request in a thread; keeps the raw wire too, so
    nothing the participant could read escapes the checks."""

    def __init__(self, base: str, key: str, text: str) -> None:
        self.raw, self.text, self.finish = "", "", None
        self.error: httpx.HTTPError | None = None
        self.thread = threading.Thread(target=self._run, args=(base, key, text))
        self.thread.start()

    def _run(self, base: str, key: str, text: str) -> None:
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": text}]}
        try:
            with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=20,
                              headers={"Authorization": f"Bearer {key}"}) as response:
                for line in response.iter_lines():
                    self.raw += line + "\n"
                    if line.startswith("data: {"):
                        self._take(json.loads(line[6:]))
        except httpx.HTTPError as error:  # raised in the test by join(), not lost in the thread
            self.error = error

    def _take(self, chunk: dict[str, Any]) -> None:
        for choice in chunk.get("choices") or []:
            self.text += choice["delta"].get("content") or ""
            self.finish = choice.get("finish_reason") or self.finish

    def join(self) -> str:
        self.thread.join(20)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error
        return self.text


def waiting_for(operator: Operator, person: dict[str, str]) -> dict[str, Any]:
    return wait_until(lambda: next((e for e in operator.exchanges()
                                    if e["participant"] == person["participant"]), None))


def first_system(request: fake_upstream.RecordedRequest) -> str:
    first = request.body["messages"][0]
    assert first["role"] == "system"
    return first["content"]


def logged(server: RunningServer, exchange_id: str) -> dict[str, Any]:
    """The exchange's record as the research log keeps it."""
    db = sqlite3.connect(server.data_dir / "exchanges.sqlite3")
    [stored] = db.execute("SELECT record_json FROM exchanges WHERE id = ?", (exchange_id,)).fetchone()
    db.close()
    return json.loads(stored)


def test_drafts_see_the_persona_and_use_the_conditions_profile(tmp_path, upstream, people):
    with running(tmp_path, upstream) as server, closing(Operator(server.base)) as operator:
        chat = Participant(server.base, people["drafts"]["key"], "where are you from?")
        exchange = waiting_for(operator, people["drafts"])
        wait_until(lambda: any(d["done_at"] for d in operator.exchange(exchange["id"])["drafts"]))
        operator.reply(exchange["id"], "From the harbour.").raise_for_status()
        assert chat.join() == "From the harbour."
        [draft] = operator.exchange(exchange["id"])["drafts"]
    [request] = upstream.requests
    assert request.body["model"] == "study-model" and draft["profile"] == "study"
    system = first_system(request)
    assert "You help a human operator." in system and DRAFT_PERSONA in system
    assert "Kenji" not in chat.raw


def test_auto_answers_with_the_persona_and_the_conditions_profile(tmp_path, upstream, people):
    with running(tmp_path, upstream) as server:
        chat = Participant(server.base, people["auto"]["key"], "who are you?")
        assert chat.join() == "Draft answer to: who are you?"
    [request] = upstream.requests
    assert request.body["model"] == "study-model"
    assert AUTO_PERSONA in first_system(request)
    assert "Aiko" not in chat.raw and "barista" not in chat.raw


def test_a_missing_profile_falls_back_to_the_default_with_a_notice(tmp_path, upstream, people):
    with running(tmp_path, upstream) as server, closing(Operator(server.base)) as operator:
        chat = Participant(server.base, people["lost"]["key"], "hello?")
        exchange = waiting_for(operator, people["lost"])
        record = wait_until(lambda: (e := operator.exchange(exchange["id"]))["notice"] and e)
        assert record["notice_code"] == "condition_profile_missing" and "'gone'" in record["notice"]
        wait_until(lambda: any(d["done_at"] for d in operator.exchange(exchange["id"])["drafts"]))
        operator.reply(exchange["id"], "Hi!").raise_for_status()
        chat.join()
    assert [r.body["model"] for r in upstream.requests] == ["default-model"]


@pytest.mark.parametrize("answer", [
    "I am Aiko. As an A|I model, I cannot",  # the phrase split across chunks
    "I am Aiko. |Ａｓ ａｎ ＡＩ, no.",  # in one chunk, full-width
    "I am Aiko. As an |a|i, I cannot.",  # across three chunks
])
def test_auto_holds_a_guard_phrase_for_the_operator(tmp_path, upstream, people, answer):
    # More chunks follow, slowly, so the upstream is still talking when the guard stops it.
    upstream.behaviour.text = answer + "| say| more| than| that| here."
    upstream.behaviour.chunk_delay = 0.1
    with running(tmp_path, upstream) as server, closing(Operator(server.base)) as operator:
        chat = Participant(server.base, people["auto"]["key"], "are you a bot?")
        exchange = waiting_for(operator, people["auto"])
        held = wait_until(lambda: (e := operator.exchange(exchange["id"]))["guard_action"] and e)
        assert (held["guard_phrase"], held["guard_action"]) == ("as an ai", "held")
        assert held["notice_code"] == "guard_held" and "as an ai" in held["notice"]
        assert held["outcome"] in ("waiting", "replying") and held["final"] == "I am Aiko. "
        assert upstream.wait_disconnected(0)  # the LLM was stopped
        refused = operator.reply(exchange["id"], "As an AI, I am not sure.")
        assert refused.status_code == 409  # the operator's own words meet the guard too
        operator.reply(exchange["id"], "Just a barista.").raise_for_status()
        assert chat.join() == "I am Aiko. Just a barista."
        row = logged(server, exchange["id"])
    assert (row["guard_phrase"], row["guard_action"], row["author"]) == (
        "as an ai", "held", "auto+takeover")


def test_an_operator_may_force_a_phrase_after_a_hold(tmp_path, upstream, people):
    upstream.behaviour.text = "Hello! |As an A|I model, no."
    with running(tmp_path, upstream) as server, closing(Operator(server.base)) as operator:
        chat = Participant(server.base, people["auto"]["key"], "are you a bot?")
        exchange = waiting_for(operator, people["auto"])
        wait_until(lambda: operator.exchange(exchange["id"])["guard_action"] == "held")
        forced = operator.http.post(f"/exchanges/{exchange['id']}/reply", json={
            "text": "I use OpenAI tools.", "done": True, "force": True})
        assert forced.status_code == 200
        assert chat.join() == "Hello! I use OpenAI tools."
        row = logged(server, exchange["id"])
    assert (row["guard_phrase"], row["guard_action"]) == ("openai", "forced")


def test_an_auto_answer_without_a_phrase_arrives_whole(tmp_path, upstream, people):
    # Chunks that end where a phrase could begin ("as an", "Op") are held, then let go.
    answer = "Let me be open|ly honest: I speak as an|y friend would. Op|en to questions. Op"
    upstream.behaviour.text = answer
    with running(tmp_path, upstream) as server:
        chat = Participant(server.base, people["auto"]["key"], "be honest")
        assert chat.join() == answer.replace("|", "")
        assert chat.finish == "stop"
        with closing(Operator(server.base)) as operator:
            [record] = operator.exchanges()
    assert record["guard_action"] is None and record["author"] == "auto"


def test_the_away_policy_does_not_send_a_draft_holding_a_phrase(tmp_path, upstream, people):
    upstream.behaviour.text = "I am not a language model."
    away = {"away_timeout_seconds": {"copilot": 0.5}, "away_action": {"copilot": "send_draft"}}
    with running(tmp_path, upstream, **away) as server, closing(Operator(server.base)) as operator:
        chat = Participant(server.base, people["drafts"]["key"], "are you real?")
        exchange = waiting_for(operator, people["drafts"])
        held = wait_until(lambda: (e := operator.exchange(exchange["id"]))["guard_action"] and e)
        assert (held["guard_phrase"], held["notice_code"]) == ("language model", "guard_held")
        assert held["outcome"] == "waiting"
        operator.reply(exchange["id"], "I am Kenji.").raise_for_status()
        assert chat.join() == "I am Kenji."


def test_the_guard_holds_back_only_what_could_begin_a_phrase():
    guard = StreamGuard(["openai", "as an ai"])
    assert guard.feed("Hello") == ("Hell", None)  # "o" may begin "openai"
    assert guard.feed(" there, as a") == ("o there, ", None)
    assert guard.feed("n ally") == ("as an ally", None)
    assert guard.feed("OpenA") == ("", None) and guard.flush() == "OpenA"
    assert StreamGuard([]).feed("as an ai") == ("as an ai", None)
