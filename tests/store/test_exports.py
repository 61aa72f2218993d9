"""Export formats, read back the way a researcher would: csv module, `datasets`, schema checks."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from human_chat_completions.core.record import ExchangeRecord
from human_chat_completions.store import exports, queries
from human_chat_completions.store.log import ExchangeLog
from human_chat_completions.store.migrations import MIGRATIONS
from tests.store.research_log import (  # noqa: F401  (fixtures)
    DISCARDED_REPLY,
    LOG_FILE,
    OPERATOR_TOKEN,
    SECRET_KEY,
)

ROLES = {"system", "developer", "user", "assistant", "tool"}


def export(data: Path, format: str, include_unfinished: bool = False, **rules) -> str:
    return export_with_report(data, format, include_unfinished=include_unfinished, **rules)[0]


def export_with_report(data: Path, format: str, **rules) -> tuple[str, exports.ExportReport]:
    log = ExchangeLog(data / LOG_FILE)
    out = io.StringIO(newline="")
    report = exports.write(queries.iter_records(log.db), format, out, exports.Rules(**rules))
    log.close()
    return out.getvalue(), report


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def assert_messages(messages: list, *, last_role: str | None = None) -> None:
    assert isinstance(messages, list) and messages
    for message in messages:
        assert message["role"] in ROLES
        assert isinstance(message["content"], str), message  # text formats flatten parts
    if last_role:
        assert messages[-1]["role"] == last_role


def assert_one_reply(output: list) -> str:
    [message] = output
    assert message["role"] == "assistant" and isinstance(message["content"], str)
    assert message["content"]
    return message["content"]


def test_jsonl_holds_the_complete_record_with_the_request_as_sent(research_log):
    data, ids = research_log
    rows = {row["id"]: row for row in lines(export(data, "jsonl"))}
    assert set(rows) == {ids[name] for name in ("human", "copilot", "light_edit", "heavy_edit",
                                                "discarded", "streamed", "auto", "side")}
    assert rows[ids["side"]]["side_request"] == "openwebui-title"  # jsonl keeps side requests
    assert [r["side_request"] for r in rows.values()].count(None) == 7
    human = rows[ids["human"]]
    assert human["conversation"]["label"] == human["participant"] == "p-1"
    assert human["timestamps"]["shown_at"] and human["timestamps"]["first_keystroke_at"]
    assert human["operator_session"] == "op-session-1" and human["delivery_style"] == "live"
    assert (human["note"], human["tag"], human["author"]) == ("greeting", "warmup", "human")
    assert human["client"]["user_agent"] == "StudyApp/1.0"
    heavy = rows[ids["heavy_edit"]]
    assert [d["text"] for d in heavy["drafts"]] == ["わかりません。", "猫の写真です。"]
    assert heavy["chosen_draft_id"] == heavy["drafts"][0]["id"]
    assert heavy["drafts"][0]["first_token_at"] and heavy["drafts"][0]["done_at"]
    assert heavy["timestamps"]["first_draft_token_at"] == heavy["drafts"][0]["first_token_at"]
    assert heavy["edit_distance"] == 18 and heavy["author"] == "edited"
    # The full request keeps content parts (the image too).
    parts = heavy["request"]["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    assert rows[ids["copilot"]]["edit_distance"] == 0
    assert rows[ids["streamed"]]["stream"] is True


def test_unfinished_exchanges_only_when_asked(research_log):
    data, ids = research_log
    assert {row["outcome"] for row in lines(export(data, "jsonl"))} == {"done"}
    everything = {row["id"]: row for row in lines(export(data, "jsonl", include_unfinished=True))}
    assert len(everything) == 10
    assert everything[ids["abandoned"]]["outcome"] == "abandoned"
    assert everything[ids["abandoned"]]["final"] == "Yes, I"  # what the participant did get
    assert everything[ids["failed"]]["error"] == "Declined."


def test_openai_sft_is_the_chat_fine_tuning_shape(research_log):
    data, _ = research_log
    rows = lines(export(data, "openai-sft"))
    assert len(rows) == 6  # by default neither the auto answer nor the side request
    for row in rows:
        assert set(row) == {"messages"}
        assert_messages(row["messages"], last_role="assistant")
        assert row["messages"][-2]["role"] == "user"
    finals = [row["messages"][-1]["content"] for row in rows]
    assert finals[3] == "これは富士山の写真です。きれいですね。"
    # Content parts flattened to their text; the image is not text and is left out.
    assert rows[3]["messages"][1] == {"role": "user", "content": "この画像は何？"}


@pytest.mark.parametrize("format", ["openai-dpo", "trl-preference"])
def test_preference_pairs_come_from_edited_or_discarded_drafts(research_log, format):
    data, _ = research_log
    rows = lines(export(data, format))
    pairs = []
    for row in rows:
        if format == "openai-dpo":
            assert set(row) == {"input", "preferred_output", "non_preferred_output"}
            assert set(row["input"]) == {"messages"}
            prompt = row["input"]["messages"]
            good, bad = row["preferred_output"], row["non_preferred_output"]
        else:
            assert set(row) == {"prompt", "chosen", "rejected"}
            prompt, good, bad = row["prompt"], row["chosen"], row["rejected"]
        assert_messages(prompt, last_role="user")
        pairs.append((assert_one_reply(good), assert_one_reply(bad)))
    # light edit, heavy edit, discarded; the draft sent unchanged makes no pair.
    assert pairs == [
        ("Try The Little Prince!", "Try The Little Prince."),
        ("これは富士山の写真です。きれいですね。", "わかりません。"),
        (DISCARDED_REPLY, "You are welcome."),
    ]


def test_kto_labels_follow_the_edit_ratio(research_log):
    data, _ = research_log

    def labels(**options) -> list[tuple[str, bool]]:
        rows = lines(export(data, "trl-kto", **options))
        for row in rows:
            assert set(row) == {"prompt", "completion", "label"}
            assert_messages(row["prompt"], last_role="user")
            assert isinstance(row["label"], bool)
        return [(assert_one_reply(row["completion"]), row["label"]) for row in rows]

    assert labels() == [("Try Dune by Frank Herbert.", True), ("Try The Little Prince.", True),
                        ("わかりません。", False), ("You are welcome.", False)]
    # Threshold 0: only drafts sent exactly as they were count as accepted.
    assert [label for _, label in labels(kto_threshold=0.0)] == [True, False, False, False]
    # Even a lenient threshold does not accept a discarded draft.
    assert [label for _, label in labels(kto_threshold=1.0)] == [True, True, True, False]


def test_sharegpt_turns(research_log):
    data, _ = research_log
    rows = lines(export(data, "sharegpt"))
    assert len(rows) == 6
    for row in rows:
        assert set(row) == {"conversations"}
        for turn in row["conversations"]:
            assert set(turn) == {"from", "value"} and isinstance(turn["value"], str)
            assert turn["from"] in {"system", "human", "gpt", "function_call", "observation"}
        assert row["conversations"][-1]["from"] == "gpt"
    assert rows[0]["conversations"] == [
        {"from": "system", "value": "You are a helpful assistant."},
        {"from": "human", "value": "hello"},
        {"from": "gpt", "value": "Hi! How can I help?"},
    ]


def test_csv_reads_back_with_quoting_and_utf8(research_log, tmp_path):
    data, ids = research_log
    path = tmp_path / "log.csv"
    path.write_text(export(data, "csv", include_unfinished=True), encoding="utf-8", newline="")
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 10 and list(rows[0]) == list(exports.CSV_COLUMNS)
    assert [r["side_request"] for r in rows if r["id"] == ids["side"]] == ["openwebui-title"]
    by_id = {row["id"]: row for row in rows}
    discarded = by_id[ids["discarded"]]
    assert discarded["final"] == DISCARDED_REPLY and discarded["user_input"] == "ありがとう"
    assert (discarded["author"], discarded["draft"], discarded["drafts"]) == ("human", "", "1")
    edited = by_id[ids["heavy_edit"]]
    assert (edited["draft"], edited["edit_distance"]) == ("わかりません。", "18")
    assert edited["participant"] == "p-2"
    assert float(edited["response_seconds"]) >= 0
    assert by_id[ids["failed"]]["outcome"] == "failed" and by_id[ids["failed"]]["response_seconds"] == ""


@pytest.mark.parametrize("format", exports.FORMATS)
def test_no_export_holds_a_key_or_the_operator_token(research_log, format):
    data, _ = research_log
    db = sqlite3.connect(data / LOG_FILE)
    [masked] = {row[0] for row in db.execute("SELECT api_key_masked FROM exchanges") if row[0]}
    db.close()
    text = export(data, format, include_unfinished=True)
    assert text
    for secret in (SECRET_KEY, masked, OPERATOR_TOKEN, "api_key"):
        assert secret not in text


@pytest.mark.slow  # imports Hugging Face datasets (and pyarrow): seconds
@pytest.mark.parametrize("format", [f for f in exports.FORMATS if f != "csv"])
def test_jsonl_formats_load_with_hugging_face_datasets(research_log, format, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    data, _ = research_log
    path = tmp_path / f"{format}.jsonl"
    path.write_text(export(data, format, include_unfinished=True), encoding="utf-8")
    expected = len(path.read_text(encoding="utf-8").splitlines())
    loaded = datasets.load_dataset("json", data_files=str(path), split="train",
                                   cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == expected > 0
    columns = {
        "jsonl": {"id", "request", "drafts", "final", "timestamps", "outcome"},
        "openai-sft": {"messages"},
        "openai-dpo": {"input", "preferred_output", "non_preferred_output"},
        "trl-preference": {"prompt", "chosen", "rejected"},
        "trl-kto": {"prompt", "completion", "label"},
        "sharegpt": {"conversations"},
    }[format]
    assert columns <= set(loaded.column_names)
    if format == "trl-kto":
        assert loaded.features["label"].dtype == "bool"


def test_a_log_from_the_oldest_schema_migrates_and_exports(tmp_path):
    path = tmp_path / "old" / LOG_FILE
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    name, first_step = MIGRATIONS[0]
    first_step(db)
    db.execute("INSERT INTO _migrations VALUES (?, '2025-01-01T00:00:00+00:00')", (name,))
    db.execute("INSERT INTO conversations VALUES ('conv_old', '#1', NULL, 'human', "
               "'2025-01-01T00:00:00.000+00:00')")
    request = {"model": "human", "messages": [{"role": "user", "content": "old times"}],
               "temperature": 0.2}
    db.execute(
        """INSERT INTO exchanges (id, conversation_id, state, mode, author, model, stream,
               request_json, user_input, reply, finish_reason, api_key_masked, received_at,
               first_byte_at, done_at)
           VALUES ('ex_old', 'conv_old', 'done', 'human', 'human', 'human', 0, ?, 'old times',
               'still here', 'stop', 'sk-…-old', '2025-01-01T00:00:01.000+00:00',
               '2025-01-01T00:00:05.000+00:00', '2025-01-01T00:00:04.500+00:00')""",
        (json.dumps(request),),
    )
    db.commit()
    db.close()

    [old] = lines(export(path.parent, "jsonl"))
    assert old["request"] == request and old["final"] == "still here"
    assert old["drafts"] == [] and old["edit_distance"] is None and old["note"] is None
    assert ExchangeRecord.model_validate(old).response_seconds() == 3.5
    assert lines(export(path.parent, "openai-sft")) == [{"messages": [
        {"role": "user", "content": "old times"}, {"role": "assistant", "content": "still here"}]}]
    assert export(path.parent, "trl-preference") == ""
    assert "sk-" not in export(path.parent, "csv")
