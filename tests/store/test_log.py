"""The exchange log: written on arrival, kept across restarts, migrated from older files."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import threading

import httpx

from human_chat_completions.config import Settings
from human_chat_completions.server import build_runtime, make_server
from human_chat_completions.store.log import ExchangeLog
from human_chat_completions.store.migrations import MIGRATIONS, migrate
from tests.api.test_conversations import ask, body
from tests.support import OPERATOR_TOKEN, Operator, RunningServer, http_chunks, wait_until


def rows(path) -> list[dict]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    found = [dict(row) for row in db.execute("SELECT * FROM exchanges ORDER BY received_at")]
    db.close()
    return found


def test_request_is_logged_on_arrival_before_any_answer(server, operator):
    with httpx.Client(base_url=server.base, timeout=10) as http:
        thread = threading.Thread(
            target=http.post, args=("/v1/chat/completions",),
            kwargs={"json": body(("user", "logged first")),
                    "headers": {"Authorization": "Bearer sk-secret-participant-key",
                                "User-Agent": "StudyApp/1.0"}},
        )
        thread.start()
        [exchange] = operator.wait_for(1)
        [row] = rows(server.data_dir / "exchanges.sqlite3")
        assert row["state"] == "waiting" and row["user_input"] == "logged first"
        assert row["reply"] == "" and row["done_at"] is None
        assert row["client_user_agent"] == "StudyApp/1.0"
        assert "secret" not in row["api_key_masked"] and row["api_key_masked"].endswith("-key")
        operator.reply(exchange["id"], "now answered")
        thread.join(10)
    [row] = rows(server.data_dir / "exchanges.sqlite3")  # the whole answer is in before its client has it
    assert row["state"] == "done" and row["reply"] == "now answered" and row["author"] == "human"
    # The first byte's time is noted as the body goes out, and written with the next batch.
    [row] = wait_until(lambda: [r for r in rows(server.data_dir / "exchanges.sqlite3") if r["first_byte_at"]],
                       timeout=5)
    # Non-stream: the operator finishes, then the body goes out.
    assert row["received_at"] <= row["done_at"] <= row["first_byte_at"]
    assert row["finish_reason"] == "stop"


def test_rows_survive_a_restart_and_conversations_continue(tmp_path):
    data = tmp_path / "data"
    with RunningServer(data) as first_run:
        operator = Operator(first_run.base)
        first = ask(first_run, operator, body(("user", "before restart")), "first answer")
        operator.close()
    with RunningServer(data) as second_run:
        operator = Operator(second_run.base)
        later = ask(second_run, operator,
                    body(("user", "before restart"), ("assistant", "first answer"),
                         ("user", "after restart")), "second answer")
        operator.close()
    assert later["conversation"]["id"] == first["conversation"]["id"]
    logged = rows(data / "exchanges.sqlite3")
    assert [(r["user_input"], r["reply"], r["state"]) for r in logged] == [
        ("before restart", "first answer", "done"),
        ("after restart", "second answer", "done"),
    ]


def test_exchange_left_open_by_a_dead_run_is_marked_interrupted(tmp_path):
    data = tmp_path / "data"
    running = RunningServer(data).start()
    operator = Operator(running.base)
    http = httpx.Client(base_url=running.base, timeout=30)
    thread = threading.Thread(target=lambda: http.post(
        "/v1/chat/completions", json=body(("user", "in flight"))), daemon=True)
    thread.start()
    operator.wait_for(1)
    operator.close()
    # Simulate a run that died without its shutdown: keep the row open, then reopen the file.
    log = ExchangeLog(data / "exchanges.sqlite3")
    states = "SELECT state FROM exchanges ORDER BY received_at, rowid"
    assert [r["state"] for r in log.db.execute(states)] == ["waiting"]
    assert log.mark_interrupted() == 1
    assert [r["state"] for r in log.db.execute(states)] == ["interrupted"]
    log.close()
    running.stop()
    http.close()


def test_blank_and_oldest_schema_migrate_to_the_same_columns(tmp_path):
    blank = sqlite3.connect(tmp_path / "blank.sqlite3")
    migrate(blank)
    oldest = sqlite3.connect(tmp_path / "oldest.sqlite3")
    oldest.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    name, first_step = MIGRATIONS[0]
    first_step(oldest)
    oldest.execute("INSERT INTO _migrations VALUES (?, 'then')", (name,))
    assert migrate(oldest) == [n for n, _ in MIGRATIONS[1:]]
    assert migrate(oldest) == []

    def columns(db: sqlite3.Connection) -> dict:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: [c[1:3] for c in db.execute(f"PRAGMA table_info({t})")] for t in tables}

    assert columns(blank) == columns(oldest)
    blank.close()
    oldest.close()


def closed(lines: list[str]) -> bool:
    return lines[-1].startswith("data: ") and "event: exchange.closed" in lines  # its data too


def first_byte_stamped(lines: list[str]) -> bool:
    """A non-streamed reply's first byte leaves after it closed: that change comes last."""
    return closed(lines) and json.loads(lines[-1].removeprefix("data: ")).get(
        "exchange", {}).get("timestamps", {}).get("first_byte_at") is not None


def listen(server: RunningServer, lines: list[str], until=closed) -> None:
    """Read the operator API's event feed into `lines` until `until(lines)`; returns once the
    feed is connected."""
    ready = threading.Event()

    def read() -> None:
        with httpx.Client(base_url=server.base + "/operator/api", timeout=10,
                          headers={"Authorization": "Bearer test-operator-token"}) as http:
            with http.stream("GET", "/events") as response:
                for line in response.iter_lines():
                    ready.set()
                    lines.append(line)
                    if until(lines):
                        return

    threading.Thread(target=read, daemon=True).start()
    assert ready.wait(10)


