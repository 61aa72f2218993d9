"""POST /api/chat, GET /api/tags: Ollama's chat API on the same switchboard (being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
