"""A participant's (or operator's) text that a spreadsheet would run as a formula is exported to
CSV as plain text (a leading `'`), while the JSON exports keep it exactly as written."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from human_chat_completions.store import exports, queries
from human_chat_completions.store.log import ExchangeLog
from tests.store.research_log import LOG_FILE, Study
from tests.support import RunningServer

HYPERLINK = '=HYPERLINK("http://x","y")'
# (user input, operator reply): every start OWASP lists, plus texts that must stay untouched.
TURNS = [
    (HYPERLINK, "+1+1"),
    ("-2+3", "@SUM(A1:A2)"),
    ("\tcmd|' /C calc'!A0", "\r=1+1"),
    ("a = b, and 1 + 1", "'quoted already"),
]


@pytest.fixture(scope="module")
def formula_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real server, real exchanges answered through the operator API, a real SQLite log."""
    data = tmp_path_factory.mktemp("formulas") / "data"
    with RunningServer(data) as running:
        study = Study(running)
        for user_input, reply in TURNS:
            exchange_id, wait = study.send([{"role": "user", "content": user_input}],
                                           {"X-Conversation-Id": "p-formula"})
            study.operator.reply(exchange_id, reply).raise_for_status()
            assert wait().status_code == 200
        study.operator.close()
    return data


def export(data: Path, format: str) -> str:
    log = ExchangeLog(data / LOG_FILE)
    out = io.StringIO(newline="")
    exports.write(queries.iter_records(log.db, queries.Filters()), format, out)
    log.close()
    return out.getvalue()


def csv_rows(data: Path, tmp_path: Path) -> list[dict[str, str]]:
    path = tmp_path / "log.csv"
    path.write_text(export(data, "csv"), encoding="utf-8", newline="")
    with path.open(encoding="utf-8", newline="") as file:
        return sorted(csv.DictReader(file), key=lambda row: row["received_at"])


def test_a_hyperlink_formula_is_exported_as_text(formula_log, tmp_path):
    first = csv_rows(formula_log, tmp_path)[0]
    assert first["user_input"] == "'" + HYPERLINK
    assert first["final"] == "'+1+1"


def test_every_formula_start_is_neutralised_and_other_text_is_kept(formula_log, tmp_path):
    rows = csv_rows(formula_log, tmp_path)
    assert [(row["user_input"], row["final"]) for row in rows] == [
        ("'" + HYPERLINK, "'+1+1"),
        ("'-2+3", "'@SUM(A1:A2)"),
        ("'\tcmd|' /C calc'!A0", "'\r=1+1"),
        ("a = b, and 1 + 1", "'quoted already"),
    ]
    # Numbers and ids are not touched.
    assert {row["drafts"] for row in rows} == {"0"}
    assert all(row["id"].startswith("ex_") and float(row["response_seconds"]) >= 0 for row in rows)


# The preference formats only hold exchanges with drafts; these exchanges have none.
@pytest.mark.parametrize("format", ["jsonl", "openai-sft", "sharegpt"])
def test_json_exports_keep_the_text_exactly(formula_log, format):
    text = export(formula_log, format)
    found = json.dumps([json.loads(line) for line in text.splitlines()], ensure_ascii=False)
    assert json.dumps(HYPERLINK, ensure_ascii=False)[1:-1] in found
    assert "'" + HYPERLINK not in text and "'+1+1" not in text


def test_jsonl_keeps_the_request_and_reply_as_sent(formula_log):
    records = [json.loads(line) for line in export(formula_log, "jsonl").splitlines()]
    records.sort(key=lambda record: record["timestamps"]["received_at"])
    assert [(r["user_input"], r["final"]) for r in records] == TURNS
    assert records[0]["request"]["messages"] == [{"role": "user", "content": HYPERLINK}]
