"""The operator's side of a compatibility test: answer the next request in several pieces."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from tests.support import Operator

T = TypeVar("T")

# Several pieces with `done: false`, then the last with `done: true`; non-ASCII on purpose.
PIECES = ["The answer ", "is forty-", "two — ", "答えは", "42です。"]
ANSWER = "".join(PIECES)

# Client name → version, filled by the tests and printed at the end of the run (conftest.py).
VERSIONS: dict[str, str] = {}


def answer(operator: Operator, pieces: list[str] = PIECES, count: int = 1) -> dict[str, Any]:
    """Wait for the `count`-th exchange, answer it piece by piece, and return it as first seen."""
    waiting = operator.wait_for(count, timeout=60)
    exchange = waiting[-1]
    for piece in pieces[:-1]:
        operator.reply(exchange["id"], piece, done=False).raise_for_status()
    operator.reply(exchange["id"], pieces[-1], done=True).raise_for_status()
    return exchange


def answered_call(operator: Operator, call: Callable[[], T], pieces: list[str] = PIECES) -> tuple[T, dict]:
    """Run a client call in a thread, answer it as the operator, and check it was one exchange."""
    before = len(operator.exchanges())
    with ThreadPoolExecutor(1) as pool:
        future: Future[T] = pool.submit(call)
        exchange = answer(operator, pieces)
        result = future.result(timeout=120)
    after = operator.exchanges()
    assert len(after) == before + 1, f"the operator saw {len(after) - before} exchanges, not one"
    assert after[-1]["outcome"] == "done"
    return result, exchange
