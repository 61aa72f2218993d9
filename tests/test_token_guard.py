"""Wrong operator tokens slow down: 10 failures from one address in a minute, then 429."""

from __future__ import annotations

import httpx

from human_chat_completions.token_guard import TokenGuard
from tests.support import OPERATOR_TOKEN


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_guard_counts_failures_in_a_sliding_minute():
    clock = Clock()
    guard = TokenGuard(clock=clock)
    for _ in range(9):
        guard.failed("192.0.2.1")
        clock.now += 1
    assert guard.wait_seconds("192.0.2.1") == 0
    guard.failed("192.0.2.1")
    assert 50 < guard.wait_seconds("192.0.2.1") <= 60
    assert guard.wait_seconds("192.0.2.2") == 0  # other addresses are not affected
    clock.now += 51  # the first failure leaves the minute
    assert guard.wait_seconds("192.0.2.1") == 0


def test_operator_api_answers_429_after_ten_wrong_tokens(server):
    with httpx.Client(base_url=server.base + "/operator/api") as http:
        statuses = [http.get("/exchanges", headers={"Authorization": f"Bearer guess-{n}"}).status_code
                    for n in range(12)]
        assert statuses[:10] == [401] * 10
        assert statuses[10:] == [429, 429]
        blocked = http.get("/exchanges", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
        assert blocked.status_code == 429  # even the right token waits: guessing must not go on
        error = blocked.json()["error"]
        assert error["code"] == "too_many_wrong_tokens" and "try again in" in error["message"]


def test_a_forwarded_for_header_does_not_make_a_guesser_someone_else(server):
    """Nothing sits in front of this server: a local process that names another address in
    X-Forwarded-For for each guess is still 127.0.0.1 to the guard."""
    with httpx.Client(base_url=server.base + "/operator/api") as http:
        statuses = [http.get("/exchanges", headers={"Authorization": f"Bearer guess-{n}",
                                                     "X-Forwarded-For": f"192.0.2.{n}",
                                                     "X-Forwarded-Proto": "https"}).status_code
                    for n in range(12)]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
