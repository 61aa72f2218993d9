from __future__ import annotations

import asyncio

from human_chat_completions.core.stream import ReplyStream, StreamError


async def collect(stream: ReplyStream, keepalive: float | None = None) -> list:
    return [piece async for piece in stream.pieces(keepalive)]


async def test_every_reader_gets_every_piece_even_one_that_joins_late():
    stream = ReplyStream()
    early = asyncio.create_task(collect(stream))
    stream.write("Hel")
    await asyncio.sleep(0)
    late = asyncio.create_task(collect(stream))
    stream.write("lo")
    stream.close()
    assert await early == ["Hel", "lo"]
    assert await late == ["Hel", "lo"]
    assert stream.text == "Hello" and stream.finish_reason == "stop"


async def test_silence_yields_keepalive_markers_and_failure_ends_the_stream(clock):
    stream = ReplyStream()
    reader = asyncio.create_task(collect(stream, keepalive=15))
    await clock.advance(1)  # the reader is waiting
    for _ in range(3):
        await clock.advance(15)
    stream.fail(StreamError("gone"))
    pieces = await reader
    assert pieces == [None, None, None]
    assert stream.error == StreamError("gone") and stream.closed


async def test_closed_stream_refuses_writes_and_keeps_its_first_ending():
    stream = ReplyStream()
    stream.close("length")
    stream.fail(StreamError("late"))
    assert stream.finish_reason == "length" and stream.error is None
    try:
        stream.write("x")
    except RuntimeError:
        pass
    else:
        raise AssertionError("write after close must fail")
    await asyncio.wait_for(stream.wait_closed(), 1)
