"""Fixtures for the desktop app: a log folder, a browser that only records, fake desktop tools, and a
real X server + D-Bus session + dunst notification daemon for process tests."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
import webbrowser
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import wait_until

needs_x = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb: apt-get install xvfb xauth (.ci/run installs it)")
needs_desktop_session = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("Xvfb", "dbus-daemon", "dunst", "dunstctl")),
    reason="needs Xvfb, dbus-daemon and dunst: apt-get install xvfb xauth dbus dunst (.ci/run installs them)",
)


@pytest.fixture(autouse=True)
def app_log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HCC_LOG_DIR", str(tmp_path / "logs"))
    # No real session bus by accident: tests that want one start their own.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    return tmp_path / "logs"


class Recorder:
    """A small executable that appends its arguments (or stdin) to a file: stands in for the
    browser, xdg-open and xclip, so tests never open anything real."""

    def __init__(self, path: Path, name: str, stdin: bool = False) -> None:
        self.path = path / name
        self.out = path / f"{name}.out"
        source = 'cat >> "{out}"; echo >> "{out}"' if stdin else 'echo "$@" >> "{out}"'
        self.path.write_text("#!/bin/sh\n" + source.format(out=self.out) + "\n")
        self.path.chmod(0o755)

    def lines(self) -> list[str]:
        return self.out.read_text().splitlines() if self.out.exists() else []


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    recorder = Recorder(folder, "browser")
    monkeypatch.setenv("BROWSER", str(recorder.path))
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # re-read BROWSER in this process
    return recorder


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Recorder]:
    """xdg-open and xclip on PATH that only record."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    tools = {"xdg-open": Recorder(folder, "xdg-open"), "xclip": Recorder(folder, "xclip", stdin=True)}
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return tools


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
    """End a process this test started, by its PID. The wait is long, to tell slow (2 busy cores)
    from hung: a hung one prints its threads' stacks, is killed, and its test fails on the exit
    code. The one such hang seen in CI was the tray's own bug (test_desktop_process.py, its end)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            dump_stacks_and_kill(process)
    for stream in (process.stdout, process.stderr):
        if stream is not None and not stream.closed:
            stream.close()


def dump_stacks_and_kill(process: subprocess.Popen) -> None:
    """A hung app: SIGABRT makes its faulthandler (PYTHONFAULTHANDLER, set by start_hcc) print every
    thread's stack to its output, which the failing test then shows; then it is gone for sure."""
    process.send_signal(signal.SIGABRT)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
    if process.stdout is not None and not process.stdout.closed:
        print("the app did not exit; its last output:\n" + _output_there(process.stdout)[-20000:])


def _output_there(stream, seconds: float = 5) -> str:
    """What the pipe holds, without waiting for its end: a child the app started may keep it open."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0 and select.select([stream], [], [], left)[0]:
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _free_display() -> int:
    for number in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number")


@dataclass
class DesktopSession:
    display: str
    bus: str
    received: Path  # one line per notification dunst received: app, summary, body

    @property
    def env(self) -> dict[str, str]:
        return {"DISPLAY": self.display, "DBUS_SESSION_BUS_ADDRESS": self.bus}

    def notifications(self) -> list[list[str]]:
        if not self.received.exists():
            return []
        return [line.split("\t") for line in self.received.read_text().splitlines()]

    def click_first(self) -> None:
        subprocess.run(["dunstctl", "action", "0"], env={**os.environ, **self.env}, check=True,
                       timeout=10)


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[str]:
    number = _free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-nolisten", "tcp", "-screen", "0", "800x600x24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: Path(f"/tmp/.X11-unix/X{number}").exists() or xvfb.poll() is not None,
                   timeout=10)
        assert xvfb.poll() is None, "Xvfb did not start"
        yield f":{number}"
    finally:
        stop_process(xvfb)


@pytest.fixture
def desktop_session(tmp_path: Path, x_display: str) -> Iterator[DesktopSession]:
    """An X server, a D-Bus session bus and dunst recording every notification it gets."""
    folder = tmp_path / "session"
    folder.mkdir()
    received = folder / "received.tsv"
    script = folder / "record.sh"
    script.write_text(f"#!/bin/sh\nprintf '%s\\t%s\\t%s\\n' \"$1\" \"$2\" \"$3\" >> {received}\n")
    script.chmod(0o755)
    dunstrc = folder / "dunstrc"
    dunstrc.write_text(f'[record]\n    summary = "*"\n    script = {script}\n')
    bus_address = f"unix:path={folder}/bus"
    dbus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", f"--address={bus_address}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dunst = None
    try:
        wait_until(lambda: (folder / "bus").exists(), timeout=10)
        env = {**os.environ, "DISPLAY": x_display, "DBUS_SESSION_BUS_ADDRESS": bus_address}
        dunst = subprocess.Popen(["dunst", "-config", str(dunstrc)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: subprocess.run(["dunstctl", "count"], env=env, capture_output=True,
                                          timeout=5).returncode == 0, timeout=10)
        yield DesktopSession(x_display, bus_address, received)
    finally:
        if dunst is not None:
            stop_process(dunst)
        stop_process(dbus)


def start_hcc(tmp_path: Path, env: dict[str, str], port: int | None = None,
              *args: str) -> subprocess.Popen:
    """Plain `hcc` (the desktop app) as a real process, with the test's folders."""
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    if port is not None:
        (config / "settings.json").write_text(f'{{"port": {port}}}')
    full_env = {**os.environ, "HCC_CONFIG_DIR": str(config), "HCC_DATA_DIR": str(tmp_path / "data"),
                "HCC_LOG_DIR": str(tmp_path / "logs"), "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1", **env}
    full_env.pop("PYSTRAY_BACKEND", None)
    full_env.pop("HCC_NO_TRAY", None)
    return subprocess.Popen([sys.executable, "-m", "human_chat_completions", *args], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def read_log(tmp_path: Path) -> str:
    path = tmp_path / "logs" / "hcc.log"
    return path.read_text() if path.exists() else ""


def wait_for_log(tmp_path: Path, text: str, timeout: float = 30) -> str:
    wait_until(lambda: text in read_log(tmp_path), timeout=timeout, interval=0.1)
    return read_log(tmp_path)

