"""The log on a running loop: writes wait a turn or a few ms and go together, and nothing is lost."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from human_chat_completions.core import Switchboard
from human_chat_completions.core.exchange import Author, Mode
from human_chat_completions.store import writer
from human_chat_completions.store.log import FLUSH_SECONDS, ExchangeLog


def on_disk(path: Path, exchange_id: str) -> tuple[str, str] | None:
    """The row as another process reads the file."""
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT state, reply FROM exchanges WHERE id = ?", (exchange_id,)).fetchone()
    finally:
        db.close()


async def soon_on_disk(path: Path, exchange_id: str, within: float = 2.0) -> tuple[str, str] | None:
    """The row once the writer thread has written it (None if it has not within `within` s)."""
    deadline = time.monotonic() + within
    while (row := on_disk(path, exchange_id)) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    return row


def wired(path: Path) -> tuple[Switchboard, ExchangeLog]:
    switchboard = Switchboard()
    exchange_log = ExchangeLog(path)
    switchboard.events.listen(exchange_log.on_event)
    return switchboard, exchange_log


def ask(switchboard: Switchboard, text: str):
    return switchboard.open({"model": "m", "messages": [{"role": "user", "content": text}]}, stream=True)


async def test_a_request_is_written_two_turns_after_it_arrives(tmp_path):
    path = tmp_path / "log.sqlite3"
    switchboard, exchange_log = wired(path)
    exchange = ask(switchboard, "hello")
    assert on_disk(path, exchange.id) is None  # the request's own callbacks go first
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert on_disk(path, exchange.id) == ("waiting", "")
    exchange_log.close()


async def test_changes_go_within_a_few_ms_and_a_finished_exchange_at_once(tmp_path):
    path = tmp_path / "log.sqlite3"
    switchboard, exchange_log = wired(path)
    exchange = ask(switchboard, "hello")
    assert await soon_on_disk(path, exchange.id) == ("waiting", "")
    switchboard.reply(exchange.id, "Hi", author=Author.AUTO)
    assert on_disk(path, exchange.id) == ("waiting", "")  # not at once: within FLUSH_SECONDS
    await asyncio.sleep(FLUSH_SECONDS * 4)
    deadline = time.monotonic() + 2
    while on_disk(path, exchange.id) != ("replying", "Hi") and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    assert on_disk(path, exchange.id) == ("replying", "Hi")
    switchboard.reply(exchange.id, " there", done=True, author=Author.AUTO)
    assert on_disk(path, exchange.id) == ("done", "Hi there")  # before the client reads its end
    exchange_log.close()


async def test_reading_through_the_log_writes_what_is_pending_first(tmp_path):
    switchboard, exchange_log = wired(tmp_path / "log.sqlite3")
    exchange = ask(switchboard, "hello")
    [(state,)] = exchange_log.db.execute("SELECT state FROM exchanges WHERE id = ?", (exchange.id,))
    assert state == "waiting"
    exchange_log.close()


async def test_one_row_write_however_many_events_touched_it(tmp_path):
    switchboard, exchange_log = wired(tmp_path / "log.sqlite3")
    statements: list[str] = []
    exchange_log._db.set_trace_callback(statements.append)
    exchange = ask(switchboard, "hello")
    for word in ("one ", "two ", "three"):
        switchboard.reply(exchange.id, word, author=Author.AUTO)
    switchboard.note_first_byte(exchange)
    switchboard.reply(exchange.id, "", done=True, author=Author.AUTO)
    writes = [s for s in statements if s.startswith(("INSERT INTO exchanges", "UPDATE exchanges"))]
    assert len(writes) == 1 and writes[0].startswith("INSERT")  # written once, as it ended
    assert on_disk(tmp_path / "log.sqlite3", exchange.id) == ("done", "one two three")
    exchange_log.close()


async def test_a_write_the_file_refuses_takes_no_other_write_of_its_batch_along(tmp_path):
    path = tmp_path / "log.sqlite3"
    switchboard, exchange_log = wired(path)
    first = ask(switchboard, "logged")
    await asyncio.sleep(FLUSH_SECONDS * 4)
    pages = exchange_log.db.execute("PRAGMA page_count").fetchone()[0]
    exchange_log.db.execute(f"PRAGMA max_page_count = {pages + 1}")  # one page left
    switchboard.reply(first.id, "small", author=Author.AUTO)  # an update fits...
    refused = ask(switchboard, "x" * 200_000)  # ...a huge request in the same batch does not
    exchange_log.flush()
    assert on_disk(path, first.id) == ("replying", "small")
    assert on_disk(path, refused.id) is None and exchange_log.failure is not None
    assert not exchange_log.has_request(refused.id)
    assert exchange_log.spill_path.exists()
    exchange_log.close()


async def test_an_auto_request_is_written_after_its_first_words_not_in_front_of_them(tmp_path):
    path = tmp_path / "log.sqlite3"
    switchboard, exchange_log = wired(path)
    switchboard.set_default_mode(Mode.AUTO)
    exchange = ask(switchboard, "hello")
    for _ in range(3):
        await asyncio.sleep(0)
    assert on_disk(path, exchange.id) is None  # the upstream's first words may be on their way
    assert await soon_on_disk(path, exchange.id) == ("waiting", "")
    exchange_log.close()


async def test_batches_on_a_timer_are_written_off_the_loop_and_in_order_with_the_rest(tmp_path):
    path = tmp_path / "log.sqlite3"
    switchboard, exchange_log = wired(path)
    threads: list[tuple[str, str]] = []
    exchange_log._db.set_trace_callback(
        lambda sql: threads.append((threading.current_thread().name, sql.split()[0])))
    switchboard.set_default_mode(Mode.AUTO)  # its row waits on a timer
    exchange = ask(switchboard, "hello")
    await asyncio.sleep(FLUSH_SECONDS * 1.5)  # the request's row is handed to the writer thread...
    switchboard.reply(exchange.id, "all of it", done=True, author=Author.AUTO)  # ...the end written now
    assert on_disk(path, exchange.id) == ("done", "all of it")  # after the insert, never before it
    inserting = [name for name, verb in threads if verb == "INSERT"]
    assert inserting and all(name.startswith("exchange-log") for name in inserting)
    exchange_log.close()


async def finish_many(switchboard: Switchboard, count: int, reply: str) -> None:
    for index in range(count):
        exchange = ask(switchboard, f"question {index}")
        switchboard.reply(exchange.id, reply, done=True, author=Author.AUTO)  # written on the loop, now


async def test_a_finished_exchange_is_committed_without_a_checkpoint_on_the_loop(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "CHECKPOINT_SECONDS", 3600.0)  # the writer thread's never comes
    path = tmp_path / "log.sqlite3"
    switchboard, exchange_log = wired(path)
    await finish_many(switchboard, 300, "x" * 20_000)  # 6 MB: SQLite's own would have run at 4
    assert Path(f"{path}-wal").stat().st_size > 6_000_000
    assert path.stat().st_size < 1_000_000  # nothing was moved into the file on the way
    exchange_log.close()
    assert path.stat().st_size > 6_000_000  # all of it, at close


async def test_the_writer_thread_checkpoints_as_rows_come_in(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "CHECKPOINT_SECONDS", 0.0)
    checkpointing: list[str] = []
    checkpoint = writer.BatchWriter._checkpoint

    def traced(self: writer.BatchWriter) -> None:
        checkpointing.append(threading.current_thread().name)
        checkpoint(self)

    monkeypatch.setattr(writer.BatchWriter, "_checkpoint", traced)
    path = tmp_path / "log.sqlite3"
    switchboard, exchange_log = wired(path)
    await finish_many(switchboard, 300, "x" * 20_000)
    deadline = time.monotonic() + 10
    while path.stat().st_size < 6_000_000 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert path.stat().st_size > 6_000_000  # the rows are in the file itself, the log open
    assert checkpointing and all(name.startswith("exchange-log") for name in checkpointing)
    exchange_log.close()


async def test_a_wal_that_could_not_start_over_is_cut_back(tmp_path, monkeypatch):
    """A WAL starts over only after a checkpoint that no commit or reader got in the way of; a
    long one is checkpointed with writes held back and cut to nothing (a passive checkpoint
    never shrinks the file)."""
    monkeypatch.setattr(writer, "CHECKPOINT_SECONDS", 0.0)
    monkeypatch.setattr(writer, "WAL_LIMIT_PAGES", 1_000)
    path = tmp_path / "log.sqlite3"
    wal = Path(f"{path}-wal")
    switchboard, exchange_log = wired(path)
    await finish_many(switchboard, 1, "first")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM exchanges").fetchone()  # its snapshot pins the WAL
    await finish_many(switchboard, 300, "x" * 20_000)  # 6 MB
    assert wal.stat().st_size > 6_000_000
    reader.close()
    await finish_many(switchboard, 1, "last")  # a write, and after it a checkpoint
    deadline = time.monotonic() + 10
    while wal.stat().st_size > 1_000_000 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert wal.stat().st_size < 1_000_000  # cut, then the last rows: a passive one stays at 6 MB
    assert exchange_log.db.execute("SELECT count(*) FROM exchanges").fetchone()[0] == 302
    exchange_log.close()


async def test_a_request_is_written_once_not_again_with_each_change(tmp_path, monkeypatch):
    """SQLite writes a whole row again on every UPDATE: the request has a row of its own, so a
    reply's changes (and the commit that finishes it, on the loop) do not carry 2 MB with them."""
    monkeypatch.setattr(writer, "CHECKPOINT_SECONDS", 3600.0)  # the WAL only grows: it can be read
    path = tmp_path / "log.sqlite3"
    wal = Path(f"{path}-wal")
    switchboard, exchange_log = wired(path)
    exchange = ask(switchboard, "x" * 2_000_000)
    exchange_log.flush()
    arrived = wal.stat().st_size
    assert arrived > 2_000_000
    for words in ("Thinking", "Thinking about", "Thinking about it."):
        switchboard.reply(exchange.id, words, author=Author.AUTO)
        exchange_log.flush()
    switchboard.reply(exchange.id, "Done.", done=True, author=Author.AUTO)
    assert wal.stat().st_size - arrived < 100_000  # four changes; each would have been 2 MB
    assert exchange_log.load_request(exchange.id)["messages"][0]["content"] == "x" * 2_000_000
    exchange_log.close()


def test_a_request_reads_back_as_sent_whatever_it_holds(tmp_path):
    """Written by orjson, or by json where orjson refuses (an integer past 64 bits)."""
    exchange_log = ExchangeLog(tmp_path / "log.sqlite3")
    switchboard = Switchboard()
    switchboard.events.listen(exchange_log.on_event)
    plain = ask(switchboard, "über 世界 \"quoted\" \\ back 🎉")
    huge = switchboard.open({"model": "m", "seed": 2**70, "messages": [
        {"role": "user", "content": "über 世界 🎉"}]}, stream=False)
    assert exchange_log.load_request(plain.id) == plain.request
    assert exchange_log.load_request(huge.id) == huge.request
    stored = exchange_log.db.execute("SELECT typeof(request_json) FROM requests").fetchall()
    assert [tuple(row) for row in stored] == [("text",), ("text",)]  # as SQL's json functions need
    exchange_log.close()
