"""POST /v1/messages: Anthropic's Messages API on the same switchboard (being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
