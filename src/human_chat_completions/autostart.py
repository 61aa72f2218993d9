"""Start at login: Windows Run key, macOS LaunchAgent, XDG autostart entry on Linux. Off by default."""

from __future__ import annotations

import logging
import os
import plistlib
import shlex
import shutil
import sys
from pathlib import Path

log = logging.getLogger(__name__)

ENTRY_NAME = "HumanChatCompletions"
LAUNCH_AGENT_LABEL = "io.github.human-chat-completions"
DESKTOP_FILE = "human-chat-completions.desktop"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
HIDDEN_ENV = "HCC_START_HIDDEN"  # started at login: no operator window (Linux, macOS)


def launch_command() -> list[str]:
    """How to start the desktop app again: the frozen executable, the `hcc` script, or python -m."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = shutil.which("hcc")
    if script:
        return [str(Path(script).resolve())]
    return [sys.executable, "-m", "human_chat_completions"]


def _home(home: Path | None) -> Path:
    return home if home is not None else Path.home()


# -- Linux (XDG) ----------------------------------------------------------------------------------

def xdg_autostart_path(home: Path | None = None) -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") if home is None else None
    base = Path(config) if config else _home(home) / ".config"
    return base / "autostart" / DESKTOP_FILE


def xdg_entry(command: list[str]) -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Human Chat Completions\n"
        "Comment=OpenAI-compatible API answered by a human operator\n"
        f"Exec=env {HIDDEN_ENV}=1 {shlex.join(command)}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


# -- macOS (LaunchAgent) --------------------------------------------------------------------------

def launch_agent_path(home: Path | None = None) -> Path:
    return _home(home) / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"


def launch_agent(command: list[str]) -> bytes:
    return plistlib.dumps({
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": command,
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "EnvironmentVariables": {HIDDEN_ENV: "1"},
    })


# -- Windows (registry) ---------------------------------------------------------------------------

def windows_command(command: list[str]) -> str:
    import subprocess

    return subprocess.list2cmdline(command)


def _windows_set(enabled: bool, command: list[str]) -> None:
    if sys.platform != "win32":  # also tells the type checker where winreg exists
        raise RuntimeError("the Run key exists only on Windows")
    import winreg

    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
        if enabled:
            winreg.SetValueEx(key, ENTRY_NAME, 0, winreg.REG_SZ, windows_command(command))
        else:
            try:
                winreg.DeleteValue(key, ENTRY_NAME)
            except FileNotFoundError:
                pass


def _windows_enabled() -> bool:
    if sys.platform != "win32":
        return False
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.QueryValueEx(key, ENTRY_NAME)
    except FileNotFoundError:
        return False
    return True


# -- the switch -----------------------------------------------------------------------------------

def entry_path(platform: str | None = None, home: Path | None = None) -> Path | None:
    """The file that makes the app start at login (None on Windows: a registry value)."""
    platform = platform or sys.platform
    if platform == "win32":
        return None
    if platform == "darwin":
        return launch_agent_path(home)
    return xdg_autostart_path(home)


def is_enabled(platform: str | None = None, home: Path | None = None) -> bool:
    platform = platform or sys.platform
    if platform == "win32":
        return _windows_enabled()
    path = entry_path(platform, home)
    return path is not None and path.exists()


def set_enabled(enabled: bool, platform: str | None = None, home: Path | None = None,
                command: list[str] | None = None) -> None:
    """Turn start-at-login on or off (idempotent)."""
    platform = platform or sys.platform
    command = command or launch_command()
    if platform == "win32":
        _windows_set(enabled, command)
        return
    path = entry_path(platform, home)
    assert path is not None
    if not enabled:
        path.unlink(missing_ok=True)
        log.info("start at login off (%s removed)", path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if platform == "darwin":
        path.write_bytes(launch_agent(command))
    else:
        path.write_text(xdg_entry(command), encoding="utf-8")
    log.info("start at login on (%s)", path)
