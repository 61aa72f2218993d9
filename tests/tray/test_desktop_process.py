"""Plain `hcc` as a real desktop app: X server (Xvfb), D-Bus session, dunst; two real processes for
the single-instance and port-in-use cases."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.support import OPERATOR_TOKEN, Operator, free_port, wait_until
from tests.tray.conftest import (
    DesktopSession,
    dump_stacks_and_kill,
    needs_desktop_session,
    needs_x,
    read_log,
    start_hcc,
    stop_process,
    wait_for_log,
)

# The whole desktop app in its own process, under Xvfb: seconds each, so out of the quick tier.
pytestmark = pytest.mark.slow


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def ask(port: int, text: str, results: list, user: str | None = None) -> threading.Thread:
    def run() -> None:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0,
                               timeout=60)
        try:
            extra = {"user": user} if user else {}
            chunks = client.chat.completions.create(
                model="human", stream=True, messages=[{"role": "user", "content": text}], **extra)
            results.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
        except Exception as error:  # noqa: BLE001 - the test inspects it
            results.append(error)
        finally:
            client.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@needs_desktop_session
def test_tray_app_serves_notifies_and_quits_cleanly(tmp_path: Path, desktop_session: DesktopSession,
                                                    browser):
    port = free_port()
    env = {**desktop_session.env, "BROWSER": str(browser.path), "HCC_OPERATOR_TOKEN": OPERATOR_TOKEN}
    started = time.monotonic()
    app = start_hcc(tmp_path, env, port)
    try:
        wait_until(lambda: healthy(port) or app.poll() is not None, timeout=60)
        assert app.poll() is None
        startup = time.monotonic() - started
        window = f"http://127.0.0.1:{port}/ui/"
        wait_until(lambda: browser.lines() == [window], timeout=15)  # the window opens at start
        log = wait_for_log(tmp_path, "serving on")
        assert "human_chat_completions.desktop: starting the desktop app" in log

        # A request: the client waits, a notification names the participant and what they said.
        results: list = []
        client = ask(port, "Could you please tell me the way to the station near the old "
                           "bridge before it gets dark tonight", results, user="participant-7")
        wait_until(lambda: desktop_session.notifications(), timeout=15)
        app_name, title, body = desktop_session.notifications()[0]
        assert (app_name, title) == ("Human Chat Completions", "participant-7")
        assert body == ("Could you please tell me the way to the station near the old bridge "
                        "before it…")  # the first 16 words
        desktop_session.click_first()  # clicking the notification opens the window
        wait_until(lambda: browser.lines() == [window, window], timeout=15)

        operator = Operator(f"http://127.0.0.1:{port}")
        try:
            exchange = operator.wait_for(1)[0]
            operator.reply(exchange["id"], "Turn left at the bridge.")
            client.join(15)
            assert results == ["Turn left at the bridge."]
            # A second request is still waiting when the user quits.
            ask(port, "one more thing", results)
            operator.wait_for(1)
        finally:
            operator.close()
        app.terminate()  # SIGTERM runs the tray's Quit
        output, _ = app.communicate(timeout=30)
    finally:
        stop_process(app)
    assert app.returncode == 0, output
    wait_until(lambda: len(results) == 2, timeout=10)
    assert isinstance(results[1], openai.APIError) and "shutting down" in str(results[1])
    assert not healthy(port)
    log = read_log(tmp_path)
    assert "quit with 1 requests waiting" in log and "desktop app stopped" in log
    assert "Traceback" not in log, log
    assert not (tmp_path / "config" / "instance.json").exists()
    print(f"desktop app answered /health {startup:.1f}s after launch")


@needs_x
def test_second_start_opens_the_running_instances_window(tmp_path: Path, x_display: str, browser):
    port = free_port()
    env = {"DISPLAY": x_display, "BROWSER": str(browser.path)}
    first = start_hcc(tmp_path, env, port)
    second = None
    try:
        wait_until(lambda: healthy(port) or first.poll() is not None, timeout=60)
        window = f"http://127.0.0.1:{port}/ui/"
        wait_until(lambda: browser.lines() == [window], timeout=15)
        # The second one is told another port; it must still find the first, not fight for a port.
        (tmp_path / "config" / "settings.json").write_text(f'{{"port": {free_port()}}}')
        second = start_hcc(tmp_path, env)
        output, _ = second.communicate(timeout=60)
        assert second.returncode == 0, output
        assert f"already running at http://127.0.0.1:{port}" in output
        wait_until(lambda: browser.lines() == [window, window], timeout=15)
        assert first.poll() is None and healthy(port)
    finally:
        if second is not None:
            stop_process(second)
        stop_process(first)
    assert first.returncode == 0


@needs_desktop_session
def test_port_taken_by_another_program_is_reported_and_the_app_stays(
        tmp_path: Path, desktop_session: DesktopSession, browser):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        env = {**desktop_session.env, "BROWSER": str(browser.path)}
        app = start_hcc(tmp_path, env, port)
        try:
            log = wait_for_log(tmp_path, "already in use", timeout=60)
            assert f"Port {port} is already in use by another program" in log
            assert "settings.json" in log and '"port"' in log
            wait_until(lambda: desktop_session.notifications(), timeout=15)
            _app, title, body = desktop_session.notifications()[0]
            assert title == "Human Chat Completions is not running"
            assert f"Port {port} is already in use" in body
            assert app.poll() is None  # the tray stays, showing the error
            assert browser.lines() == []  # no window onto nothing
        finally:
            stop_process(app)
        assert app.returncode == 0


@pytest.mark.slow
def test_hcc_serve_stays_headless_even_with_a_display(tmp_path: Path):
    """`hcc serve` never starts the tray: it must work on a server with a stray DISPLAY."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "human_chat_completions", "serve", "--port", str(port)],
        env={**os.environ, "DISPLAY": ":4242", "HCC_CONFIG_DIR": str(tmp_path / "c"),
             "HCC_DATA_DIR": str(tmp_path / "d")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: healthy(port) or process.poll() is not None, timeout=60)
        assert healthy(port)
        process.terminate()
        output = process.communicate(timeout=30)[0]
    finally:
        stop_process(process)
    assert "pystray" not in output and "Xlib" not in output


