"""Exports that know what they hold: side requests and authors left out of training data by
default, and a count of what each rule dropped."""

from __future__ import annotations

import csv
import io
import json

import pytest

from human_chat_completions.store import exports
from tests.store.research_log import TITLE_REQUEST
from tests.store.test_exports import export_with_report, lines

# The research log's done exchanges by author: human, copilot, light_edit (edited), heavy_edit
# (edited), discarded (human, drafts not taken), streamed (human), auto, side (auto, a side
# request). Plus abandoned (human) and failed (no author), which are unfinished.
REPLIES = {"human": "Hi! How can I help?", "copilot": "Try Dune by Frank Herbert.",
           "light_edit": "Try The Little Prince!", "heavy_edit": "これは富士山の写真です。きれいですね。",
           "discarded": 'どういたしまして！\n"Enjoy Fuji," she said.', "streamed": "streamed answer",
           "auto": "An automatic answer.", "side": '{"title": "New chat"}'}


def replies_in(text: str, format: str) -> list[str]:
    """Which research-log exchanges a training export holds, by their final reply."""
    by_reply = {reply: name for name, reply in REPLIES.items()}
    found = []
    for row in lines(text):
        if format == "sharegpt":
            reply = row["conversations"][-1]["value"]
        elif format == "openai-dpo":
            reply = row["preferred_output"][0]["content"]
        elif format == "trl-preference":
            reply = row["chosen"][0]["content"]
        elif format == "trl-kto":
            found.append(row["completion"][0]["content"])  # a draft, not a reply: as it is
            continue
        else:
            reply = row["messages"][-1]["content"]
        found.append(by_reply.get(reply, reply))
    return found


def is_title_request(row: dict) -> bool:
    return TITLE_REQUEST in json.dumps(row, ensure_ascii=False)


@pytest.mark.parametrize("format", exports.TRAINING_FORMATS)
def test_a_side_request_is_left_out_of_training_data_unless_asked(research_log, format):
    data, _ = research_log
    text, report = export_with_report(data, format)
    assert not any(map(is_title_request, lines(text)))
    assert report.dropped["side_request"] == 1
    # Asked for, it still has to pass the author rule: a canned reply is `auto`.
    text, report = export_with_report(data, format, include_side_requests=True)
    assert not any(map(is_title_request, lines(text)))
    assert report.dropped["author"] == 2 and "side_request" not in report.dropped
    text, report = export_with_report(data, format, include_side_requests=True, authors=("auto",))
    if format in ("openai-sft", "sharegpt"):
        assert replies_in(text, format) == ["auto", "side"]
    else:  # the preference formats need drafts, and neither auto answer has any
        assert text == "" and report.dropped["no_example"] == 2


def test_jsonl_keeps_side_requests_unless_told_not_to(research_log):
    data, ids = research_log
    assert ids["side"] in {row["id"] for row in lines(export_with_report(data, "jsonl")[0])}
    text, report = export_with_report(data, "jsonl", include_side_requests=False)
    assert ids["side"] not in {row["id"] for row in lines(text)} and len(lines(text)) == 7
    assert report.dropped == {"unfinished": 2, "side_request": 1}


@pytest.mark.parametrize(("format", "authors", "expected"), [
    # Default for training: human, edited and copilot; never auto unless asked.
    ("openai-sft", None, ["human", "copilot", "light_edit", "heavy_edit", "discarded", "streamed"]),
    ("openai-sft", ("human",), ["human", "discarded", "streamed"]),
    ("openai-sft", ("edited",), ["light_edit", "heavy_edit"]),
    ("openai-sft", ("auto",), ["auto"]),
    ("openai-sft", (), ["human", "copilot", "light_edit", "heavy_edit", "discarded", "streamed",
                        "auto"]),
    ("sharegpt", None, ["human", "copilot", "light_edit", "heavy_edit", "discarded", "streamed"]),
    ("sharegpt", ("copilot", "auto"), ["copilot", "auto"]),
    ("openai-dpo", None, ["light_edit", "heavy_edit", "discarded"]),
    ("openai-dpo", ("human",), ["discarded"]),
    ("trl-preference", ("edited",), ["light_edit", "heavy_edit"]),
    ("trl-preference", ("copilot",), []),  # sent as is: no rejected draft
    # KTO's completions are drafts: sent as is, lightly edited, heavily edited, discarded.
    ("trl-kto", None, ["Try Dune by Frank Herbert.", "Try The Little Prince.", "わかりません。",
                       "You are welcome."]),
    ("trl-kto", ("copilot",), ["Try Dune by Frank Herbert."]),
    ("trl-kto", ("edited",), ["Try The Little Prince.", "わかりません。"]),
])
def test_the_author_filter_per_format(research_log, format, authors, expected):
    data, _ = research_log
    text, report = export_with_report(data, format, authors=authors)
    assert replies_in(text, format) == expected
    assert report.read == report.written + sum(report.dropped.values()) == 10


@pytest.mark.parametrize(("format", "authors", "rows"), [
    ("jsonl", None, 8), ("csv", None, 8), ("jsonl", ("human",), 3), ("csv", ("auto",), 2)])
def test_the_record_formats_keep_every_author_unless_asked(research_log, format, authors, rows):
    data, _ = research_log
    text, report = export_with_report(data, format, authors=authors)
    found = list(csv.DictReader(io.StringIO(text, newline=""))) if format == "csv" else lines(text)
    assert len(found) == report.written == rows


def test_the_report_counts_what_each_rule_dropped(research_log):
    data, _ = research_log
    _, report = export_with_report(data, "openai-dpo")
    meta = report.meta({"participant": None, "since": "2025-01-01"})
    assert meta["format"] == "openai-dpo" and meta["selection"] == {"since": "2025-01-01"}
    assert (meta["read"], meta["written"]) == (10, 3)
    assert [(rule["rule"], rule["dropped"]) for rule in meta["rules"]] == [
        ("unfinished", 2), ("side_request", 1), ("author", 1), ("no_example", 3)]
    assert [rule["keep_with"] for rule in meta["rules"]] == [
        "--include-unfinished", "--include-side-requests", "--author", None]
    assert "human, copilot, edited" in meta["rules"][2]["description"]
    _, everything = export_with_report(data, "openai-sft", include_unfinished=True,
                                       include_side_requests=True, authors=())
    # Nothing left out but what makes no example: the failed exchange has no reply.
    assert everything.dropped == {"no_example": 1} and everything.written == 9
