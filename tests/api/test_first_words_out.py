"""A reply's first words go out first: the CPU is given away once they are written, so a local
client reads them, and an operator's Send answers the operator only after they left."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from contextlib import closing

import openai

from human_chat_completions.api import responses
from human_chat_completions.core import Mode, Switchboard
from human_chat_completions.store.log import ExchangeLog
from tests.support import Operator, RunningServer, http_chunks


def test_the_cpu_is_given_away_once_after_the_turn_that_writes_the_first_words(monkeypatch):
    given: list[float | None] = []

    async def scenario() -> None:
        switchboard = Switchboard(default_mode=Mode.AUTO)
        exchange = switchboard.open({"messages": [{"role": "user", "content": "hi"}]}, stream=True)
        monkeypatch.setattr(responses, "_GIVE_WAY", lambda: given.append(exchange.first_byte_at))
        responses.note_first_words(switchboard, exchange)
        assert given == []  # not before the write, which comes later in this turn
        await asyncio.sleep(0)
        responses.note_first_words(switchboard, exchange)  # later pieces: nothing more
        await asyncio.sleep(0)
        assert given == [exchange.first_byte_at] and exchange.first_byte_at is not None

    asyncio.run(scenario())


def test_a_sent_reply_s_first_byte_is_written_to_the_log_only_after_the_byte(tmp_path, monkeypatch):
    """An operator's Send finishes the exchange before its first byte goes out, and the log writes
    a finished exchange's change at once: the first byte's time is noted in time, but its event
    (and that write) follows the byte and the CPU given away, not in front of them."""
    order: list[str] = []

    async def scenario() -> None:
        switchboard = Switchboard(default_mode=Mode.HUMAN)
        exchange_log = ExchangeLog(tmp_path / "log.sqlite3")
        switchboard.events.listen(exchange_log.on_event)
        exchange = switchboard.open({"messages": [{"role": "user", "content": "hi"}]}, stream=True)
        switchboard.reply(exchange.id, "Hello", done=True)
        await asyncio.sleep(0.05)  # every earlier write is done
        exchange_log._db.set_trace_callback(lambda sql: order.append(sql.split()[0]))
        monkeypatch.setattr(responses, "_GIVE_WAY", lambda: order.append("give way"))
        responses.note_first_words(switchboard, exchange)
        assert exchange.first_byte_at is not None and order == []  # the byte is written now
        await asyncio.sleep(0)
        assert order[0] == "give way" and "UPDATE" in order
        [(written,)] = exchange_log.db.execute("SELECT first_byte_at FROM exchanges")
        assert written is not None
        exchange_log.close()

    asyncio.run(scenario())


def test_a_send_reaches_the_participant_before_the_operator_hears_back(tmp_path):
    """The operator's Send wakes the participant's stream; the stream writes the words before
    the operator's answer is built, so that answer already holds the first byte's time."""
    with RunningServer(tmp_path / "data") as server, closing(Operator(server.base)) as operator:
        streaming = threading.Event()
        received: list[str] = []

        def participant() -> None:
            with openai.OpenAI(base_url=server.base + "/v1", api_key="k", max_retries=0) as api:
                stream = api.chat.completions.create(
                    model="gpt-4o", stream=True, messages=[{"role": "user", "content": "Hi"}])
                streaming.set()  # the head arrived: the stream waits for the reply now
                received.extend(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

        thread = threading.Thread(target=participant, daemon=True)
        thread.start()
        [exchange] = operator.wait_for(1)
        assert streaming.wait(10)
        answered = operator.reply(exchange["id"], "Hello there").raise_for_status().json()
        assert answered["timestamps"]["first_byte_at"] is not None
        assert answered["timestamps"]["first_byte_at"] >= answered["timestamps"]["received_at"]
        thread.join(10)
        assert "".join(received) == "Hello there"


def test_the_end_of_a_stream_is_one_write(tmp_path):
    """The finish chunk, the usage chunk and [DONE] go out together: each write of its own woke
    the client once more for nothing."""
    with RunningServer(tmp_path / "data") as server, closing(Operator(server.base)) as operator:
        host, port = server.base.removeprefix("http://").split(":")
        body = json.dumps({"model": "m", "stream": True, "stream_options": {"include_usage": True},
                           "messages": [{"role": "user", "content": "Hi"}]}).encode()
        received = bytearray()

        def participant() -> None:
            with socket.create_connection((host, int(port))) as sock:
                sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k\r\n"
                             b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                while not received.endswith(b"0\r\n\r\n"):
                    received.extend(sock.recv(65536))

        thread = threading.Thread(target=participant)
        thread.start()
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], "Hello", done=False).raise_for_status()
        operator.reply(exchange["id"], " there.", done=True).raise_for_status()
        thread.join(10)
    chunks = http_chunks(bytes(received))
    assert b'"finish_reason": "stop"' in chunks[-1] and b'"usage": {' in chunks[-1]
    assert chunks[-1].endswith(b"data: [DONE]\n\n")
    assert all(b'"finish_reason": "stop"' not in chunk for chunk in chunks[:-1])
