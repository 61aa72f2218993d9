"""The client versions the matrix ran with, printed at the end of the run."""

from __future__ import annotations

import pytest

from tests.compat.answering import VERSIONS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if VERSIONS:
        terminalreporter.section("compat client versions")
        for name, version in sorted(VERSIONS.items()):
            terminalreporter.write_line(f"{name:<48} {version}")
