"""One shape: the operator API, the log and the exports hold the same record of an exchange."""

from __future__ import annotations

import io
import json

import httpx

from human_chat_completions.core.exchange import Author
from human_chat_completions.store import exports, queries
from human_chat_completions.store.log import ExchangeLog
from tests.store.research_log import LOG_FILE, TITLE_REQUEST, Study
from tests.support import RunningServer


def exported(running: RunningServer, exchange_id: str) -> dict:
    """The exchange's line in a `jsonl` export of the running server's log (side requests and
    every author included: jsonl keeps them by default)."""
    log = ExchangeLog(running.data_dir / LOG_FILE)  # a second connection, as `hcc logs` would open
    try:
        out = io.StringIO()
        exports.write(queries.iter_records(log.db), "jsonl", out)
    finally:
        log.close()
    [line] = [row for row in map(json.loads, out.getvalue().splitlines()) if row["id"] == exchange_id]
    return line


def test_the_operator_api_and_the_jsonl_export_hold_the_same_record(tmp_path):
    with RunningServer(tmp_path / "data") as running:
        study = Study(running)
        # A done exchange with a copilot draft (edited), a note and a tag.
        exchange_id, wait = study.send([{"role": "system", "content": "Be kind."},
                                        {"role": "user", "content": "Recommend a book"}],
                                       {"X-Conversation-Id": "p-1", "User-Agent": "StudyApp/1.0"})
        study.core.drafts(exchange_id, ["Try Dune.", "Read Borges."], choose=0)
        study.core.call(study.core.switchboard.annotate, exchange_id, "asked twice", "request")
        study.reply_as(exchange_id, "Try Dune by Frank Herbert.", Author.EDITED)
        assert wait().status_code == 200
        # A side request: a chat app titling the chat, answered canned.
        known = {e["id"] for e in study.operator.exchanges()}
        httpx.post(running.base + "/v1/chat/completions", timeout=15,
                   json={"model": "m", "messages": [{"role": "user", "content": TITLE_REQUEST}]},
                   ).raise_for_status()
        [side_id] = [e["id"] for e in study.operator.exchanges() if e["id"] not in known]

        drafted = study.operator.exchange(exchange_id)
        side = study.operator.exchange(side_id)
        assert drafted == exported(running, exchange_id)
        assert side == exported(running, side_id)
        study.operator.close()
    # What the comparison covered: nothing in it is empty by accident.
    assert [d["text"] for d in drafted["drafts"]] == ["Try Dune.", "Read Borges."]
    assert drafted["chosen_draft_id"] == drafted["drafts"][0]["id"]
    assert (drafted["note"], drafted["tag"], drafted["author"]) == ("asked twice", "request", "edited")
    assert drafted["participant"] == drafted["conversation"]["label"] == "p-1"
    assert drafted["client"] == {"address": "127.0.0.1", "user_agent": "StudyApp/1.0"}
    assert drafted["user_input"] == "Recommend a book" and drafted["edit_distance"] > 0
    assert all(drafted["timestamps"][name] for name in ("received_at", "first_draft_token_at",
                                                        "first_byte_at", "done_at"))
    assert (side["side_request"], side["author"], side["outcome"]) == ("openwebui-title", "auto",
                                                                       "done")
    assert side["final"] == '{"title": "New chat"}' and side["finish_reason"] == "stop"
    assert "api_key" not in json.dumps([drafted, side])


def test_the_record_read_back_from_the_log_is_the_record_written(tmp_path):
    with RunningServer(tmp_path / "data") as running:
        study = Study(running)
        exchange_id, wait = study.send([{"role": "user", "content": "hello"}])
        study.operator.reply(exchange_id, "hi").raise_for_status()
        wait()
        live = study.operator.exchange(exchange_id)
        study.operator.close()
        log = ExchangeLog(running.data_dir / LOG_FILE)
        try:
            stored = queries.get_record(log.db, exchange_id)
        finally:
            log.close()
    assert stored is not None and stored.model_dump(mode="json") == live
