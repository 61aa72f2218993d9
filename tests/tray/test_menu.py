"""The tray menu through pystray's dummy backend, against a real server on a worker thread."""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from human_chat_completions.config import Settings, settings_path
from human_chat_completions.core.exchange import Mode
from human_chat_completions.tray.app import TrayApp
from human_chat_completions.tray.controller import ServerController
from human_chat_completions.tray.icon import BADGE
from tests.support import OPERATOR_TOKEN, Operator, free_port, wait_until


@pytest.fixture
def pystray(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    return importlib.import_module("pystray")


@pytest.fixture
def controller(tmp_path: Path, browser) -> Iterator[ServerController]:
    settings = Settings(port=free_port())
    controller = ServerController(settings, data_path=tmp_path / "data", token=OPERATOR_TOKEN)
    controller.launch()
    yield controller
    controller.shutdown()


@pytest.fixture
def tray(controller: ServerController, pystray) -> TrayApp:
    return TrayApp(controller, pystray)


def item(tray: TrayApp, text: str):
    for entry in tray.icon.menu.items:
        if entry.text == text:
            return entry
    raise KeyError(text)


def click(tray: TrayApp, text: str, timeout: float = 60):
    """Activate a menu item as pystray does, and wait for what it started."""
    return item(tray, text)(tray.icon).result(timeout)


def health(controller: ServerController) -> dict | None:
    try:
        return httpx.get(controller.base_url + "/health", timeout=2).json()
    except httpx.HTTPError:
        return None


def ask(controller: ServerController, text: str, results: list, stream: bool = True) -> threading.Thread:
    """An OpenAI client waiting for the operator, on its own thread."""

    def run() -> None:
        client = openai.OpenAI(base_url=controller.api_base_url, api_key="k", max_retries=0,
                               timeout=60)
        try:
            if stream:
                chunks = client.chat.completions.create(
                    model="human", stream=True, messages=[{"role": "user", "content": text}])
                results.append("".join(c.choices[0].delta.content or "" for c in chunks
                                       if c.choices))
            else:
                reply = client.chat.completions.create(
                    model="human", messages=[{"role": "user", "content": text}])
                results.append(reply.choices[0].message.content)
        except Exception as error:  # noqa: BLE001 - the test inspects it
            results.append(error)
        finally:
            client.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_menu_lists_the_actions_and_the_status_line_follows_the_server(tray: TrayApp):
    texts = [entry.text for entry in tray.icon.menu.items]
    assert texts[1:] == [
        "Open operator window", "- - - -", "Start server", "Stop server", "Restart server",
        "Default mode", "- - - -", "Notify on new requests", "Open window on new requests",
        "Start at login", "- - - -", "Copy API base URL", "Open logs folder", "Open settings",
        "- - - -", "Quit"]
    status = tray.icon.menu.items[0]
    assert status.text == "Stopped" and not status.enabled
    assert item(tray, "Start server").enabled and not item(tray, "Stop server").enabled
    assert tray.icon.menu.items[1].default  # a left click on the icon opens the window

    assert click(tray, "Start server") is True
    port = tray.controller.port
    assert status.text == f"Running on 127.0.0.1:{port} - no requests waiting"
    assert health(tray.controller)["status"] == "ok"
    assert not item(tray, "Start server").enabled and item(tray, "Stop server").enabled
    assert tray.icon_state() == "running"


def test_badge_and_status_count_waiting_requests(tray: TrayApp):
    controller = tray.controller
    assert click(tray, "Start server")
    results: list = []
    ask(controller, "first question", results)
    ask(controller, "second question", results, stream=False)
    wait_until(lambda: controller.waiting == 2, timeout=15)
    assert tray.icon.menu.items[0].text.endswith("- 2 requests waiting")
    tray.refresh()
    assert BADGE in {colour for _n, colour in tray.icon.icon.getcolors(1 << 16)}
    assert "2 requests waiting" in tray.icon.title

    operator = Operator(controller.base_url)
    try:
        for exchange in operator.wait_for(2):
            operator.reply(exchange["id"], "answer to " + exchange["request"]["messages"][-1]["content"])
    finally:
        operator.close()
    wait_until(lambda: len(results) == 2, timeout=15)
    assert sorted(results) == ["answer to first question", "answer to second question"]
    wait_until(lambda: controller.waiting == 0)
    tray.refresh()
    assert BADGE not in {colour for _n, colour in tray.icon.icon.getcolors(1 << 16)}


def test_default_mode_is_set_saved_and_used_for_new_conversations(tray: TrayApp):
    controller = tray.controller
    assert click(tray, "Start server")
    modes = item(tray, "Default mode").submenu.items
    assert [m.text for m in modes] == ["Human", "Copilot", "Auto"]
    assert [m.checked for m in modes] == [True, False, False]
    modes[1](tray.icon).result(10)
    assert [m.checked for m in modes] == [False, True, False]
    assert controller.settings.default_mode is Mode.COPILOT
    assert controller.runtime.switchboard.conversations.default_mode is Mode.COPILOT
    assert json.loads(settings_path().read_text())["default_mode"] == "copilot"
    results: list = []
    ask(controller, "in copilot mode", results)
    wait_until(lambda: controller.waiting == 1, timeout=15)
    exchange = controller.runtime.switchboard.waiting()[0]
    assert controller.runtime.switchboard.conversation(exchange.conversation_id).mode is Mode.COPILOT


def test_the_menu_follows_a_settings_change_made_elsewhere(tray: TrayApp):
    """The operator window saves through the same store: the tray's checks follow, and it redraws."""
    controller = tray.controller
    redraws: list[bool] = []
    controller.listeners.append(lambda: redraws.append(True))

    async def saved_in_the_window() -> None:  # the window saves on the server loop
        controller.settings_store.update(default_mode=Mode.AUTO, notifications=False)

    controller.call(saved_in_the_window(), 10)
    assert [m.checked for m in item(tray, "Default mode").submenu.items] == [False, False, True]
    assert item(tray, "Notify on new requests").checked is False
    assert redraws == [True]


def test_stop_ends_waiting_requests_with_an_error_and_start_restart_serve_again(
        tray: TrayApp, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    controller = tray.controller
    assert click(tray, "Start server")
    runtime = controller.runtime
    results: list = []
    client = ask(controller, "are you there?", results)
    wait_until(lambda: controller.waiting == 1, timeout=15)

    assert click(tray, "Stop server") == 1
    client.join(15)
    assert isinstance(results[0], openai.APIError)
    assert "shutting down" in str(results[0])
    assert health(controller) is None and tray.icon.menu.items[0].text == "Stopped"
    assert "stopping with 1 requests waiting" in caplog.text

    assert click(tray, "Start server") is True and health(controller)["status"] == "ok"
    assert click(tray, "Restart server") is True and health(controller)["status"] == "ok"
    assert controller.runtime is runtime  # the log and the switchboard survive a restart
    assert len(runtime.switchboard.exchanges) == 1


def test_open_window_and_settings_open_the_operator_window(tray: TrayApp, browser):
    assert click(tray, "Start server")
    click(tray, "Open operator window")
    click(tray, "Open settings")
    tray.icon.menu(tray.icon)  # what a left click on the icon runs: the default item
    url = f"http://127.0.0.1:{tray.controller.port}/ui/"
    wait_until(lambda: browser.lines() == [url, url, url], timeout=10)


def test_copy_api_base_url_and_open_logs_folder(tray: TrayApp, fake_tools, app_log_dir: Path):
    assert click(tray, "Copy API base URL") is True
    assert fake_tools["xclip"].lines() == [f"http://127.0.0.1:{tray.controller.port}/v1"]
    assert click(tray, "Open logs folder") is True
    wait_until(lambda: fake_tools["xdg-open"].lines() == [str(app_log_dir)], timeout=10)


def test_toggles_are_saved_and_start_at_login_writes_the_autostart_entry(
        tray: TrayApp, tmp_path: Path):
    entry = tmp_path / "home" / ".config" / "autostart" / "human-chat-completions.desktop"
    assert item(tray, "Notify on new requests").checked is True
    assert item(tray, "Start at login").checked is False and not entry.exists()
    click(tray, "Notify on new requests")
    click(tray, "Open window on new requests")
    click(tray, "Start at login")
    saved = json.loads(settings_path().read_text())
    assert (saved["notifications"], saved["open_window_on_request"], saved["start_at_login"]) == (
        False, False, True)  # opening the window on a request is on by default
    assert entry.exists() and item(tray, "Start at login").checked is True
    click(tray, "Start at login")
    assert not entry.exists()


def test_new_request_opens_the_window_when_asked_to(tray: TrayApp, browser):
    controller = tray.controller
    assert controller.settings.open_window_on_request  # on by default
    assert click(tray, "Start server")
    results: list = []
    ask(controller, "hello?", results)
    ask(controller, "anyone?", results)
    wait_until(lambda: controller.waiting == 2, timeout=15)
    url = f"http://127.0.0.1:{controller.port}/ui/"
    wait_until(lambda: browser.lines() == [url], timeout=10)  # once, not once per request


def test_quit_ends_waiting_requests_with_a_clear_error(tray: TrayApp, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    controller = tray.controller
    assert click(tray, "Start server")
    results: list = []
    client = ask(controller, "still there?", results)
    wait_until(lambda: controller.waiting == 1, timeout=15)
    assert click(tray, "Quit") == 1
    client.join(15)
    assert isinstance(results[0], openai.APIError) and "shutting down" in str(results[0])
    assert "quit with 1 requests waiting" in caplog.text
    assert health(controller) is None
    exchange = next(iter(controller.runtime.switchboard.exchanges.values()))
    assert exchange.state.value == "failed"
    controller.shutdown()
    assert not controller.loop.is_running()


def test_port_in_use_is_a_clear_error_in_the_status_and_the_log(
        tray: TrayApp, caplog: pytest.LogCaptureFixture):
    import socket

    caplog.set_level(logging.INFO)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", tray.controller.port))
        blocker.listen()
        assert click(tray, "Start server") is False
        status = tray.icon.menu.items[0].text
        port = tray.controller.port
        assert status.startswith(f"Not running: Port {port} is already in use by another program")
        assert str(settings_path()) in status and '"port"' in status
        assert tray.icon_state() == "error"
        assert f"Port {port} is already in use" in caplog.text
    # Choosing another port in the settings file and pressing Start works.
    new_port = free_port()
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(json.dumps({"port": new_port}))
    assert click(tray, "Start server") is True and tray.controller.port == new_port


def test_menu_speaks_japanese_when_the_settings_say_so(tray: TrayApp):
    tray.controller.change_settings(language="ja").result(10)
    tray.refresh()  # what the refresher thread does after a change
    texts = [entry.text for entry in tray.icon.menu.items]
    assert "オペレーター画面を開く" in texts and texts[-1] == "終了"
    assert texts[0] == "停止中"
