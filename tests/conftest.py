from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.research_log import research_log, research_log_template  # noqa: F401  (fixtures)
from tests.support import Operator, RunningServer

CHROMIUM = Path(os.environ.get("HCC_TEST_CHROMIUM", "/usr/bin/chromium"))  # override: try a bare machine
# What a marked test needs from the system, and the one line that says how to get it.
SYSTEM_PARTS = {
    "browser": (CHROMIUM.exists, "needs Chromium at /usr/bin/chromium: apt-get install chromium "
                                 "(.ci/run installs it)"),
}


# Folders whose every test carries a marker; browser, packaging and compat tests are also slow.
FOLDER_MARKERS = {"compat": "compat", "packaging": "packaging"}
SLOW_MARKERS = ("browser", "compat", "packaging")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.parent.name
        if folder == "ui" and "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)  # the tray's `browser` fixture only records URLs
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])
        if any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)
        for marker, (available, reason) in SYSTEM_PARTS.items():
            if item.get_closest_marker(marker) and not available():
                item.add_marker(pytest.mark.skip(reason=reason))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """`.ci/run` sets HCC_NO_SKIPS: there every system part is installed, so a skip is a failure."""
    if not os.environ.get("HCC_NO_SKIPS"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        if reporter:
            reporter.ensure_newline()
            reporter.write_line(f"HCC_NO_SKIPS: {len(skipped)} tests skipped; CI installs every "
                                "system part, so this run fails", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test touches the real config or data folders."""
    monkeypatch.setenv("HCC_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HCC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HCC_OPERATOR_TOKEN", raising=False)
    return tmp_path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with RunningServer(tmp_path / "data") as running:
        yield running


@pytest.fixture
def operator(server: RunningServer) -> Iterator[Operator]:
    operator = Operator(server.base)
    yield operator
    operator.close()
