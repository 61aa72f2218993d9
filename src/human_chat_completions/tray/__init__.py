"""The tray-resident desktop app. Nothing here imports pystray at import time (it needs a display)."""

from human_chat_completions.tray.controller import PortInUseError, ServerController

__all__ = ["PortInUseError", "ServerController"]
