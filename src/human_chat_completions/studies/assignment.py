"""Which condition each participant gets: counts differ by at most one, and the same seed always
gives the same table."""

from __future__ import annotations

import random


def balanced_latin_square(conditions: list[str]) -> list[list[str]]:
    """Williams' design: every condition once in each row and column, and (for an even count)
    each one follows every other equally often. Row i is participant i's order."""
    count = len(conditions)
    first: list[int] = []
    low, high = 0, count - 1
    for position in range(count):
        if position % 2 == 0:
            first.append(low)
            low += 1
        else:
            first.append(high)
            high -= 1
    rows = [[conditions[(index + shift) % count] for index in first] for shift in range(count)]
    if count % 2:  # an odd square is balanced only with its mirror rows added
        rows += [list(reversed(row)) for row in rows]
    return rows


def assign(participants: list[str], conditions: list[str], method: str, seed: int) -> dict[str, list[str]]:
    """participant → order of conditions (the first is theirs; a within-subject study uses the
    rest in that order)."""
    rng = random.Random(seed)
    if method == "fixed":
        return {p: _rotated(conditions, i) for i, p in enumerate(participants)}
    if method == "blocked-random":
        orders: list[list[str]] = []
        while len(orders) < len(participants):
            block = list(conditions)
            rng.shuffle(block)
            orders += [_rotated(block, i) for i in range(len(block))]
        return dict(zip(participants, orders, strict=False))
    shuffled = list(conditions)
    rng.shuffle(shuffled)  # which condition takes which place in the square
    square = balanced_latin_square(shuffled)
    # Each run of len(conditions) rows starts with every condition once (the mirror rows of an odd
    # square too), so counts differ by at most one whatever the number of participants.
    return {p: square[i % len(square)] for i, p in enumerate(participants)}


def _rotated(items: list[str], shift: int) -> list[str]:
    shift %= len(items)
    return items[shift:] + items[:shift]
