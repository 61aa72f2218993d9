"""Big requests do not pile up in the server's memory: the log has them, RAM keeps a bounded few."""

from __future__ import annotations

import base64
import json
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import openai
import psutil
import pytest

from human_chat_completions.config import Settings
from human_chat_completions.store import queries
from human_chat_completions.store.log import USER_INPUT_PREVIEW
from tests.store.test_crash_safe_reply import ServerProcess
from tests.support import RunningServer, wait_until

MB = 2**20
REQUESTS = 20


def big_text(index: int) -> str:
    # Random letters: nothing in the server can share or compress one request with another.
    return f"request {index}: " + base64.b64encode(os.urandom(15 * MB)).decode()  # 20 MB


def ask_and_leave(client: openai.OpenAI, text: str) -> None:
    """Send the request, wait until the server has taken it (the first chunk), hang up."""
    stream = client.chat.completions.create(
        model="human", stream=True, messages=[{"role": "user", "content": text}])
    next(iter(stream))
    stream.close()


def abandoned(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM exchanges WHERE state = 'abandoned'").fetchone()[0]
    finally:
        db.close()


def logged_requests(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT r.request_json FROM exchanges e JOIN requests r ON r.exchange_id = e.id "
                          "ORDER BY e.received_at, e.rowid")
        return [json.loads(row[0])["messages"][0]["content"] for row in rows]
    finally:
        db.close()


@pytest.mark.slow  # 20 × 20 MB through a real server: about a minute and a half
def test_abandoned_big_requests_leave_memory_bounded_and_the_log_complete(tmp_path):
    server = ServerProcess(tmp_path / "data", tmp_path / "config")
    log_path = tmp_path / "data" / "exchanges.sqlite3"
    client = openai.OpenAI(base_url=server.base + "/v1", api_key="sk-participant", max_retries=0)
    try:
        ask_and_leave(client, "warm-up: every code path has run once before measuring")
        wait_until(lambda: abandoned(log_path) == 1)
        process = psutil.Process(server.process.pid)
        rss_start = process.memory_info().rss
        sent = []
        for index in range(REQUESTS):
            sent.append(big_text(index))
            ask_and_leave(client, sent[-1])
        wait_until(lambda: abandoned(log_path) == REQUESTS + 1, timeout=60, interval=0.2)
        time.sleep(10)  # the number: memory is measured 10 s after the last request
        grown = (process.memory_info().rss - rss_start) / MB
        print(f"server RSS: {rss_start / MB:.0f} MB at start, grew {grown:+.0f} MB")
        assert grown < 100  # 20-40 MB: the few bodies the request cache keeps (32 MB at most)
    finally:
        client.close()
        server.stop()
    # Memory was not saved by losing data: the log has every request, exactly as sent.
    assert logged_requests(log_path)[1:] == sent


def test_a_request_is_stored_once_and_read_whole(server, operator):
    """`requests.request_json` holds the request; `user_input` is only a preview of its last user
    message, yet every reader (records, exports, the Logs page) still gets the whole message."""
    text = "A long message. " * 65_536  # 1 MB
    client = openai.OpenAI(base_url=server.base + "/v1", api_key="sk-participant", max_retries=0)
    asking = threading.Thread(target=client.chat.completions.create, kwargs={
        "model": "human", "messages": [{"role": "user", "content": text}]})
    asking.start()
    [exchange] = operator.wait_for(1)
    operator.reply(exchange["id"], "Noted.")
    asking.join(10)
    client.close()
    db = sqlite3.connect(server.data_dir / "exchanges.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        row = dict(db.execute("SELECT * FROM exchanges").fetchone())
        request = dict(db.execute("SELECT * FROM requests").fetchone())
        stored = sum(len(value) for value in [*row.values(), *request.values()] if isinstance(value, str))
        assert stored < 1.01 * len(text)  # once, not twice
        assert row["user_input"] == text[:USER_INPUT_PREVIEW] + "…"
        assert queries.get_record(db, exchange["id"]).user_input == text
    finally:
        db.close()


def refused_before_the_end(port: int, head: bytes) -> bytes:
    """Send a request head that never ends; return what the server answers, b"" if it hangs up."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(20)  # a server still reading would leave us waiting: that is the failure
        try:
            sock.sendall(head)
        except OSError:
            pass  # it stopped reading and closed: what it said (if anything) is still to read
        try:
            return sock.recv(1024)
        except ConnectionResetError:
            return b""


@pytest.mark.parametrize("head", [
    b"X-One-Huge: " + b"a" * 4 * MB,
    b"".join(b"X-Filler-%d: %s\r\n" % (n, b"a" * 1000) for n in range(4000)),
], ids=["one huge header", "many headers"])
def test_a_huge_header_block_is_refused_and_the_server_carries_on(server, head):
    answer = refused_before_the_end(
        server.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + head)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4")
    assert httpx.get(server.base + "/health").status_code == 200
    # A big but reasonable header block (cookies, proxies) still passes.
    reasonable = {"X-Large-But-Fine": "b" * 16 * 1024}
    assert httpx.get(server.base + "/v1/models", headers=reasonable).status_code == 200


def test_connections_beyond_the_limit_get_503_and_the_server_recovers(tmp_path):
    settings = Settings(max_connections=64)
    with RunningServer(tmp_path / "data", settings) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(64)]
        try:
            wait_until(lambda: httpx.get(server.base + "/health").status_code == 503)
        finally:
            for sock in idle:
                sock.close()
        wait_until(lambda: httpx.get(server.base + "/health").status_code == 200)
