"""The HTTP surface: the OpenAI-compatible API and the operator API, translating wire to core."""

from human_chat_completions.api.app import create_app

__all__ = ["create_app"]
