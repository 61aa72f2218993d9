"""Talking to the upstream LLM of a copilot profile through the official `openai` client.

`Upstream` keeps one `openai.AsyncOpenAI` per profile and streams replies as typed pieces, one per upstream chunk:

    upstream = Upstream()                        # keys from the OS keyring / env (keyring_store.get_key)
    async with contextlib.aclosing(upstream.stream_reply(profile, messages, params)) as pieces:
        async for piece in pieces:
            match piece:
                case TextDelta(text=text): ...
                case ToolCallDelta(tool_calls=calls): ...
                case Finish(finish_reason=reason, usage=usage): ...
    await upstream.aclose()

Every failure comes out as `UpstreamError(kind, message)`, the message written for the operator and never holding
the key. Cancelling the consuming task (operator take-over) closes the upstream HTTP stream at once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import openai
from pydantic import ValidationError

from human_chat_completions.copilot import keyring_store
from human_chat_completions.copilot.candidates import Candidate, close_candidates
from human_chat_completions.copilot.pieces import (
    ErrorKind,
    Finish,
    Piece,
    TextDelta,
    ToolCallDelta,
    UpstreamError,
)
from human_chat_completions.copilot.profiles import Profile
from human_chat_completions.copilot.sse import (
    TIMEOUT_ERRORS,
    TRANSPORT_ERRORS,
    raw_stream,
    request_headers,
    sse_chunks,
    upstream_session,
)
from human_chat_completions.core.record import compact_json

__all__ = [
    "Candidate", "ErrorKind", "Finish", "Piece", "TextDelta", "ToolCallDelta", "Upstream",
    "UpstreamError", "close_candidates",
]

log = logging.getLogger(__name__)


# Request fields a client may send that mean the same upstream; everything else (model, messages, stream, n,
# stream_options, user, metadata, store...) is ours to decide or would leak the participant's app details.
FORWARDED_PARAMS = frozenset({
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "presence_penalty",
    "frequency_penalty", "seed", "logit_bias", "logprobs", "top_logprobs", "response_format", "tools",
    "tool_choice", "parallel_tool_calls", "reasoning_effort",
})


# Placeholder sent when a profile has no key: local upstreams (Ollama, LM Studio, vLLM) accept anything, and the
# client refuses to start without one.
NO_KEY = "no-key"


def build_messages(
    messages: Iterable[Mapping[str, Any]], instruction: str | None = None, extra_instruction: str | None = None
) -> list[Mapping[str, Any]]:
    """The conversation sent upstream: one system message with the copilot instruction (and the operator's
    regenerate hint) first, then the client's messages unchanged, its own system prompt included.

    The hint goes into that first system message rather than after the last user turn: several chat templates
    (Mistral, Gemma, some Llama variants served by Ollama/vLLM) reject a system message anywhere but first.
    """
    parts = [instruction.strip() if instruction else ""]
    if extra_instruction and extra_instruction.strip():
        parts.append(f"For this reply, the operator asks: {extra_instruction.strip()}")
    system = "\n\n".join(p for p in parts if p)
    # Not copied: the body is encoded as soon as it is built, and nothing writes to it.
    first: list[Mapping[str, Any]] = [{"role": "system", "content": system}] if system else []
    return [*first, *messages]


def forwarded_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The generation parameters of a client request that are passed upstream (see FORWARDED_PARAMS)."""
    return {k: v for k, v in (params or {}).items() if k in FORWARDED_PARAMS and v is not None}


def request_body(
    profile: Profile,
    messages: Iterable[Mapping[str, Any]],
    params: Mapping[str, Any] | None = None,
    instruction: str | None = None,
    extra_instruction: str | None = None,
) -> dict[str, Any]:
    """The `chat.completions.create` arguments for one streamed draft. The profile's settings win over the
    client's; `instruction=None` means the profile's own instruction."""
    body = forwarded_params(params)
    if profile.temperature is not None:
        body["temperature"] = profile.temperature
    if profile.max_tokens is not None:
        body.pop("max_completion_tokens", None)
        body["max_tokens"] = profile.max_tokens
    body["model"] = profile.model
    body["messages"] = build_messages(
        messages, profile.instruction if instruction is None else instruction, extra_instruction
    )
    body["stream"] = True
    if profile.stream_usage:
        body["stream_options"] = {"include_usage": True}
    return body


_SECRETISH = re.compile(r"(sk-[A-Za-z0-9_\-*.]{3,}|Bearer\s+\S+|key-[A-Za-z0-9_\-*]{8,})")


