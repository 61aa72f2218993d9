"""`hcc logs`: list, show, export and stats through the CLI runner, on a log of real exchanges."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from human_chat_completions.cli import app
from tests.store.research_log import (  # noqa: F401  (fixtures)
    DISCARDED_REPLY,
    SECRET_KEY,
)

runner = CliRunner()


def hcc(*args: str, ok: bool = True):
    result = runner.invoke(app, ["logs", *args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_missing_log_is_a_clean_error(tmp_path):
    result = hcc("list", "--data-dir", str(tmp_path / "empty"), ok=False)
    assert result.exit_code != 0
    assert "no exchange log" in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert not (tmp_path / "empty").exists()  # reading never creates a log


def test_the_log_is_found_through_hcc_data_dir(research_log, monkeypatch):
    data, ids = research_log
    monkeypatch.setenv("HCC_DATA_DIR", str(data))
    result = hcc("list")
    assert ids["human"] in result.stdout and "10 exchanges" in result.stderr


def test_list_filters_and_prints_a_compact_table(research_log):
    data, ids = research_log
    result = hcc("list", "--data-dir", str(data), "--participant", "p-2")
    header, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["received", "(UTC)", "id"]
    assert [row.split()[2] for row in rows] == [ids["heavy_edit"], ids["discarded"]]
    assert "この画像は何？" in rows[0] and "edited" in rows[0]
    assert all("\n" not in row for row in rows)  # multi-line replies stay on one line
    authored = hcc("list", "--data-dir", str(data), "--author", "copilot", "--mode", "copilot")
    assert len(authored.stdout.splitlines()) == 2
    failed = hcc("list", "--data-dir", str(data), "--outcome", "failed")
    assert ids["failed"] in failed.stdout
    assert len(hcc("list", "--data-dir", str(data), "--since", "2999-01-01").stdout.splitlines()) == 1
    assert len(hcc("list", "--data-dir", str(data), "--limit", "2").stdout.splitlines()) == 3


def test_bad_dates_are_clean_errors(research_log):
    data, _ = research_log
    result = hcc("list", "--data-dir", str(data), "--since", "yesterday-ish", ok=False)
    assert result.exit_code != 0 and "--since" in result.output
    assert isinstance(result.exception, SystemExit)


def test_show_prints_the_full_record(research_log):
    data, ids = research_log
    record = json.loads(hcc("show", ids["light_edit"][:12], "--data-dir", str(data)).stdout)
    assert record["id"] == ids["light_edit"]
    assert record["drafts"][0]["text"] == "Try The Little Prince."
    assert record["final"] == "Try The Little Prince!" and record["edit_distance"] == 1
    assert set(record["timestamps"]) == {"received_at", "shown_at", "first_draft_token_at",
                                         "first_keystroke_at", "sent_at", "first_byte_at", "done_at"}
    missing = hcc("show", "ex_missing", "--data-dir", str(data), ok=False)
    assert missing.exit_code != 0 and "no exchange" in missing.output


def test_export_to_stdout_and_to_a_file(research_log, tmp_path):
    data, ids = research_log
    sft = hcc("export", "--format", "openai-sft", "--data-dir", str(data))
    rows = [json.loads(line) for line in sft.stdout.splitlines()]
    assert len(rows) == 6 and "wrote 6 openai-sft rows" in sft.stderr
    out = tmp_path / "exports" / "pairs.jsonl"
    hcc("export", "-f", "trl-preference", "--out", str(out), "--data-dir", str(data),
        "--participant", "p-2")
    pairs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [p["rejected"][0]["content"] for p in pairs] == ["わかりません。", "You are welcome."]
    everything = hcc("export", "-f", "csv", "--data-dir", str(data), "--include-unfinished")
    rows = list(csv.DictReader(io.StringIO(everything.stdout, newline="")))
    assert len(rows) == 10 and {r["outcome"] for r in rows} == {"done", "abandoned", "failed"}
    assert [r["final"] for r in rows if r["id"] == ids["discarded"]] == [DISCARDED_REPLY]
    assert SECRET_KEY not in everything.stdout
    kto = hcc("export", "-f", "trl-kto", "--kto-threshold", "0", "--data-dir", str(data))
    assert [json.loads(line)["label"] for line in kto.stdout.splitlines()] == [True, False, False, False]


def test_export_rejects_an_unknown_format(research_log):
    data, _ = research_log
    result = hcc("export", "-f", "parquet", "--data-dir", str(data), ok=False)
    assert result.exit_code != 0 and "parquet" in result.output


def test_stats(research_log):
    data, _ = research_log
    numbers = json.loads(hcc("stats", "--json", "--data-dir", str(data)).stdout)
    assert numbers["exchanges"] == 10
    assert numbers["by_author"] == {"auto": 2, "copilot": 1, "edited": 2, "human": 4, "none": 1}
    assert numbers["by_mode"] == {"auto": 1, "copilot": 4, "human": 5}
    assert numbers["median_edit_distance"] == 1 and numbers["answered"] == 8
    text = hcc("stats", "--data-dir", str(data)).stdout
    assert "exchanges: 10" in text and "median edit distance: 1 (over 3" in text
    assert f"{numbers['median_response_seconds']:.2f} s (over 8 answered)" in text
    p1 = json.loads(hcc("stats", "--json", "--participant", "p-1", "--data-dir", str(data)).stdout)
    assert p1["by_author"] == {"copilot": 1, "edited": 1, "human": 1}


def test_export_says_what_it_left_out(research_log, tmp_path):
    data, _ = research_log
    out = tmp_path / "sft.jsonl"
    result = hcc("export", "-f", "openai-sft", "--out", str(out), "--data-dir", str(data),
                 "--since", "2000-01-01")
    assert "wrote 6 openai-sft rows" in result.stderr
    assert "(left out: 2 unfinished, 1 side_request, 1 author)" in result.stderr
    meta = json.loads((tmp_path / "sft.jsonl.meta.json").read_text(encoding="utf-8"))
    assert meta["format"] == "openai-sft" and meta["selection"] == {"since": "2000-01-01"}
    assert (meta["read"], meta["written"]) == (10, 6)
    assert {rule["rule"]: rule["dropped"] for rule in meta["rules"]} == {
        "unfinished": 2, "side_request": 1, "author": 1, "no_example": 0}
    # On standard output the data stays clean: what was left out goes to standard error.
    piped = hcc("export", "-f", "openai-sft", "--data-dir", str(data))
    assert all("messages" in json.loads(line) for line in piped.stdout.splitlines())
    [meta_line] = [line for line in piped.stderr.splitlines() if line.startswith("{")]
    assert json.loads(meta_line)["rules"] == meta["rules"]


def test_export_author_and_side_request_options(research_log):
    data, _ = research_log

    def finals(*options: str) -> list[str]:
        result = hcc("export", "-f", "openai-sft", "--data-dir", str(data), *options)
        return [json.loads(line)["messages"][-1]["content"] for line in result.stdout.splitlines()]

    assert finals("--author", "auto") == ["An automatic answer."]
    assert finals("--author", "auto", "--include-side-requests") == [
        "An automatic answer.", '{"title": "New chat"}']
    assert len(finals("--author", "human,edited", "--author", "auto")) == 6
    assert len(finals("--author", "all", "--include-side-requests")) == 8
    jsonl = hcc("export", "-f", "jsonl", "--exclude-side-requests", "--data-dir", str(data))
    assert len(jsonl.stdout.splitlines()) == 7
    wrong = hcc("export", "-f", "openai-sft", "--author", "robot", "--data-dir", str(data), ok=False)
    assert wrong.exit_code != 0 and "robot" in wrong.output and "Traceback" not in wrong.output
