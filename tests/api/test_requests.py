"""Each request reads the run's settings as they are now: a change saved through the store applies
to the next request, with no restart (in-process: no socket needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from human_chat_completions.api import create_app
from human_chat_completions.config import Settings
from human_chat_completions.core import Switchboard
from human_chat_completions.settings_store import SettingsStore

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
PAGE = "https://chat.example.org"


@pytest.fixture
def store() -> SettingsStore:
    return SettingsStore(Settings(), save=lambda _settings: None)


@pytest.fixture
async def client(store: SettingsStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(store, Switchboard(), "operator-token")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        yield client


async def test_model_names_follow_the_store(client: httpx.AsyncClient, store: SettingsStore):
    assert [m["id"] for m in (await client.get("/v1/models")).json()["data"]] == ["human"]
    store.update(model_names=["wizard", "oz"])
    assert [m["id"] for m in (await client.get("/v1/models")).json()["data"]] == ["wizard", "oz"]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
async def test_client_keys_turned_on_apply_to_the_next_request(
        client: httpx.AsyncClient, store: SettingsStore, path: str):
    store.update(client_api_keys=["sk-lab"])
    response = await client.post(path, json=CHAT)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


async def test_an_origin_allowed_later_passes_the_gate(client: httpx.AsyncClient, store: SettingsStore):
    store.update(client_api_keys=["sk-lab"])  # so that a request past the gate ends at once
    refused = await client.post("/v1/chat/completions", json=CHAT, headers={"Origin": PAGE})
    assert refused.status_code == 403
    store.update(allowed_client_origins=[PAGE])
    passed = await client.post("/v1/chat/completions", json=CHAT, headers={"Origin": PAGE})
    assert passed.status_code == 401  # past the origin gate, stopped by the key check
