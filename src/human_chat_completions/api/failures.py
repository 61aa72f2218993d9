"""Failures on the wire: the status, body and headers a client gets when a reply fails, and the
cut connection the operator can ask for.

An error the operator injects looks like a real provider's, so the participant's app meets it as
it would in the wild: OpenAI's error types, `retry-after` on a 429, and no `x-should-retry: false`
(a real provider does not send it, and the client's own retries are part of what is studied).
"""

from __future__ import annotations

import logging
from typing import Any

from human_chat_completions.api.errors import NO_RETRY, error_body
from human_chat_completions.core.stream import SHUTDOWN, StreamError

# Failures of our own that the client cannot fix.
_OWN_STATUS = {SHUTDOWN: 503}

# Status → (OpenAI error type, code), as OpenAI's API spells them.
_INJECTED = {
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", "internal_error"),
    503: ("server_error", "service_unavailable"),
    529: ("server_error", "overloaded"),
}
INJECTABLE_STATUSES = tuple(_INJECTED)
RETRY_AFTER_SECONDS = 1


class ConnectionDropped(Exception):
    """Raised inside a response body to cut the connection mid-reply (the server closes it)."""

    expected = True  # not a fault: the error handlers keep it out of the error log


def status_of(error: StreamError) -> int:
    return error.status or _OWN_STATUS.get(error.code, 502)


def headers_of(error: StreamError) -> dict[str, str]:
    if error.status is None:
        return NO_RETRY
    return {"retry-after": str(RETRY_AFTER_SECONDS)} if error.status == 429 else {}


def openai_error(error: StreamError) -> dict[str, Any]:
    """The error body in OpenAI's shape."""
    if error.status in _INJECTED:
        kind, code = _INJECTED[error.status]
        return error_body(error.message, kind, None, code)
    return error_body(error.message, "server_error", None, error.code)


def raise_if_dropped(error: StreamError | None) -> None:
    if error is not None and error.drops_connection:
        raise ConnectionDropped(error.message)


def raise_if_cut_late(error: StreamError | None, fails_in_body: bool) -> None:
    """A non-stream response that started early (a long wait) can no longer change its status.
    Most APIs' clients read an error body under 200 as an answer (the official chat client as one
    without choices, which breaks the participant's app), so a failure then cuts the connection:
    the client's retry gets the status itself (the core gives a retry of a failed request the same
    failure at once), and a client that does not retry reports a network error, not a garbled
    answer. An API whose answer can say it failed (`fails_in_body`: the Responses API's failed
    response) says so, but for an injected status or a cut, which the operator chose to be seen
    as such."""
    if error is None:
        return
    if not fails_in_body or error.drops_connection or error.status is not None:
        raise ConnectionDropped(error.message)


class _QuietDrops(logging.Filter):
    """A cut the operator asked for is not a server fault: keep it out of the error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


def quiet_drops() -> None:
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in uvicorn_errors.filters):
        uvicorn_errors.addFilter(_QuietDrops())
