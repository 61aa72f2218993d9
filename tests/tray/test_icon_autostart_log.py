"""The tray icon drawing, start at login, the app log and error hooks: plain functions, real files."""

from __future__ import annotations

import asyncio
import logging
import plistlib
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from human_chat_completions import autostart
from human_chat_completions.app_log import (
    install_excepthooks,
    log_dir,
    loop_exception_handler,
    open_folder,
    setup_logging,
)
from human_chat_completions.tray.icon import BADGE, badge_text, draw_icon

ROOT = Path(__file__).resolve().parents[2]


# -- icon -----------------------------------------------------------------------------------------

def _has_colour(image: Image.Image, colour: tuple[int, int, int, int]) -> bool:
    return colour in {found for _count, found in image.getcolors(maxcolors=1 << 16)}


def test_icon_shows_state_by_colour_and_waiting_requests_by_a_badge():
    running, stopped, error = draw_icon("running"), draw_icon("stopped"), draw_icon("error")
    assert running.size == (64, 64) and running.mode == "RGBA"
    assert len({running.tobytes(), stopped.tobytes(), error.tobytes()}) == 3
    assert not _has_colour(running, BADGE)
    badged = draw_icon("running", waiting=3)
    assert _has_colour(badged, BADGE)
    # The badge sits in the top right corner.
    assert badged.getpixel((64 - 16, 16)) != running.getpixel((64 - 16, 16))
    assert draw_icon("running", 3).tobytes() != draw_icon("running", 4).tobytes()
    assert [badge_text(n) for n in (1, 9, 10, 250)] == ["1", "9", "9+", "9+"]


def test_the_app_icon_file_is_the_drawn_icon():
    stored = Image.open(ROOT / "assets" / "icon.png")
    assert stored.size == (256, 256)
    assert stored.convert("RGBA").tobytes() == draw_icon("running", 0, 256).tobytes()


# -- start at login -------------------------------------------------------------------------------

def test_linux_autostart_writes_and_removes_an_xdg_desktop_entry(tmp_path: Path):
    home = tmp_path / "home"
    command = ["/opt/hcc/bin/hcc"]
    assert not autostart.is_enabled("linux", home)
    autostart.set_enabled(True, "linux", home, command)
    entry = home / ".config" / "autostart" / "human-chat-completions.desktop"
    text = entry.read_text()
    assert text.startswith("[Desktop Entry]\n") and "Type=Application" in text
    assert "Exec=env HCC_START_HIDDEN=1 /opt/hcc/bin/hcc\n" in text
    assert autostart.is_enabled("linux", home)
    autostart.set_enabled(True, "linux", home, command)  # idempotent
    autostart.set_enabled(False, "linux", home)
    assert not entry.exists() and not autostart.is_enabled("linux", home)
    autostart.set_enabled(False, "linux", home)  # off twice is fine


def test_linux_autostart_follows_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert autostart.entry_path("linux") == tmp_path / "xdg" / "autostart" / autostart.DESKTOP_FILE


def test_macos_autostart_writes_a_launch_agent(tmp_path: Path):
    home = tmp_path / "home"
    autostart.set_enabled(True, "darwin", home, ["/Applications/HCC.app/Contents/MacOS/hcc"])
    path = home / "Library" / "LaunchAgents" / f"{autostart.LAUNCH_AGENT_LABEL}.plist"
    agent = plistlib.loads(path.read_bytes())
    assert agent["ProgramArguments"] == ["/Applications/HCC.app/Contents/MacOS/hcc"]
    assert agent["RunAtLoad"] is True and agent["Label"] == autostart.LAUNCH_AGENT_LABEL
    assert agent["EnvironmentVariables"] == {"HCC_START_HIDDEN": "1"}
    assert autostart.is_enabled("darwin", home)
    autostart.set_enabled(False, "darwin", home)
    assert not path.exists()


def test_windows_run_key_value_quotes_paths_with_spaces():
    assert autostart.entry_path("win32") is None
    value = autostart.windows_command([r"C:\Program Files\HCC\hcc.exe"])
    assert value == r'"C:\Program Files\HCC\hcc.exe"'


def test_launch_command_starts_this_installation():
    command = autostart.launch_command()
    assert command[0].endswith("hcc") or command[:3] == [sys.executable, "-m",
                                                         "human_chat_completions"]


# -- app log --------------------------------------------------------------------------------------

@pytest.fixture
def app_logging():
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_app_log_is_a_rotating_file_in_the_log_dir(app_log_dir: Path, app_logging):
    assert log_dir() == app_log_dir
    path = setup_logging(console=False)
    assert setup_logging(console=False) == path  # twice: still one file handler
    hcc_handlers = [h for h in logging.getLogger().handlers if getattr(h, "_hcc", False)]
    assert len(hcc_handlers) == 1 and hcc_handlers[0].maxBytes > 0
    logging.getLogger("human_chat_completions.test").warning("hello from the test")
    hcc_handlers[0].flush()
    assert path.parent == app_log_dir and "hello from the test" in path.read_text()


def test_uncaught_errors_in_threads_and_the_loop_are_logged_and_reported(
        app_log_dir: Path, app_logging, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    path = setup_logging(console=False)
    reported: list[str] = []
    install_excepthooks(reported.append)

    def broken() -> None:
        raise RuntimeError("tray thread exploded")

    thread = threading.Thread(target=broken, name="tray-test")
    thread.start()
    thread.join()
    sys.excepthook(ValueError, ValueError("main thread exploded"), None)

    loop = asyncio.new_event_loop()
    loop.set_exception_handler(loop_exception_handler(reported.append))
    loop.call_soon(lambda: 1 / 0)
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.close()

    assert reported == ["tray-test: RuntimeError: tray thread exploded",
                        "ValueError: main thread exploded", "ZeroDivisionError: division by zero"]
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text()
    assert "uncaught error in thread tray-test" in text and "tray thread exploded" in text
    assert "Traceback" in text and "ZeroDivisionError" in text


def test_open_folder_uses_the_desktop_opener(tmp_path: Path, fake_tools):
    folder = tmp_path / "some logs"
    assert open_folder(folder) is True
    from tests.support import wait_until

    wait_until(lambda: fake_tools["xdg-open"].lines() == [str(folder)], timeout=10)
    assert folder.is_dir()