def test_events_feed_reports_each_step(server, operator):
    lines: list[str] = []
    listen(server, lines)
    ask(server, operator, body(("user", "watch me")), "watched")
    wait_until(lambda: "event: exchange.closed" in lines)
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert events[0] == "conversation.changed"
    assert events.index("exchange.opened") < events.index("reply.delta") < events.index(
        "exchange.closed")


def test_events_that_come_together_reach_the_feed_in_one_write(server, operator):
    """Each write wakes the reader: the events an exchange's steps set off together (held back
    while first words are on their way) go out as one chunk of the response, each still its own
    SSE event."""
    host, port = server.base.removeprefix("http://").split(":")
    received = bytearray()
    connected = threading.Event()

    def read() -> None:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"GET /operator/api/events HTTP/1.1\r\nhost: x\r\n"
                         b"authorization: Bearer test-operator-token\r\n\r\n")
            while b"exchange.closed" not in received:
                received.extend(sock.recv(65536))
                connected.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert connected.wait(10)
    ask(server, operator, body(("user", "watch me")), "watched")
    reader.join(10)
    chunks = http_chunks(bytes(received))
    per_chunk = [chunk.count(b"event: ") for chunk in chunks]
    assert max(per_chunk) >= 2, per_chunk
    events = [line.removeprefix(b"event: ") for chunk in chunks for line in chunk.split(b"\n")
              if line.startswith(b"event: ")]
    assert events.index(b"exchange.opened") < events.index(b"reply.delta") < events.index(b"exchange.closed")


def test_the_events_feed_carries_the_same_record_as_the_operator_api(server, operator):
    """The feed encodes each request once and splices it in: what arrives is the record itself."""
    lines: list[str] = []
    listen(server, lines, until=first_byte_stamped)
    history = body(("system", "Be brief."), ("user", "über 世界 \"quoted\" \\ back"))
    ask(server, operator, history, "watched")
    wait_until(lambda: first_byte_stamped(lines))
    records = [json.loads(line.removeprefix("data: ")) for line in lines
               if line.startswith("data: ") and '"exchange"' in line]
    assert "exchange.closed" in [record["type"] for record in records]
    last = records[-1]
    assert last["exchange"]["outcome"] == "done"
    assert last["exchange"] == operator.exchange(last["exchange_id"])
    assert [r["exchange"]["request"] for r in records] == [history] * len(records)


async def test_a_request_the_operator_api_shows_is_in_the_file(tmp_path):
    """The log writes a request for a person two loop turns after it opens; the operator API's
    answers come on the loop, so they could come sooner. Whatever it shows is written first:
    here the listing and the exchange are asked for before the loop turns again."""
    runtime = build_runtime(Settings(), tmp_path / "data", OPERATOR_TOKEN)
    app = make_server(runtime, "127.0.0.1", 8000, with_ui=False).config.app
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            asked = asyncio.create_task(http.post("/v1/chat/completions", json=body(("user", "seen"))))
            while not runtime.switchboard.waiting():
                await asyncio.sleep(0)
            [listed] = (await http.get("/operator/api/exchanges", headers=headers)).json()
            assert [row["id"] for row in rows(tmp_path / "data" / "exchanges.sqlite3")] == [listed["id"]]
            runtime.switchboard.reply(listed["id"], "answered", done=True)
            await asked
    finally:
        runtime.close()


async def test_a_request_the_event_feed_shows_is_in_the_file(tmp_path):
    """The same for the operator's live feed: the file is read inside the feed's own write, the
    moment it tells a window that a request for a person came. The feed is still busy writing when
    the request opens (held in its first write), so it finds the event at once, without the wait
    a feed that sleeps on its queue would have."""
    runtime = build_runtime(Settings(), tmp_path / "data", OPERATOR_TOKEN)
    app = make_server(runtime, "127.0.0.1", 8000, with_ui=False).config.app
    shown: list[tuple[str, list[str]]] = []  # (exchange id the feed named, ids in the file then)
    connected, written, disconnect = asyncio.Event(), asyncio.Event(), asyncio.Event()
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if requests:
            return requests.pop()
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        text = message.get("body", b"").decode()
        if text.startswith(": connected"):
            connected.set()
            await written.wait()
        if "event: exchange.opened" in text:
            opened = json.loads(text.split("event: exchange.opened\ndata: ")[1].split("\n")[0])
            shown.append((opened["exchange_id"],
                          [row["id"] for row in rows(tmp_path / "data" / "exchanges.sqlite3")]))
            disconnect.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/operator/api/events", "raw_path": b"/operator/api/events",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8000),
             "headers": [(b"host", b"127.0.0.1:8000"),
                         (b"authorization", f"Bearer {OPERATOR_TOKEN}".encode())]}
    try:
        feed = asyncio.create_task(app(scope, receive, send))
        await asyncio.wait_for(connected.wait(), 10)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            asked = asyncio.create_task(http.post("/v1/chat/completions", json=body(("user", "seen"))))
            while not runtime.switchboard.waiting():
                await asyncio.sleep(0)
            written.set()
            await asyncio.wait_for(disconnect.wait(), 10)
            [(exchange_id, in_file)] = shown
            assert in_file == [exchange_id]
            runtime.switchboard.reply(exchange_id, "answered", done=True)
            await asked
        await asyncio.wait_for(feed, 10)
    finally:
        runtime.close()
