"""The Logs page in Chromium: its columns fit 1280 px, long text is cut in the table and whole in
the detail pane, the detail pane clears when its record leaves the results, and Export downloads
the file in the operator's browser with what `hcc logs export` writes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from playwright.sync_api import Browser, Page
from typer.testing import CliRunner

from human_chat_completions.cli import app as cli
from human_chat_completions.config import Settings
from human_chat_completions.store import exports
from human_chat_completions.ui.downloads import DownloadLinks, exports_dir
from human_chat_completions.ui.logs_view import LogReader, column_widths
from tests.store.research_log import LOG_FILE
from tests.support import OPERATOR_TOKEN, Operator, RunningServer
from tests.ui.browser import open_window, screen_text, screenshot, wait_for_text
from tests.ui.test_layout import box
from tests.ui.test_operator_window import StreamingParticipant

LONG_QUESTION = ("Please compare these two novels in detail, " * 12) + "END-OF-QUESTION"
LONG_REPLY = ("Both novels explore the same themes, but in different ways. " * 8) + "END-OF-REPLY"


def long_exchange(server: RunningServer) -> None:
    participant = StreamingParticipant(server.base, "reader-7", LONG_QUESTION)
    operator = Operator(server.base)
    [exchange] = operator.wait_for(1)
    operator.reply(exchange["id"], LONG_REPLY)
    operator.close()
    assert participant.text() == LONG_REPLY


def wait_for_box(page: Page, needle: str, timeout: float = 10) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while (found := box(page, needle)) is None and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert found is not None, f"{needle!r} not on screen:\n{screen_text(page)[:2000]}"
    return found


def open_detail(page: Page, cell: str, needle: str) -> None:
    """Click a row until its detail shows: on a busy machine a click can land while the table
    is still being laid out, and Flutter drops it."""
    for _ in range(3):
        page.get_by_role("cell", name=cell).first.click()
        try:
            wait_for_text(page, needle, timeout=5)
            return
        except AssertionError:
            continue
    wait_for_text(page, needle, timeout=1)


def open_logs(browser: Browser, server: RunningServer, width: int = 1280, height: int = 800,
              tab: str = "Logs") -> Page:
    page = open_window(browser, server.base, width=width, height=height)
    page.get_by_role("button", name=tab).click()
    wait_for_text(page, "reader-7")
    page.wait_for_timeout(1000)  # the table measures itself, then sizes its columns
    return page


def test_columns_fit_1280_px_and_long_text_is_whole_in_the_detail(research_log, browser: Browser):
    data, _ = research_log
    with RunningServer(data, Settings(language="en")) as server:
        long_exchange(server)
        page = open_logs(browser, server)
        for header in ("Time", "Participant", "User input", "Final reply", "Author", "Outcome"):
            found = wait_for_box(page, header)
            assert found["x"] >= 0 and found["x"] + found["width"] <= 1280, (header, found)
        assert "END-OF-QUESTION" not in screen_text(page)  # cut in the table…
        open_detail(page, "reader-7", "END-OF-QUESTION")  # …whole in the detail pane
        wait_for_text(page, "END-OF-REPLY")
        screenshot(page, "logs-page-en-1280")
        page.close()


def test_the_detail_clears_when_its_record_leaves_the_results(research_log, browser: Browser):
    data, _ = research_log
    with RunningServer(data, Settings(language="ja")) as server:
        long_exchange(server)
        page = open_logs(browser, server, width=800, height=500, tab="記録")
        open_detail(page, "reader-7", "END-OF-QUESTION")
        screenshot(page, "logs-page-ja-800x500")
        page.get_by_role("textbox").first.click()
        page.keyboard.type("P-2", delay=30)
        wait_for_text(page, "やりとりを選ぶと")  # the detail is back to its hint
        assert "END-OF-QUESTION" not in screen_text(page)
        page.close()


def test_export_downloads_what_hcc_logs_export_writes(research_log, browser: Browser, tmp_path):
    data, _ = research_log
    with RunningServer(data, Settings(language="en")) as server:
        long_exchange(server)
        page = open_logs(browser, server)
        with page.expect_download(timeout=20_000) as started:
            page.get_by_role("button", name="Export", exact=True).click()
        download = started.value
        received = Path(download.path()).read_bytes()
        wait_for_text(page, "Your browser is downloading")
        screenshot(page, "logs-page-export-en-1280")
        page.close()
        assert download.suggested_filename.endswith(".jsonl")
        saved = exports_dir(data / LOG_FILE) / download.suggested_filename
        assert saved.read_bytes() == received  # saved on the server's disk as well
    expected = tmp_path / "cli.jsonl"
    result = CliRunner().invoke(cli, ["logs", "export", "--format", "jsonl", "--data-dir", str(data),
                                      "--out", str(expected)])
    assert result.exit_code == 0, result.output
    assert received == expected.read_bytes()
    assert any(json.loads(line)["user_input"] == LONG_QUESTION for line in received.splitlines())


def test_download_links_are_signed_short_lived_and_name_one_file(research_log):
    data, _ = research_log
    with RunningServer(data, Settings(language="en")) as server:
        path = exports_dir(data / LOG_FILE) / "exchanges.csv"
        LogReader(data / LOG_FILE).export("", "csv", exports.Rules(), path)
        link = DownloadLinks(OPERATOR_TOKEN, path.parent).link(path)
        response = httpx.get(server.base + link)
        assert response.status_code == 200 and response.content == path.read_bytes()
        assert response.headers["content-disposition"].startswith("attachment")
        refused = [
            link.replace("sig=", "sig=0"),  # forged
            DownloadLinks("another token", path.parent).link(path),  # signed with another key
            link.replace(quote(path.name), exports.meta_path(path).name),  # names one file only
        ]
        # 204: the window opens links in its own tab, and a 204 leaves it where it is.
        assert [httpx.get(server.base + url).status_code for url in refused] == [204] * 3
        foreign = httpx.get(server.base + link, headers={"Host": "evil.example"})
        assert foreign.status_code == 403  # behind the window's door, like the window
    now = [1_000_000.0]
    links = DownloadLinks(OPERATOR_TOKEN, path.parent, seconds=60, clock=lambda: now[0])
    expires, signature = query(links.link(path))
    assert links.resolve(path.name, expires, signature) == path
    now[0] += 61
    assert links.resolve(path.name, expires, signature) is None  # expired


def query(link: str) -> tuple[str, str]:
    params = dict(part.split("=", 1) for part in link.split("?", 1)[1].split("&"))
    return params["expires"], params["sig"]


def test_text_columns_share_what_the_fixed_ones_leave():
    wide, narrow = column_widths(1150), column_widths(600)
    assert wide["logs_col_input"] == wide["logs_col_final"] >= 250
    assert sum(wide.values()) + 16 * 5 + 24 <= 1150
    assert narrow["logs_col_input"] == 140  # never thinner: the table scrolls sideways instead
    assert wide["logs_col_author"] == narrow["logs_col_author"] == 110
