"""Where an operator's final reply differs from the copilot's draft, word by word (the log page
shows both with the changes marked)."""

from __future__ import annotations

import difflib
import re
from typing import NamedTuple

# CJK characters have no spaces between words: compare them one by one.
_TOKENS = re.compile(r"\s+|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]|\w+|[^\w\s]")


class Segment(NamedTuple):
    text: str
    kind: str  # "same", "removed" (draft only) or "added" (final only)


def words(text: str) -> list[str]:
    return _TOKENS.findall(text)


def diff_words(draft: str, final: str) -> tuple[list[Segment], list[Segment]]:
    """Word-level difference: the draft's segments (same/removed), the final's (same/added)."""
    old, new = words(draft), words(final)
    left: list[Segment] = []
    right: list[Segment] = []
    opcodes = difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes()
    for index, (op, a1, a2, b1, b2) in enumerate(opcodes):
        # A lone space matched between two changes ("Frank Herbert" → "Ursula Le Guin") would
        # split one replaced phrase into pieces; count it as part of the change.
        between_changes = 0 < index < len(opcodes) - 1 and "".join(old[a1:a2]).isspace()
        if op == "equal" and not between_changes:
            _add(left, "".join(old[a1:a2]), "same")
            _add(right, "".join(new[b1:b2]), "same")
            continue
        _add(left, "".join(old[a1:a2]), "removed")
        _add(right, "".join(new[b1:b2]), "added")
    return left, right


def _add(segments: list[Segment], text: str, kind: str) -> None:
    if not text:
        return
    if segments and segments[-1].kind == kind:
        segments[-1] = Segment(segments[-1].text + text, kind)
    else:
        segments.append(Segment(text, kind))
