"""The log page: every logged exchange, searchable, a page at a time; one exchange's draft and reply
compared; export.

The log grows for as long as a study runs, so nothing here reads it on the server's event loop:
each page (and each export) is read in a worker thread over a connection of its own. The logic
(search, paging, export; the word diff in `word_diff`) lives in plain functions and methods that need no page, so it
is testable without a browser; the widgets only render `self.shown` and `self.selected`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import cast

import flet as ft

from human_chat_completions.core.record import DraftRecord, ExchangeRecord
from human_chat_completions.store import exports, queries
from human_chat_completions.store.log import ExchangeLog
from human_chat_completions.ui.downloads import DownloadLinks
from human_chat_completions.ui.downloads import exports_dir as default_exports_dir
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.word_diff import Segment, diff_words

PAGE_SIZE = 100  # rows a page shows: a DataTable gets slow beyond a few hundred

COLUMNS = ("logs_col_time", "logs_col_participant", "logs_col_input", "logs_col_final",
           "logs_col_author", "logs_col_outcome")
# Widths that hold the longest value of each short column ("2026-11-27 00:32:26",
# "auto+takeover", "abandoned"); the two text columns share what is left.
FIXED_WIDTHS = {"logs_col_time": 150, "logs_col_participant": 120, "logs_col_author": 110,
                "logs_col_outcome": 90}
TEXT_MIN_WIDTH = 140
COLUMN_SPACING = 16
TABLE_MARGIN = 12
DEFAULT_TABLE_WIDTH = 1150  # a 1280 px window less the rail, until the table measures itself

def shown_draft(record: ExchangeRecord) -> DraftRecord | None:
    """The draft to compare with the reply: the one the operator took, else the first one."""
    return record.chosen_draft or (record.drafts[0] if record.drafts else None)


def summary_line(record: ExchangeRecord) -> str:
    """The detail's first line; a study's exchange says its study and condition."""
    study = f"{record.study}/{record.condition or '-'}" if record.study else None
    return " · ".join(part for part in (record.id, record.participant or "-", study, record.mode,
                                         record.author or "-", record.outcome) if part)


def local_time(stamp: str | None) -> str:
    if not stamp:
        return ""
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


_STYLES = {
    "same": None,
    "removed": ft.TextStyle(bgcolor=ft.Colors.ERROR_CONTAINER, color=ft.Colors.ON_ERROR_CONTAINER,
                            decoration=ft.TextDecoration.LINE_THROUGH),
    "added": ft.TextStyle(bgcolor=ft.Colors.SECONDARY_CONTAINER,
                          color=ft.Colors.ON_SECONDARY_CONTAINER),
}


def spans(segments: list[Segment]) -> list[ft.TextSpan]:
    return [ft.TextSpan(segment.text, style=_STYLES[segment.kind]) for segment in segments]


def _short(text: str | None, limit: int = 300) -> str:
    """One line; the cell's ellipsis cuts it to the column, the detail pane shows it whole."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def column_widths(available: float) -> dict[str, float]:
    """Each column's width for a table `available` px wide: fixed ones, the text ones halve the
    rest (never below TEXT_MIN_WIDTH: then the table scrolls sideways)."""
    spare = (available - sum(FIXED_WIDTHS.values()) - COLUMN_SPACING * (len(COLUMNS) - 1)
             - TABLE_MARGIN * 2)
    text = max(TEXT_MIN_WIDTH, int(spare / 2))
    return {key: FIXED_WIDTHS.get(key, text) for key in COLUMNS}


def _selectable(text: str, spans: list[ft.TextSpan] | None = None) -> ft.Text:
    """Text a researcher can copy; Flutter's web build hides selectable text from screen readers,
    so the label says it again."""
    if spans is not None:
        return ft.Text(spans=spans, selectable=True, semantics_label=text)
    return ft.Text(text, selectable=True, semantics_label=text)


def _icon_button(icon: ft.IconData, name: str, on_click: ft.ControlEventHandler) -> ft.IconButton:
    """An icon button with a name a screen reader says (a tooltip alone gives none)."""
    return ft.IconButton(ft.Icon(icon, semantics_label=name), tooltip=name, on_click=on_click)


