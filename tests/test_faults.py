"""Faults a week-long study meets: bad data folders, clients leaving mid-auto, windows reopened."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from human_chat_completions.config import Settings
from human_chat_completions.copilot.profiles import Profile
from human_chat_completions.server import ExchangeLogUnavailable, build_runtime
from tests.fakes.upstream import FakeUpstream
from tests.support import Operator, RunningServer, wait_until


@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "proc"])
def test_unusable_data_folder_is_a_clear_message_not_a_crash(tmp_path, where):
    data = tmp_path / "not-a-folder" if where == "file" else Path("/proc/hcc-cannot-write-here")
    if where == "file":
        data.write_text("a file where the data folder should be")
    with pytest.raises(ExchangeLogUnavailable, match="--data-dir"):
        build_runtime(Settings(), data)
    result = subprocess.run(
        [sys.executable, "-m", "human_chat_completions", "serve", "--port", "9", "--data-dir", str(data)],
        env={**os.environ, "HCC_CONFIG_DIR": str(tmp_path / "config")},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Cannot use the exchange log" in result.stderr and "Traceback" not in result.stderr


def test_client_leaving_during_an_auto_answer_stops_the_upstream(tmp_path):
    with FakeUpstream() as upstream:
        upstream.behaviour.chunk_delay = 0.3
        profile = Profile(name="fake", base_url=upstream.base_url, model="m")
        settings = Settings(default_mode="auto", profiles=[profile])
        with RunningServer(tmp_path / "data", settings) as server:
            with httpx.Client(base_url=server.base, timeout=10) as http, http.stream(
                "POST", "/v1/chat/completions",
                json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "go on"}]},
            ) as response:
                lines = response.iter_lines()
                wait_until(lambda: '"content": "Draft' in next(lines))
            operator = Operator(server.base)
            [gone] = operator.wait_for(1, outcome="abandoned")
            operator.close()
            assert upstream.wait_disconnected(0)  # nobody is billed for an answer nobody reads
            assert gone["final"].startswith("Draft")


@pytest.mark.browser
def test_operator_window_closed_and_reopened_mid_reply(tmp_path):
    """A reply started in one window (live typing) is finished in a new one: the delivered part is
    kept and locked, the rest continues."""
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, focus_textbox, open_window, type_text
    from tests.ui.test_operator_window import StreamingParticipant, conversation

    settings = Settings(language="en", live_idle_seconds=0.3, delivery_style="live")
    with RunningServer(tmp_path / "data", settings) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        participant = StreamingParticipant(server.base, "erin", "Tell me a story")
        page = open_window(browser, server.base)
        from tests.ui.browser import wait_for_text

        wait_for_text(page, "erin")
        conversation(page, "erin").click()
        focus_textbox(page, "Reply")
        type_text(page, "Once upon a time ")  # live typing releases finished words only
        wait_until(lambda: participant.received == "Once upon a time ", timeout=10)
        page.close()  # the operator's window crashes or is closed
        wait_until(lambda: server.runtime.windows.count == 0)
        page = open_window(browser, server.base)
        wait_for_text(page, "erin")
        conversation(page, "erin").click()
        wait_for_text(page, "Once upon a time")
        focus_textbox(page, "Reply")
        page.keyboard.press("Control+End")
        type_text(page, "and the end.")
        page.get_by_role("button", name="Send").click()
        assert participant.text() == "Once upon a time and the end."
        page.close()
        browser.close()


def test_a_full_disk_mid_study_does_not_stop_replies(tmp_path, caplog):
    """SQLite says 'database or disk is full' (max_page_count pins the file at its size): the log
    write fails and is reported, the participant still gets the operator's answer."""
    with RunningServer(tmp_path / "data") as server:
        operator = Operator(server.base)
        first = threading.Thread(target=httpx.post, args=(server.base + "/v1/chat/completions",),
                                 kwargs={"json": {"model": "m", "messages": [
                                     {"role": "user", "content": "logged"}]}, "timeout": 10})
        first.start()
        [logged] = operator.wait_for(1)
        operator.reply(logged["id"], "fine")
        first.join(10)
        db = server.runtime.exchange_log.db
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        answers: list = []
        big = "x" * 200_000  # cannot fit in the pinned file
        second = threading.Thread(target=lambda: answers.append(httpx.post(
            server.base + "/v1/chat/completions", timeout=10,
            json={"model": "m", "messages": [{"role": "user", "content": big}]})))
        second.start()
        [waiting] = operator.wait_for(1)
        operator.reply(waiting["id"], "still answered")
        second.join(10)
        operator.close()
        health = httpx.get(server.base + "/health").json()
    assert health["log"].startswith("failing") and "full" in health["log"]
    assert answers[0].json()["choices"][0]["message"]["content"] == "still answered"
    assert any("could not be written" in record.getMessage() for record in caplog.records)
    import json

    spilled = [json.loads(line) for line in
               (tmp_path / "data" / "exchanges-unlogged.jsonl").read_text().splitlines()]
    assert any(r["request"]["messages"][0]["content"] == big for r in spilled)
    assert any(r["final"] == "still answered" and r["outcome"] == "done" for r in spilled)
    import sqlite3

    check = sqlite3.connect(tmp_path / "data" / "exchanges.sqlite3")
    assert check.execute("SELECT reply FROM exchanges WHERE id = ?",
                         (logged["id"],)).fetchone() == ("fine",)  # nothing logged before is lost
    check.close()
