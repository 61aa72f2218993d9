"""The log page: every logged exchange, searchable; one exchange's draft and reply compared; export.

The logic (search, word diff, export) lives in plain functions and methods that need no page, so it
is testable without a browser; the widgets only render `self.records` and `self.selected`.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import flet as ft

from human_chat_completions.store import exports, queries
from human_chat_completions.store.log import ExchangeLog
from human_chat_completions.ui.i18n import Translator

MAX_ROWS = 500  # a DataTable gets slow beyond a few hundred rows; search narrows the rest

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


def matches(record: dict[str, Any], query: str) -> bool:
    """Every whitespace-separated term of `query` appears (any case) somewhere in the record."""
    haystack = " ".join(str(value or "") for value in (
        record["id"], record["participant"], record["user_input"], record["final"],
        record["author"], record["mode"], record["outcome"], record["note"], record["tag"],
        *(draft["text"] for draft in record["drafts"]),
    )).casefold()
    return all(term in haystack for term in query.casefold().split())


def shown_draft(record: dict[str, Any]) -> dict[str, Any] | None:
    """The draft to compare with the reply: the one the operator took, else the first one."""
    return queries.chosen_draft(record) or (record["drafts"][0] if record["drafts"] else None)


def local_time(stamp: str | None) -> str:
    if not stamp:
        return ""
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


_STYLES = {
    "same": None,
    "removed": ft.TextStyle(bgcolor=ft.Colors.RED_100, color=ft.Colors.RED_900,
                            decoration=ft.TextDecoration.LINE_THROUGH),
    "added": ft.TextStyle(bgcolor=ft.Colors.GREEN_100, color=ft.Colors.GREEN_900),
}


def spans(segments: list[Segment]) -> list[ft.TextSpan]:
    return [ft.TextSpan(segment.text, style=_STYLES[segment.kind]) for segment in segments]


def _short(text: str | None, limit: int = 60) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class LogsView:
    """The exchange log as a page. `.view` is the control to place in the window.

    `source`: the running server's `ExchangeLog` (shares its connection, on the server's loop), a
    path to a log file, or an open connection. `exports_dir`: where Export writes (default: an
    `exports` folder beside the log file, i.e. in the data dir).
    """

    def __init__(self, source: ExchangeLog | Path | str | sqlite3.Connection, t: Translator,
                 exports_dir: Path | None = None) -> None:
        self.t = t
        if isinstance(source, ExchangeLog):
            self.db, log_path = source.db, source.path
        elif isinstance(source, sqlite3.Connection):
            self.db, log_path = source, None
        else:
            log_path = Path(source)
            self.db = sqlite3.connect(f"file:{log_path}?mode=ro", uri=True, check_same_thread=False)
        if exports_dir is None:
            from human_chat_completions.config import data_dir

            exports_dir = (log_path.parent if log_path else data_dir()) / "exports"
        self.exports_dir = exports_dir
        self.records: list[dict[str, Any]] = []
        self.query = ""
        self.selected: str | None = None

        self.search = ft.TextField(hint_text=self.t("logs_search"), prefix_icon=ft.Icons.SEARCH,
                                   expand=True, on_change=self._on_search)
        self.count = ft.Text("")
        self.table = ft.DataTable(
            columns=[ft.DataColumn(label=ft.Text(self.t(key))) for key in (
                "logs_col_time", "logs_col_participant", "logs_col_input", "logs_col_final",
                "logs_col_author", "logs_col_outcome")],
            rows=[], show_checkbox_column=False, column_spacing=16,
        )
        self.detail = ft.Column([ft.Text(self.t("logs_select"))], spacing=8)
        self.format = ft.Dropdown(
            label=self.t("logs_export_format"), value="jsonl", width=200,
            options=[ft.DropdownOption(key=name, text=name) for name in exports.FORMATS])
        self.include_unfinished = ft.Checkbox(label=self.t("logs_include_unfinished"), value=False)
        self.export_message = ft.Text("", selectable=True)
        self.view = ft.Column(
            [
                ft.Text(self.t("logs_title"), size=20, weight=ft.FontWeight.BOLD),
                ft.Row([self.search, ft.IconButton(ft.Icons.REFRESH, tooltip=self.t("logs_refresh"),
                                                   on_click=lambda _e: self.reload())]),
                self.count,
                ft.Container(ft.Row([self.table], scroll=ft.ScrollMode.AUTO), height=320),
                ft.Divider(),
                self.detail,
                ft.Divider(),
                ft.Row([self.format, self.include_unfinished,
                        ft.Button(self.t("logs_export"), icon=ft.Icons.DOWNLOAD,
                                  on_click=lambda _e: self.export())], wrap=True),
                self.export_message,
            ],
            scroll=ft.ScrollMode.AUTO, expand=True, spacing=12,
        )
        self.reload()

    # -- state ----------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the log again (new exchanges arrive while the page is open)."""
        self.records = queries.records(self.db)
        self.render()

    def visible(self) -> list[dict[str, Any]]:
        """Records matching the search, newest first."""
        return [record for record in reversed(self.records) if matches(record, self.query)]

    def set_query(self, query: str) -> None:
        self.query = query
        self.render()

    def select(self, exchange_id: str | None) -> None:
        self.selected = exchange_id
        self.render()

    def selected_record(self) -> dict[str, Any] | None:
        return next((r for r in self.records if r["id"] == self.selected), None)

    def export(self, format: str | None = None, include_unfinished: bool | None = None) -> Path | None:
        """Write the records matching the search to `exports_dir`; return the file written."""
        format = format or self.format.value or "jsonl"
        if include_unfinished is None:
            include_unfinished = bool(self.include_unfinished.value)
        chosen = [record for record in reversed(self.visible())
                  if include_unfinished or record["outcome"] not in queries.UNFINISHED]
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.exports_dir / f"exchanges-{stamp}-{format}.{exports.EXTENSIONS[format]}"
        try:
            self.exports_dir.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8", newline="") as file:
                count = exports.write(chosen, format, file)
        except OSError as error:
            self.export_message.value = self.t("logs_export_failed", error=error)
            self.export_message.color = ft.Colors.RED_700
            self._update()
            return None
        self.export_message.value = self.t("logs_exported", count=count, path=path)
        self.export_message.color = ft.Colors.GREEN_700
        self._update()
        return path

    # -- rendering ------------------------------------------------------------------------------

    def render(self) -> None:
        shown = self.visible()
        self.count.value = (self.t("logs_showing", shown=min(len(shown), MAX_ROWS),
                                    total=len(self.records))
                            if self.records else self.t("logs_empty"))
        self.table.rows = [self._row(record) for record in shown[:MAX_ROWS]]
        self.detail.controls = self._detail(self.selected_record())
        self._update()

    def _row(self, record: dict[str, Any]) -> ft.DataRow:
        cells = (local_time(record["timestamps"]["received_at"]), record["participant"] or "",
                 _short(record["user_input"]), _short(record["final"]), record["author"] or "",
                 record["outcome"])
        return ft.DataRow(cells=[ft.DataCell(ft.Text(value)) for value in cells],
                          selected=record["id"] == self.selected, data=record["id"],
                          on_select_change=self._on_row)

    def _detail(self, record: dict[str, Any] | None) -> list[ft.Control]:
        if record is None:
            return [ft.Text(self.t("logs_select"))]
        draft = shown_draft(record)
        if draft is not None:
            left, right = diff_words(draft["text"], record["final"])
            draft_box = self._box(self.t("logs_draft", profile=draft["profile"]),
                                  ft.Text(spans=spans(left), selectable=True))
        else:
            right = [Segment(record["final"], "same")]
            draft_box = self._box(self.t("logs_draft", profile="-"),
                                  ft.Text(self.t("logs_no_draft"), italic=True))
        controls: list[ft.Control] = [
            ft.Text(f"{record['id']} · {record['participant']} · {record['mode']} · "
                    f"{record['author'] or '-'} · {record['outcome']}", selectable=True),
            ft.Row([
                self._box(self.t("logs_user_input"), ft.Text(record["user_input"], selectable=True)),
                draft_box,
                self._box(self.t("logs_final"), ft.Text(spans=spans(right), selectable=True)),
            ], vertical_alignment=ft.CrossAxisAlignment.START),
        ]
        if record["edit_distance"] is not None:
            controls.append(ft.Text(self.t("logs_edit_distance", distance=record["edit_distance"])))
        return controls

    @staticmethod
    def _box(title: str, body: ft.Control) -> ft.Container:
        return ft.Container(ft.Column([ft.Text(title, weight=ft.FontWeight.BOLD), body], spacing=4),
                            expand=True, padding=8, border_radius=6,
                            border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT))

    def _on_search(self, _event: ft.Event) -> None:
        self.set_query(self.search.value or "")

    def _on_row(self, event: ft.Event) -> None:
        self.select(event.control.data)

    def _update(self) -> None:
        try:
            self.view.update()
        except RuntimeError:
            pass  # not on a page yet: it renders when the window adds it