@dataclass(frozen=True)
class LogPage:
    """One page of the log, newest first: `offset` records skipped, `matched` matching the
    search, `total` in the log."""

    records: list[ExchangeRecord] = field(default_factory=list)
    offset: int = 0
    matched: int = 0
    total: int = 0


class LogReader:
    """Reads the log file for the page. Every call opens its own read-only connection, so it can
    run in any worker thread beside the server's writer (the log is in WAL mode)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as db:
            yield db

    def page(self, query: str, offset: int, limit: int = PAGE_SIZE) -> LogPage:
        filters = queries.Filters(text=query.strip() or None)
        with self._db() as db:
            total = queries.count(db)
            matched = queries.count(db, filters) if filters.text else total
            records = list(queries.iter_records(db, filters, newest_first=True, limit=limit,
                                                offset=offset))
        return LogPage(records, offset, matched, total)

    def export(self, query: str, format: str, rules: exports.Rules,
               path: Path) -> exports.ExportReport:
        """Every record matching `query`, oldest first, to `path` and its `.meta.json`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db, path.open("w", encoding="utf-8", newline="") as file:
            found = queries.iter_records(db, queries.Filters(text=query.strip() or None))
            report = exports.write(found, format, file, rules)
        exports.write_meta(path, report, {"search": query.strip()})
        return report