# What the tray scripts below start with (each runs in a process of its own, under Xvfb).
TRAY_SCRIPT_START = """
import functools, os, signal, threading, time
import pystray
from pystray import _xorg
from human_chat_completions.config import Settings
from human_chat_completions.desktop import _on_signals
from human_chat_completions.tray.app import TrayApp
from human_chat_completions.tray.controller import ServerController

def tray_showing_with(step):  # a started tray app whose loop runs step(icon, show) to show the icon
    show = _xorg.Icon._show

    @functools.wraps(show)  # pystray finds the method to run on its loop by this name
    def showing(icon):
        step(icon, show)

    _xorg.Icon._show = showing
    controller = ServerController(Settings(), data_path=sys_argv_data)
    controller.launch()
    return controller, TrayApp(controller, pystray)

def run_until_quit(controller, tray, seen):  # quits as the app does: a signal, on the loop's thread
    _on_signals(tray.quit_on_signal)
    tray.run()
    controller.shutdown()
    print("run returned", seen.is_set(), flush=True)
"""


# Quit lands after pystray's setup began to show the icon and before the icon's loop showed it: the
# loop ends first (the test forces that order; in CI a SIGTERM once hit it by chance).
QUIT_WHILE_SHOWING = """
import threading, pystray
from human_chat_completions.config import Settings
from human_chat_completions.tray.app import TrayApp
from human_chat_completions.tray.controller import ServerController

controller = ServerController(Settings(), data_path=sys_argv_data)
controller.launch()
tray = TrayApp(controller, pystray)
icon, loop_ended, quit_sent = tray.icon, threading.Event(), threading.Event()
run_loop, send = icon._mainloop, icon._send_message

def mainloop():
    run_loop()
    loop_ended.set()

def send_after_quit(*args):  # the first message from another thread is setup's "show the icon"
    if threading.current_thread() is not threading.main_thread() and not quit_sent.is_set():
        quit_sent.set()
        tray.quit()
        loop_ended.wait(10)
    send(*args)

icon._mainloop, icon._send_message = mainloop, send_after_quit
tray.run()
controller.shutdown()
print("run returned", loop_ended.is_set(), flush=True)
"""


def run_tray_script(script: str, tmp_path: Path, x_display: str) -> None:
    """Runs a tray app script in its own process; it must end by itself and say its run returned."""
    script = script.replace("sys_argv_data", repr(str(tmp_path / "data")))
    env = {**os.environ, "DISPLAY": x_display, "PYTHONFAULTHANDLER": "1"}
    env.pop("PYSTRAY_BACKEND", None)
    app = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = app.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        dump_stacks_and_kill(app)  # prints where each thread waits
        raise AssertionError("the process did not end after Quit") from None
    assert "run returned True" in output, output
    assert app.returncode == 0, output


@needs_x
def test_a_quit_while_the_icon_is_being_shown_still_ends_the_process(tmp_path: Path, x_display: str):
    run_tray_script(QUIT_WHILE_SHOWING, tmp_path, x_display)


# SIGTERM lands while the icon's loop (the main thread) is inside python-xlib holding its display
# lock: the script takes that lock and signals itself as the loop begins to show the icon. Quit's
# X calls made inside the handler would wait for the lock on the very thread that holds it.
SIGNAL_WHILE_X_IS_BUSY = TRAY_SCRIPT_START + """
signalled = threading.Event()

def show_holding_the_lock(icon, show):
    if threading.current_thread() is threading.main_thread() and not signalled.is_set():
        signalled.set()
        with icon._display.display.send_recv_lock:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100):  # the handler runs at one of these steps
                pass
    show(icon)

controller, tray = tray_showing_with(show_holding_the_lock)
run_until_quit(controller, tray, signalled)
"""


@needs_x
def test_a_signal_while_the_icon_loop_is_inside_xlib_still_quits(tmp_path: Path, x_display: str):
    run_tray_script(SIGNAL_WHILE_X_IS_BUSY, tmp_path, x_display)


# pystray's X11 loop lets setup begin, then notes which thread it runs on: the script holds the
# loop between the two (as a busy machine may), so setup's show comes first.
SHOW_BEFORE_THE_LOOP_IS_NAMED = TRAY_SCRIPT_START + """
shown = threading.Event()
controller, tray = tray_showing_with(lambda icon, show: (shown.set(), show(icon)))
mark_ready = tray.icon._mark_ready

def mark_ready_then_pause():
    mark_ready()
    time.sleep(0.5)  # setup's thread runs meanwhile

tray.icon._mark_ready = mark_ready_then_pause
threading.Thread(target=lambda: (shown.wait(10), os.kill(os.getpid(), signal.SIGTERM)), daemon=True).start()
run_until_quit(controller, tray, shown)
"""


@needs_x
def test_the_icon_is_shown_even_when_setup_comes_before_the_loop_is_named(tmp_path: Path, x_display: str):
    run_tray_script(SHOW_BEFORE_THE_LOOP_IS_NAMED, tmp_path, x_display)
