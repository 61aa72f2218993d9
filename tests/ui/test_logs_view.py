"""The log page's logic without a browser: search, draft/final word diff, export."""

from __future__ import annotations

import json

import flet as ft

from human_chat_completions.store.log import ExchangeLog
from human_chat_completions.ui.i18n import LOGS_STRINGS, Translator
from human_chat_completions.ui.logs_view import LogsView, Segment, diff_words
from tests.store.research_log import (  # noqa: F401  (fixtures)
    LOG_FILE,
    research_log,
    research_log_template,
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
    assert len(view.table.rows) == 9 and view.count.value == "Showing 9 of 9 exchanges"
    assert view.table.rows[0].data == ids["auto"]  # newest first
    view.set_query("P-2 edited")  # every term, any case
    assert [r["id"] for r in view.visible()] == [ids["heavy_edit"]]
    view.set_query("welcome")  # draft text counts too
    assert [r["id"] for r in view.visible()] == [ids["discarded"]]
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
    assert final_text.spans[1].style.bgcolor == ft.Colors.GREEN_100
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
    view.set_query("")
    assert view.export("csv", include_unfinished=True).read_text(encoding="utf-8").count("ex_") == 9
    log.close()


def test_every_string_has_english_and_japanese():
    for key, (english, japanese) in LOGS_STRINGS.items():
        assert key.startswith("logs_") and english and japanese and english != japanese
