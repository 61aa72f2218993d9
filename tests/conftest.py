from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Operator, RunningServer


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
