"""The Flet operator window. Talks to the core only."""

from human_chat_completions.ui.app import flet_lifespan, mount_operator_ui

__all__ = ["flet_lifespan", "mount_operator_ui"]
