"""The log page's logic without a browser: search, draft/final word diff, export."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import flet as ft

from human_chat_completions.core import Switchboard
from human_chat_completions.store import exports, queries
from human_chat_completions.store.log import ExchangeLog
from human_chat_completions.ui.i18n import LOGS_STRINGS, Translator
from human_chat_completions.ui.logs_view import (
    COLUMNS,
    PAGE_SIZE,
    LogsView,
    column_widths,
)
from human_chat_completions.ui.word_diff import Segment, diff_words
from tests.store.research_log import (  # noqa: F401  (fixtures)
    LOG_FILE,
)


def test_word_diff_marks_removed_and_added_words():
    draft, final = diff_words("Try Dune by Frank Herbert.", "Try Dune by Ursula Le Guin.")
    assert draft == [Segment("Try Dune by ", "same"), Segment("Frank Herbert", "removed"),
                     Segment(".", "same")]
    assert final == [Segment("Try Dune by ", "same"), Segment("Ursula Le Guin", "added"),
                     Segment(".", "same")]
    # Each side joins back to its own text.
    assert "".join(s.text for s in draft) == "Try Dune by Frank Herbert."


def test_word_diff_compares_japanese_by_character():
    draft, final = diff_words("猫の写真です。", "犬の写真です。")
    assert draft == [Segment("猫", "removed"), Segment("の写真です。", "same")]
    assert final == [Segment("犬", "added"), Segment("の写真です。", "same")]
    assert diff_words("same", "same") == ([Segment("same", "same")], [Segment("same", "same")])


def test_search_and_selection_on_real_exchanges(research_log):
    data, ids = research_log
    view = LogsView(data / LOG_FILE, Translator("en"))
    assert len(view.table.rows) == 10 and view.count.value == "Showing 1–10 of 10 exchanges"
    assert view.table.rows[0].data == ids["side"]  # newest first
    view.set_query("P-2 edited")  # every term, any case
    assert [r.id for r in view.visible()] == [ids["heavy_edit"]]
    assert view.count.value == "Showing 1–1 of 1 matching (10 in the log)"
    view.set_query("welcome")  # draft text counts too
    assert [r.id for r in view.visible()] == [ids["discarded"]]
    view.set_query("nothing like this")
    assert view.visible() == [] and view.count.value == "No exchange matches (10 in the log)."
    view.set_query("")
    view.select(ids["light_edit"])
    header, boxes, distance = view.detail.controls
    user_box, draft_box, final_box = boxes.controls
    draft_text = draft_box.content.controls[1]
    final_text = final_box.content.controls[1]
    assert [(s.text, s.style is None) for s in draft_text.spans] == [
        ("Try The Little Prince", True), (".", False)]
    assert draft_text.spans[1].style.decoration == ft.TextDecoration.LINE_THROUGH
    assert [s.text for s in final_text.spans] == ["Try The Little Prince", "!"]
    assert final_text.spans[1].style.bgcolor == ft.Colors.SECONDARY_CONTAINER
    assert distance.value == "Edit distance: 1"
    view.select(ids["human"])  # no draft: the reply is shown whole
    assert "No draft" in view.detail.controls[1].controls[1].content.controls[1].value


def test_export_writes_into_the_data_dirs_exports_folder(research_log):
    data, _ = research_log
    log = ExchangeLog(data / LOG_FILE)
    view = LogsView(log, Translator("ja"))
    view.set_query("p-1")
    path = view.export("openai-sft")
    assert path is not None and path.parent == data / "exports"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [row["messages"][-1]["content"] for row in rows] == [
        "Hi! How can I help?", "Try Dune by Frank Herbert.", "Try The Little Prince!"]
    assert str(path) in view.export_message.value and "書き出しました" in view.export_message.value
    meta = json.loads(exports.meta_path(path).read_text(encoding="utf-8"))
    assert meta["selection"] == {"search": "p-1"} and (meta["read"], meta["written"]) == (3, 3)
    view.set_query("")
    assert view.export("csv", include_unfinished=True).read_text(encoding="utf-8").count("ex_") == 10
    # Every page of the search is exported, not just the one shown; the message says what was
    # left out and where to read why.
    sft = view.export("openai-sft")
    assert len(sft.read_text(encoding="utf-8").splitlines()) == 6
    assert "4 件を除外" in view.export_message.value and sft.name + ".meta.json" in view.export_message.value
    log.close()


def small_log(path: Path, count: int) -> None:
    """`count` answered exchanges, written the way a running server writes them."""
    log = ExchangeLog(path)
    switchboard = Switchboard()
    switchboard.events.listen(log.on_event)
    for index in range(count):
        exchange = switchboard.open({"model": "m", "messages": [
            {"role": "user", "content": f"question {index}"}]}, stream=False, identity=f"p-{index % 3}")
        switchboard.reply(exchange.id, f"answer {index}", done=True)
    log.close()


def test_the_log_is_read_a_page_at_a_time(tmp_path):
    small_log(tmp_path / LOG_FILE, 250)
    view = LogsView(tmp_path / LOG_FILE, Translator("en"))
    assert view.count.value == f"Showing 1–{PAGE_SIZE} of 250 exchanges"
    assert view.records[0].user_input == "question 249" and view.newer.disabled
    view.turn(1)
    assert view.count.value == "Showing 101–200 of 250 exchanges"
    view.turn(1)
    assert [r.user_input for r in view.records][-1] == "question 0" and view.older.disabled
    view.turn(1)  # past the last page: stays on it
    assert view.count.value == "Showing 201–250 of 250 exchanges"
    view.set_query("p-1")  # a search starts again from the newest
    assert view.count.value == "Showing 1–83 of 83 matching (250 in the log)"


def test_pages_are_read_in_a_worker_thread_never_on_the_event_loop(tmp_path, monkeypatch):
    small_log(tmp_path / LOG_FILE, 5)
    reads: list[tuple[str, int | None]] = []
    iter_records = queries.iter_records

    def spy(*args, **kwargs):
        reads.append((threading.current_thread().name, kwargs.get("limit")))
        return iter_records(*args, **kwargs)

    monkeypatch.setattr(queries, "iter_records", spy)

    async def in_the_window() -> None:
        view = LogsView(tmp_path / LOG_FILE, Translator("en"))
        assert view.shown is None and reads == []  # the loop only scheduled the read
        assert view.count.value == "Reading the log…"
        await view._loading
        assert len(view.records) == 5
        view.set_query("P-2")
        await view._loading
        assert [r.user_input for r in view.records] == ["question 2"]
        await view.export_async("jsonl")

    asyncio.run(in_the_window())
    loop_thread = threading.current_thread().name
    assert [limit for _, limit in reads] == [PAGE_SIZE, PAGE_SIZE, None]  # the export reads all
    assert all(thread != loop_thread for thread, _ in reads)


def test_every_string_has_english_and_japanese():
    for key, (english, japanese) in LOGS_STRINGS.items():
        assert key.startswith("logs_") and english and japanese and english != japanese


def test_the_detail_clears_when_its_record_leaves_the_results(research_log):
    data, ids = research_log
    view = LogsView(data / LOG_FILE, Translator("en"))
    view.select(ids["light_edit"])
    assert view.selected_record() is not None
    view.set_query("P-2")  # light_edit is P-1's
    assert view.selected is None and view.detail.controls[0].value == Translator("en")("logs_select")
    view.set_query("")
    assert view.selected is None  # cleared, not merely hidden


def test_columns_resize_in_place(research_log):
    data, _ = research_log
    view = LogsView(data / LOG_FILE, Translator("en"))
    first = view.table.rows[0]
    assert view.fit(1800) and not view.fit(1800)
    assert view.table.rows[0] is first  # the same rows: a click landing meanwhile still counts
    widths = column_widths(1800)
    assert [cell.content.width for cell in first.cells] == [widths[key] for key in COLUMNS]
