"""What reached the client survives a killed server: the log holds the trailing edge of a reply."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from human_chat_completions.core import Switchboard
from human_chat_completions.store.log import ExchangeLog
from tests.support import OPERATOR_TOKEN, Operator, free_port, wait_until


class ServerProcess:
    """`hcc serve` as its own process, so it can be killed (SIGKILL) and measured (RSS)."""

    def __init__(self, data_dir: Path, config_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "human_chat_completions", "serve", "--port", str(self.port),
             "--data-dir", str(data_dir), "--operator-token", OPERATOR_TOKEN],
            env={**os.environ, "HCC_CONFIG_DIR": str(config_dir)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(self._healthy, timeout=30, interval=0.1)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _healthy(self) -> bool:
        assert self.process.poll() is None, "the server exited"
        try:
            return httpx.get(self.base + "/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


class StreamingClient:
    """A participant's app: the official client, streaming, collecting the text it receives."""

    def __init__(self, base: str) -> None:
        self.received = ""
        self.client = openai.OpenAI(base_url=base + "/v1", api_key="sk-participant", max_retries=0)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            stream = self.client.chat.completions.create(
                model="human", stream=True,
                messages=[{"role": "user", "content": "Tell me something"}])
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    self.received += chunk.choices[0].delta.content
        except openai.APIError:
            pass  # the server is killed under it; what arrived is in `received`


def logged_reply(path: Path, exchange_id: str) -> tuple[str, str]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT reply, state FROM exchanges WHERE id = ?", (exchange_id,)).fetchone()
    finally:
        db.close()


@pytest.mark.slow
def test_the_last_delta_of_a_burst_survives_sigkill(tmp_path):
    data, config = tmp_path / "data", tmp_path / "config"
    server = ServerProcess(data, config)
    try:
        participant = StreamingClient(server.base)
        operator = Operator(server.base)
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], "Once upon a time", done=False).raise_for_status()
        time.sleep(0.1)
        operator.reply(exchange["id"], ", there was a log.", done=False).raise_for_status()
        operator.close()
        wait_until(lambda: participant.received == "Once upon a time, there was a log.")
        time.sleep(1.5)  # the bound: what the client has is durable within 1 s
        server.kill()
    finally:
        server.stop()
    # The next run finds the reply as the client saw it (and marks the exchange interrupted).
    restarted = ServerProcess(data, config)
    restarted.stop()
    assert logged_reply(data / "exchanges.sqlite3", exchange["id"]) == (
        "Once upon a time, there was a log.", "interrupted")


def test_deltas_published_outside_an_event_loop_are_written_at_once(tmp_path):
    """With no running loop nothing could flush later: each delta is written as it comes."""
    switchboard = Switchboard()
    exchange_log = ExchangeLog(tmp_path / "log.sqlite3")
    switchboard.events.listen(exchange_log.on_event)
    exchange = switchboard.open({"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                                stream=True)
    switchboard.reply(exchange.id, "one")
    switchboard.reply(exchange.id, " two")
    assert logged_reply(tmp_path / "log.sqlite3", exchange.id) == ("one two", "replying")
    exchange_log.close()
