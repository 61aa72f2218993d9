"""The API in-process: the app as `hcc serve` wires it (real runtime, real SQLite log), reached
through Starlette's test client. For requests that need no socket: refusals, routes, tokens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from human_chat_completions.config import Settings
from human_chat_completions.server import build_runtime, make_server
from tests.support import OPERATOR_TOKEN


@contextmanager
def in_process(data: Path, settings: Settings | None = None) -> Iterator[TestClient]:
    runtime = build_runtime(settings or Settings(), data, OPERATOR_TOKEN)
    app = make_server(runtime, "127.0.0.1", 8000, with_ui=False).config.app
    try:
        with TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as client:
            yield client
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for a module's refusals: each is refused before anything opens, so they cannot
    disturb one another (the tests check that nothing waits)."""
    with in_process(Path(tmp_path_factory.mktemp("in-process")) / "data") as client:
        yield client


@pytest.fixture
def operator_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