class LogsView:
    """The exchange log as a page. `.view` is the control to place in the window.

    `source`: the running server's `ExchangeLog` or the path of a log file; the page reads it over
    connections of its own. `exports_dir`: where Export writes (default: an `exports` folder
    beside the log file, i.e. in the data dir). `download_secret`: the operator token; with it,
    Export also downloads the file in the operator's browser (ui/downloads.py).
    """

    def __init__(self, source: ExchangeLog | Path | str, t: Translator,
                 exports_dir: Path | None = None, download_secret: str | None = None) -> None:
        self.t = t
        log_path = source.path if isinstance(source, ExchangeLog) else Path(source)
        self.reader = LogReader(log_path)
        self.exports_dir = exports_dir or default_exports_dir(log_path)
        self.links = DownloadLinks(download_secret, self.exports_dir) if download_secret else None
        self.shown: LogPage | None = None  # None until the first page is read
        self.query = ""
        self.offset = 0
        self.selected: str | None = None
        self.widths = column_widths(DEFAULT_TABLE_WIDTH)
        self._asked = 0  # which read is the latest: an older one finishing late is dropped
        self._loading: asyncio.Task[None] | None = None
        self._launcher: ft.UrlLauncher | None = None  # one per page: each registers a service
        self._build()
        self.reload()

    def _build(self) -> None:
        t = self.t
        self.search = ft.TextField(hint_text=t("logs_search"), prefix_icon=ft.Icons.SEARCH,
                                   expand=True, dense=True, on_change=self._on_search)
        self.count = ft.Text(t("logs_loading"))
        self.newer = _icon_button(ft.Icons.CHEVRON_LEFT, t("logs_newer"), lambda _e: self.turn(-1))
        self.older = _icon_button(ft.Icons.CHEVRON_RIGHT, t("logs_older"), lambda _e: self.turn(1))
        self.newer.disabled = self.older.disabled = True
        self.table = ft.DataTable(
            columns=[ft.DataColumn(label=ft.Text(t(key), weight=ft.FontWeight.BOLD))
                     for key in COLUMNS],
            rows=[], show_checkbox_column=False, column_spacing=COLUMN_SPACING,
            horizontal_margin=TABLE_MARGIN, heading_row_height=40, data_row_min_height=36,
            data_row_max_height=40,
        )
        self.detail = ft.Column([ft.Text(t("logs_select"))], spacing=8)
        self.format = ft.Dropdown(
            label=t("logs_export_format"), value="jsonl", width=180, dense=True,
            options=[ft.DropdownOption(key=name, text=name) for name in exports.FORMATS])
        self.include_unfinished = ft.Checkbox(label=t("logs_include_unfinished"), value=False)
        self.export_message = ft.Text("", selectable=True, visible=False)
        self.view = ft.Column([self._header(), self.export_message, self._table_box(),
                               ft.Divider(height=1), self._detail_box()],
                              expand=True, spacing=8)

    def _header(self) -> ft.Control:
        t = self.t
        export = ft.Button(t("logs_export"), icon=ft.Icons.DOWNLOAD, on_click=self._on_export)
        return ft.Column([
            ft.Row([ft.Text(t("logs_title"), size=20, weight=ft.FontWeight.BOLD), self.search,
                    _icon_button(ft.Icons.REFRESH, t("logs_refresh"), lambda _e: self.reload())],
                   spacing=12),
            ft.Row([ft.Row([self.count, self.newer, self.older], spacing=0, tight=True),
                    # Named on a Semantics node: Flutter gives a dropdown's button no name.
                    ft.Row([ft.Semantics(label=t("logs_export_format"), content=self.format),
                            self.include_unfinished, export], tight=True)],
                   alignment=ft.MainAxisAlignment.SPACE_BETWEEN, wrap=True, run_spacing=4),
        ], spacing=4, tight=True)

    def _table_box(self) -> ft.Control:
        """The rows scroll inside their own box (both ways, when the window is narrower than
        the columns); the box reports its width so the text columns take what is left."""
        rows = ft.Column([ft.Row([self.table], scroll=ft.ScrollMode.AUTO)],
                         scroll=ft.ScrollMode.AUTO, expand=True)
        return ft.Container(rows, expand=3, on_size_change=self._on_table_size)

    def _detail_box(self) -> ft.Control:
        return ft.Container(ft.Column([self.detail], scroll=ft.ScrollMode.AUTO, expand=True),
                            expand=2)

    # -- state ----------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the page shown again (new exchanges arrive while the page is open): in a worker
        thread when called on an event loop (the window), else at once (a script, a test)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self.load())
            return
        self._loading = loop.create_task(self.load())

    async def load(self) -> None:
        self._asked += 1
        asked = self._asked
        page = await asyncio.to_thread(self.reader.page, self.query, self.offset)
        if asked == self._asked:
            self.shown = page
            if not any(record.id == self.selected for record in page.records):
                self.selected = None  # its record left the results: the detail pane clears
            self.render()

    @property
    def records(self) -> list[ExchangeRecord]:
        """The records on the page shown, newest first."""
        return self.shown.records if self.shown else []

    def visible(self) -> list[ExchangeRecord]:
        return self.records

    def set_query(self, query: str) -> None:
        self.query = query
        self.offset = 0
        self.reload()

    def turn(self, pages: int) -> None:
        """Go `pages` pages older (negative: newer)."""
        matched = self.shown.matched if self.shown else 0
        self.offset = max(0, min(self.offset + pages * PAGE_SIZE,
                                 (max(matched, 1) - 1) // PAGE_SIZE * PAGE_SIZE))
        self.reload()

    def select(self, exchange_id: str | None) -> None:
        self.selected = exchange_id
        self.render()

    def selected_record(self) -> ExchangeRecord | None:
        return next((r for r in self.records if r.id == self.selected), None)

    def export(self, format: str | None = None, include_unfinished: bool | None = None) -> Path | None:
        """`export_async` where no event loop runs (a script, a test)."""
        return asyncio.run(self.export_async(format, include_unfinished))

    async def export_async(self, format: str | None = None,
                           include_unfinished: bool | None = None) -> Path | None:
        """Write every record matching the search (all pages) to `exports_dir`, with what the
        export left out in a `.meta.json` beside it; return the file written."""
        format = format or self.format.value or "jsonl"
        if include_unfinished is None:
            include_unfinished = bool(self.include_unfinished.value)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.exports_dir / f"exchanges-{stamp}-{format}.{exports.EXTENSIONS[format]}"
        rules = exports.Rules(include_unfinished=include_unfinished)
        try:
            report = await asyncio.to_thread(self.reader.export, self.query, format, rules, path)
        except (OSError, sqlite3.Error) as error:
            self._say(self.t("logs_export_failed", error=error), ft.Colors.ERROR)
            return None
        message = self.t("logs_exported", count=report.written, path=path)
        left_out = report.read - report.written
        if left_out:
            message += " " + self.t("logs_export_left_out", count=left_out,
                                    meta=exports.meta_path(path).name)
        self._say(message, ft.Colors.SECONDARY)
        return path

    def _say(self, message: str, color: str) -> None:
        """The export's outcome, selectable (a researcher copies the path) and read out."""
        self.export_message.value = self.export_message.semantics_label = message
        self.export_message.color = color
        self.export_message.visible = True
        self._update()

    # -- rendering ------------------------------------------------------------------------------

    def render(self) -> None:
        self.count.value = self._count_text()
        shown = self.shown
        self.newer.disabled = shown is None or shown.offset == 0
        self.older.disabled = shown is None or shown.offset + len(shown.records) >= shown.matched
        self.table.rows = [self._row(record) for record in self.records]
        self.detail.controls = self._detail(self.selected_record())
        self._update()

    def _count_text(self) -> str:
        shown = self.shown
        if shown is None:
            return self.t("logs_loading")
        if not shown.total:
            return self.t("logs_empty")
        if not shown.records:
            return self.t("logs_no_match", total=shown.total)
        first, last = shown.offset + 1, shown.offset + len(shown.records)
        if shown.matched == shown.total:
            return self.t("logs_showing", first=first, last=last, total=shown.total)
        return self.t("logs_showing_matched", first=first, last=last, matched=shown.matched,
                      total=shown.total)

    def _row(self, record: ExchangeRecord) -> ft.DataRow:
        cells = (local_time(record.timestamps.received_at), record.participant or "",
                 _short(record.user_input), _short(record.final), record.author or "",
                 f"{record.outcome} ({record.injected_error})" if record.injected_error else record.outcome)
        return ft.DataRow(cells=[self._cell(key, value)
                                 for key, value in zip(COLUMNS, cells, strict=True)],
                          selected=record.id == self.selected, data=record.id,
                          on_select_change=self._on_row)

    def _cell(self, column: str, value: str) -> ft.DataCell:
        text = ft.Text(value, max_lines=1, overflow=ft.TextOverflow.ELLIPSIS, no_wrap=True)
        return ft.DataCell(ft.Container(text, width=self.widths[column]))

    def fit(self, width: float) -> bool:
        """Size the columns for a table `width` px wide; True if they changed. The cells change
        in place: new rows would drop a click that lands while they are swapped."""
        widths = column_widths(width)
        if widths == self.widths:
            return False
        self.widths = widths
        for row in self.table.rows:
            for column, cell in zip(COLUMNS, row.cells, strict=True):
                cast(ft.Container, cell.content).width = widths[column]
        return True

    def _detail(self, record: ExchangeRecord | None) -> list[ft.Control]:
        if record is None:
            return [ft.Text(self.t("logs_select"))]
        draft = shown_draft(record)
        if draft is not None:
            left, right = diff_words(draft.text, record.final)
            draft_box = self._box(self.t("logs_draft", profile=draft.profile),
                                  _selectable(draft.text, spans=spans(left)))
        else:
            right = [Segment(record.final, "same")]
            draft_box = self._box(self.t("logs_draft", profile="-"),
                                  ft.Text(self.t("logs_no_draft"), italic=True))
        controls: list[ft.Control] = [
            _selectable(summary_line(record)),
            ft.Row([
                self._box(self.t("logs_user_input"), _selectable(record.user_input)),
                draft_box,
                self._box(self.t("logs_final"), _selectable(record.final, spans=spans(right))),
            ], vertical_alignment=ft.CrossAxisAlignment.START),
        ]
        if record.edit_distance is not None:
            controls.append(ft.Text(self.t("logs_edit_distance", distance=record.edit_distance)))
        if record.injected_error:
            controls.append(ft.Text(self.t("injected", error=record.injected_error), color=ft.Colors.ERROR))
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

    def _on_table_size(self, event: ft.LayoutSizeChangeEvent) -> None:
        if self.fit(event.width):
            self._update()

    async def _on_export(self, _event: ft.Event) -> None:
        path = await self.export_async()
        if path is not None and self.links is not None:
            await self.download(path)

    async def download(self, path: Path) -> None:
        """Hand the file to the operator's browser: a signed link opened in the window's own tab
        (an attachment, so the window stays)."""
        assert self.links is not None
        if self._launcher is None:
            self._launcher = ft.UrlLauncher()
        await self._launcher.launch_url(self.links.link(path, self.view.page.url),
                                        web_only_window_name="_self")
        self._say(f"{self.export_message.value} {self.t('logs_download_started', name=path.name)}",
                  ft.Colors.SECONDARY)
    def _update(self) -> None:
        try:
            self.view.update()
        except RuntimeError:
            pass  # not on a page yet: it renders when the window adds it
