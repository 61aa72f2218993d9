"""The operator feed's encoding: events that came together go out as one text, each exchange in
it encoded once (an event carries the exchange as it is now)."""

from __future__ import annotations

import json

from human_chat_completions.api import operator
from human_chat_completions.api.operator import EventEncoder
from human_chat_completions.core import Switchboard
from human_chat_completions.core.events import ExchangeChanged, ExchangeClosed, ExchangeOpened, ReplyDelta


async def test_a_batch_encodes_each_exchange_once_and_reads_as_the_events_one_by_one(monkeypatch):
    switchboard = Switchboard()
    first = switchboard.open({"model": "m", "messages": [{"role": "user", "content": "one"}]}, stream=True)
    second = switchboard.open({"model": "m", "messages": [{"role": "user", "content": "two"}]}, stream=True)
    switchboard.reply(first.id, "Hello.", done=True)
    events = [ExchangeOpened(first), ExchangeChanged(first), ReplyDelta(first, "Hello."), ExchangeOpened(second),
              ExchangeClosed(first)]
    one_by_one = "".join(EventEncoder(switchboard).batch([e]) for e in events)

    records = []
    real_record_of = operator.record_of
    monkeypatch.setattr(operator, "record_of", lambda *a: records.append(a[0].id) or real_record_of(*a))
    batch = EventEncoder(switchboard).batch(events)

    assert batch == one_by_one
    assert sorted(records) == sorted([first.id, second.id])
    messages = [block.split("\ndata: ", 1) for block in batch.removesuffix("\n\n").split("\n\n")]
    assert [name.removeprefix("event: ") for name, _ in messages] == [e.type for e in events]
    assert json.loads(messages[-1][1])["exchange"]["final"] == "Hello."
