"""Reading the log: filters, one record, stats; and a killed server keeps what it received."""

from __future__ import annotations

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import httpx
import pytest

from human_chat_completions.config import Settings
from human_chat_completions.server import build_runtime
from human_chat_completions.store import queries
from human_chat_completions.store.log import ExchangeLog
from tests.store.research_log import (  # noqa: F401  (fixtures)
    LOG_FILE,
)
from tests.support import Operator, free_port, wait_until


def ids_of(data, **filters) -> list[str]:
    log = ExchangeLog(data / LOG_FILE)
    found = [rec.id for rec in queries.records(log.db, queries.Filters(**filters))]
    log.close()
    return found


def test_filters_by_participant_author_mode_outcome_and_conversation(research_log):
    data, ids = research_log
    assert len(ids_of(data)) == 10
    assert ids_of(data, participant="p-2") == [ids["heavy_edit"], ids["discarded"]]
    assert ids_of(data, author="edited") == [ids["light_edit"], ids["heavy_edit"]]
    assert ids_of(data, mode="copilot") == [ids["copilot"], ids["light_edit"], ids["heavy_edit"],
                                            ids["discarded"]]
    assert ids_of(data, outcome="failed") == [ids["failed"]]
    # An outcome asked for by name is returned even where unfinished ones are left out.
    assert ids_of(data, outcome="abandoned", include_unfinished=False) == [ids["abandoned"]]
    assert len(ids_of(data, include_unfinished=False)) == 8
    log = ExchangeLog(data / LOG_FILE)
    conversation = queries.get_record(log.db, ids["auto"]).conversation.id
    log.close()
    assert ids_of(data, conversation=conversation) == [ids["streamed"], ids["auto"]]
    assert ids_of(data, participant="nobody") == []


def test_time_window(research_log):
    data, ids = research_log
    log = ExchangeLog(data / LOG_FILE)
    stamps = [rec.timestamps.received_at for rec in queries.records(log.db)]
    log.close()
    middle = stamps[4]
    assert ids_of(data, since=middle)[0] == ids["discarded"]
    assert ids_of(data, until=middle)[-1] == ids["heavy_edit"]
    today = datetime.fromisoformat(stamps[0]).astimezone().date()
    assert len(ids_of(data, since=queries.parse_when(today.isoformat()),
                      until=queries.parse_when(today.isoformat(), end=True))) == 10
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert ids_of(data, since=queries.parse_when(tomorrow)) == []


def test_parse_when_gives_stored_utc_boundaries():
    assert queries.parse_when("2025-03-04T05:06:07+09:00") == "2025-03-03T20:06:07.000+00:00"
    assert queries.parse_when("2025-03-04T05:06:07Z") == "2025-03-04T05:06:07.000+00:00"
    start, end = queries.parse_when("2025-03-04"), queries.parse_when("2025-03-04", end=True)
    span = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    assert span == timedelta(days=1)
    with pytest.raises(ValueError):
        queries.parse_when("last tuesday")


def test_record_by_id_or_unique_prefix(research_log):
    data, ids = research_log
    log = ExchangeLog(data / LOG_FILE)
    full = queries.get_record(log.db, ids["heavy_edit"])
    assert queries.get_record(log.db, ids["heavy_edit"][:10]) == full
    assert queries.get_record(log.db, "ex_") is None  # ambiguous
    assert queries.get_record(log.db, "ex_nope") is None
    assert queries.get_record(log.db, "%") is None  # LIKE wildcards are literal
    log.close()
    assert full.final == "これは富士山の写真です。きれいですね。"
    assert "api_key_masked" not in full.model_dump_json()


def test_stats_match_the_rows(research_log):
    data, _ = research_log
    log = ExchangeLog(data / LOG_FILE)
    numbers = queries.stats(queries.iter_records(log.db))
    log.close()
    assert numbers["exchanges"] == 10
    assert numbers["by_author"] == {"auto": 2, "copilot": 1, "edited": 2, "human": 4, "none": 1}
    assert numbers["by_mode"] == {"auto": 1, "copilot": 4, "human": 5}
    assert numbers["by_outcome"] == {"abandoned": 1, "done": 8, "failed": 1}
    assert numbers["median_edit_distance"] == 1 and numbers["with_edit_distance"] == 3
    db = sqlite3.connect(data / LOG_FILE)
    seconds = [
        (datetime.fromisoformat(done) - datetime.fromisoformat(received)).total_seconds()
        for received, done in db.execute(
            "SELECT received_at, done_at FROM exchanges WHERE state = 'done'")
    ]
    db.close()
    assert numbers["answered"] == 8
    assert numbers["median_response_seconds"] == pytest.approx(statistics.median(seconds))


@pytest.mark.slow
def test_a_killed_server_loses_no_request_it_received(tmp_path):
    data, token, port = tmp_path / "killed", "kill-test-token", free_port()
    env = {**os.environ, "HCC_CONFIG_DIR": str(tmp_path / "config"), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "human_chat_completions", "serve", "--port", str(port),
         "--data-dir", str(data), "--operator-token", token],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    request = {"model": "human", "temperature": 0.4, "metadata": {"study": "s1"},
               "messages": [{"role": "system", "content": "Be brief."},
                            {"role": "user", "content": "まだそこにいますか？"}]}
    outcome: dict = {}

    def participant() -> None:
        try:
            httpx.post(base + "/v1/chat/completions", json=request, timeout=30)
        except httpx.HTTPError as error:
            outcome["error"] = error

    try:
        wait_until(lambda: _up(base), timeout=30)
        sender = threading.Thread(target=participant, daemon=True)
        sender.start()
        operator = Operator(base, token)
        [waiting] = operator.wait_for(1)
        operator.reply(waiting["id"], "Yes", done=False).raise_for_status()
        time.sleep(0.7)  # a reply in progress is saved at most twice a second
        operator.reply(waiting["id"], ", still here", done=False).raise_for_status()
        time.sleep(0.2)
        operator.close()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        sender.join(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert "error" in outcome  # the participant saw the connection drop

    runtime = build_runtime(Settings(), data, token)  # what the next `hcc serve` does first
    try:
        record = queries.get_record(runtime.exchange_log.db, waiting["id"])
        exported = queries.records(runtime.exchange_log.db, queries.Filters(include_unfinished=False))
    finally:
        runtime.close()
    assert record is not None and record.outcome == "interrupted"
    assert record.request == request and record.user_input == "まだそこにいますか？"
    assert record.final == "Yes, still here" and record.error
    assert record.timestamps.received_at and record.timestamps.done_at is None
    assert exported == []  # interrupted rows only leave with --include-unfinished


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