def _clean(text: str, key: str | None, limit: int = 300) -> str:
    """An upstream's own message, safe to show: no key (not even masked), one line, not too long."""
    if key and key != NO_KEY:
        text = text.replace(key, "***")
    text = _SECRETISH.sub("***", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _upstream_message(error: openai.APIError) -> str:
    body = error.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return str(error.message or "")


@dataclass
class _Entry:
    client: openai.AsyncOpenAI
    signature: tuple[str, str, float]
    key: str | None
    key_problem: str | None
    looked_up_at: float
    session: aiohttp.ClientSession  # streams go through its pool, which keeps connections open
    headers: dict[str, str] = field(default_factory=dict)

    async def aclose(self) -> None:
        await self.client.close()
        await self.session.close()


class Upstream:
    """The copilot's upstream LLMs: one `openai.AsyncOpenAI` per profile, rebuilt when its address, key or
    timeout changes.

    key_lookup: where keys come from (default: environment variable, then OS keyring; see `keyring_store.get_key`).
        It may block (D-Bus), so it runs in a thread.
    key_ttl: seconds a looked-up key is reused before asking the keyring again. Keeps the keyring off the hot
        path of every draft; a refused key (401/403) is forgotten at once so a fixed key is picked up next time.
    """

    def __init__(
        self,
        key_lookup: Callable[[Profile], str | None] = keyring_store.get_key,
        key_ttl: float = 60.0,
    ) -> None:
        self._key_lookup = key_lookup
        self._key_ttl = key_ttl
        self._entries: dict[str, _Entry] = {}
        self._retired: list[_Entry] = []
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Upstream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        entries = [*self._entries.values(), *self._retired]
        self._entries.clear()
        self._retired.clear()
        for entry in entries:
            await entry.aclose()
        if entries:
            # aiohttp closes the pooled connections' transports on the loop's next turn: a loop
            # stopping right after would leave their sockets to the garbage collector.
            await asyncio.sleep(0)

    def forget(self, profile_name: str) -> None:
        """Look the key up again on next use (e.g. after the operator set a new one)."""
        entry = self._entries.get(profile_name)
        if entry is not None:
            entry.looked_up_at = float("-inf")

    async def _lookup(self, profile: Profile) -> tuple[str | None, str | None]:
        try:
            return await asyncio.to_thread(self._key_lookup, profile), None
        except keyring_store.KeyringUnavailable as error:
            # Local upstreams need no key, so carry on; if the upstream wants one, the auth error says why.
            return None, str(error)

    async def _entry(self, profile: Profile) -> _Entry:
        async with self._lock:
            entry = self._entries.get(profile.name)
            now = time.monotonic()
            fresh = entry is not None and now - entry.looked_up_at < self._key_ttl
            if entry is not None and fresh:
                key, problem = entry.key, entry.key_problem
            else:
                key, problem = await self._lookup(profile)
            signature = (profile.base_url, key or NO_KEY, profile.timeout_seconds)
            if entry is not None and entry.signature == signature:
                if not fresh:
                    entry.key, entry.key_problem, entry.looked_up_at = key, problem, now
                return entry
            if entry is not None:
                # A stream may still be running on the old client: close it with the others at the end.
                self._retired.append(entry)
            timeout = openai.Timeout(profile.timeout_seconds, connect=min(10.0, profile.timeout_seconds))
            client = openai.AsyncOpenAI(
                api_key=key or NO_KEY, base_url=profile.base_url, max_retries=0, timeout=timeout)
            session = upstream_session(profile.base_url, profile.timeout_seconds)
            entry = _Entry(client, signature, key, problem, now, session, request_headers(client))
            self._entries[profile.name] = entry
            return entry

    async def client(self, profile: Profile) -> openai.AsyncOpenAI:
        """The cached client for this profile (built on first use)."""
        return (await self._entry(profile)).client

    def _error(self, error: BaseException, profile: Profile, entry: _Entry, started: bool) -> UpstreamError:
        where = profile.base_url
        key = entry.key
        if isinstance(error, UpstreamError):
            return error
        if isinstance(error, (openai.AuthenticationError, openai.PermissionDeniedError)):
            self.forget(profile.name)
            status: int = error.status_code
            if key is None and entry.key_problem:
                message = (f"The copilot service for profile “{profile.name}” needs a key, and the OS keyring "
                           f"could not be read: {entry.key_problem}")
            elif key is None:
                message = (f"The copilot service for profile “{profile.name}” needs a key. "
                           f"Set it with: hcc keys set {profile.name}")
            elif status == 403:
                message = (f"The copilot service for profile “{profile.name}” refused access (HTTP 403): the key "
                           f"may not be allowed to use the model “{profile.model}”. Check the key, or set a new "
                           f"one with: hcc keys set {profile.name}")
            else:
                message = (f"The copilot service for profile “{profile.name}” refused the key (HTTP {status}). "
                           f"Set a new one with: hcc keys set {profile.name}")
            return UpstreamError("auth", message, status=status)
        if isinstance(error, openai.RateLimitError):
            retry = error.response.headers.get("retry-after")
            wait = f" It asks to wait {retry} s." if retry and retry.isdigit() else ""
            return UpstreamError(
                "rate_limited",
                "The copilot service is busy or over its usage limit (too many requests)." + wait
                + f" Details: {_clean(_upstream_message(error), key)}",
                status=429,
            )
        if isinstance(error, (openai.APITimeoutError, *TIMEOUT_ERRORS)):
            return UpstreamError(
                "timeout",
                f"The copilot service at {where} did not answer for {profile.timeout_seconds:g} seconds.",
            )
        if isinstance(error, openai.APIConnectionError) and not started:
            return UpstreamError(
                "unreachable",
                f"Cannot reach the copilot service at {where}. Is it running, and is the address right?",
            )
        if isinstance(error, (openai.APIConnectionError, *TRANSPORT_ERRORS)):
            return UpstreamError(
                "unreachable", f"The connection to the copilot service at {where} was lost in the middle of a reply."
            )
        if isinstance(error, openai.APIStatusError):
            status = int(error.status_code)
            detail = _clean(_upstream_message(error), key)
            if status == 404:
                return UpstreamError(
                    "other",
                    f"The copilot service at {where} answered “not found” (HTTP 404): check the model name "
                    f"“{profile.model}” and the address. Details: {detail}",
                    status=status,
                )
            if status >= 500:
                return UpstreamError(
                    "other", f"The copilot service had an internal problem (HTTP {status}). Details: {detail}",
                    status=status,
                )
            return UpstreamError(
                "other", f"The copilot service refused the request (HTTP {status}). Details: {detail}", status=status
            )
        if isinstance(error, (openai.APIResponseValidationError, ValueError, ValidationError, KeyError,
                              TypeError, AttributeError)):
            return UpstreamError(
                "bad_response",
                f"The copilot service at {where} sent an answer that could not be read. Is it an "
                "OpenAI-compatible address (usually ending in /v1)?",
            )
        if isinstance(error, openai.APIError):  # an `error` event inside the stream
            return UpstreamError(
                "other", f"The copilot service stopped with an error: {_clean(_upstream_message(error), key)}"
            )
        return UpstreamError("other", f"The copilot service failed ({type(error).__name__}).")

    async def stream_reply(
        self,
        profile: Profile,
        messages: Iterable[Mapping[str, Any]],
        params: Mapping[str, Any] | None = None,
        instruction: str | None = None,
        extra_instruction: str | None = None,
    ) -> AsyncGenerator[Piece, None]:
        """Stream one reply: a TextDelta or ToolCallDelta per upstream chunk that carries one (chunk boundaries
        kept, nothing merged), then exactly one Finish. Raises UpstreamError.

        messages: the client's conversation (kept as sent, system prompt included).
        params: the client's generation parameters (filtered by FORWARDED_PARAMS; the profile's win).
        instruction: replaces the profile's copilot instruction for this call ("" for none).
        extra_instruction: the operator's regenerate hint, e.g. "shorter".
        """
        entry = await self._entry(profile)
        body = request_body(profile, messages, params, instruction, extra_instruction)
        started = False
        finish_reason: str | None = None
        usage: dict[str, Any] | None = None
        model: str | None = None
        try:
            async with raw_stream(entry.client, entry.session, entry.headers, compact_json(body)) as response:
                started = True
                async for chunks in sse_chunks(response):
                    for chunk in chunks:
                        model = chunk.get("model") or model
                        if chunk.get("usage"):
                            usage = {k: v for k, v in chunk["usage"].items() if v is not None}
                        choices = chunk.get("choices")
                        if not choices:
                            continue
                        choice = choices[0]
                        if choice.get("finish_reason") is not None:
                            finish_reason = choice["finish_reason"]
                        delta = choice.get("delta") or {}
                        if delta.get("tool_calls"):
                            yield ToolCallDelta(list(delta["tool_calls"]))
                        if delta.get("content"):
                            yield TextDelta(delta["content"])
        except Exception as error:
            mapped = self._error(error, profile, entry, started)
            # No traceback: an upstream's own message may echo part of the key.
            log.debug("upstream failure: %s", type(error).__name__)
            log.warning("upstream %s (profile %s): %s", mapped.kind, profile.name, mapped.message)
            raise mapped from None
        yield Finish(finish_reason, usage, model)

    def draft_candidates(
        self,
        profile: Profile,
        messages: Iterable[Mapping[str, Any]],
        n: int,
        params: Mapping[str, Any] | None = None,
        instruction: str | None = None,
        extra_instruction: str | None = None,
    ) -> list[Candidate]:
        """Start N drafts at once (N concurrent upstream streams). Call inside the event loop; each candidate
        streams from the start whether or not it is being read yet."""
        if n < 1:
            raise ValueError("n must be at least 1")
        messages = [dict(m) for m in messages]
        return [
            Candidate(i, self.stream_reply(profile, messages, params, instruction, extra_instruction))
            for i in range(n)
        ]

    async def list_models(self, profile: Profile) -> list[str]:
        """The model names the upstream offers (a connection and key check for the settings screen)."""
        entry = await self._entry(profile)
        try:
            page = await entry.client.models.list()
            return [m.id for m in page.data]
        except Exception as error:
            raise self._error(error, profile, entry, False) from None
