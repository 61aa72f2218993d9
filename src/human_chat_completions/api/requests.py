"""Reading a chat request off the wire: size limit, client key, JSON, schema, identity."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from human_chat_completions.api.errors import APIError, validation_error
from human_chat_completions.api.json_body import load_json_object
from human_chat_completions.api.wire import ChatCompletionRequest
from human_chat_completions.config import Settings
from human_chat_completions.core import Exchange, Switchboard
from human_chat_completions.core.exchange import ClientInfo
from human_chat_completions.settings_store import SettingsStore
from human_chat_completions.studies import Participant, Study, StudyBook, study_owner

RETRY_HEADERS = ("x-stainless-retry-count", "retry-attempt", "x-retry-count")


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def current_settings(request: Request) -> Settings:
    """The settings as they are now: one value for the whole request."""
    store: SettingsStore = request.app.state.settings_store
    return store.current


def check_client_key(request: Request, settings: Settings) -> None:
    """With client keys configured, a key from them or a participant's is needed. With only
    participant keys, a participant's key is needed unless anonymous clients are allowed. A study
    participant's key is always good."""
    token = bearer_token(request)
    if study_participant(request) is not None:
        return
    if settings.client_api_keys:
        accepted = [*settings.client_api_keys, *settings.participant_keys]
    elif settings.participant_keys and not settings.allow_anonymous_clients:
        accepted = list(settings.participant_keys)
    else:
        return
    if not any(hmac.compare_digest(token.encode(), key.encode()) for key in accepted):
        raise APIError(
            401,
            "Incorrect API key provided." if token else "This server needs an API key.",
            type="invalid_request_error",
            code="invalid_api_key",
        )


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise _too_large(limit)
    request.state.raw_body = bytes(body)
    return request.state.raw_body


def _too_large(limit: int) -> APIError:
    return APIError(
        413, f"Request body is larger than {limit} bytes.", code="request_too_large"
    )


def parse_chat_request(body: bytes) -> tuple[dict[str, Any], ChatCompletionRequest]:
    """The body as sent (kept for the log) and its validated form."""
    payload = load_json_object(body)
    if "messages" not in payload:
        raise APIError(400, "Missing required parameter: 'messages'.", param="messages",
                       code="missing_required_parameter")
    try:
        parsed = ChatCompletionRequest.model_validate(payload)
    except ValidationError as exc:
        raise validation_error(exc) from None
    return payload, parsed


def conversation_identity(request: Request, parsed: ChatCompletionRequest) -> str | None:
    """The thread the client names, strongest first: the header, `metadata.conversation_id`,
    `user`. With a participant's key it only chooses among that participant's threads."""
    header = request.headers.get("x-conversation-id", "").strip()
    if header:
        return header
    if parsed.metadata and parsed.metadata.get("conversation_id"):
        return parsed.metadata["conversation_id"]
    return parsed.user or None


def participant(request: Request, participant_keys: dict[str, str]) -> str | None:
    """The participant whose key the request carries: the owner of its conversations."""
    token = bearer_token(request)
    for key, label in participant_keys.items():
        if token and hmac.compare_digest(token.encode(), key.encode()):
            return label
    return None


def study_participant(request: Request) -> tuple[Study, Participant] | None:
    """The study participant whose key the request carries, if any."""
    studies: StudyBook | None = getattr(request.app.state, "studies", None)
    token = bearer_token(request)
    return studies.find_key(token) if studies is not None and token else None


def fingerprint(request: Request, payload: dict[str, Any]) -> str:
    """Same key and same body: what a client's automatic retry of a request looks like. A retry
    resends the very bytes, so the body as read is hashed (re-serialising a long history cost
    more than the rest of the request's way in); `payload` stands in when there are none."""
    raw: bytes | None = getattr(request.state, "raw_body", None)
    if raw is not None:
        # Hashed once. Left in the scope, a client that hung up mid-stream kept it alive in the
        # cancellation's reference cycle until the next full collection: 20 MB a request.
        del request.state.raw_body
    body = raw if raw is not None else json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(bearer_token(request).encode() + b"\n" + body).hexdigest()


def is_retry(request: Request) -> bool:
    for name in RETRY_HEADERS:
        value = request.headers.get(name, "")
        if value.isdigit() and int(value) > 0:
            return True
    return False


def mask_key(key: str) -> str:
    if not key:
        return ""
    return key[:3] + "…" + key[-4:] if len(key) > 10 else "…"


def client_info(request: Request) -> ClientInfo:
    address = request.client.host if request.client else ""
    return ClientInfo(
        address=address,
        user_agent=request.headers.get("user-agent", "")[:300],
        api_key_masked=mask_key(bearer_token(request)),
    )


def open_exchange(
    request: Request,
    switchboard: Switchboard,
    chat: dict[str, Any],
    parsed: ChatCompletionRequest,
    settings: Settings,
    as_sent: dict[str, Any] | None = None,
) -> Exchange:
    """Put a chat request (`chat`, validated as `parsed`) on the switchboard, or attach it to the
    waiting exchange it retries; `settings` are the request's (whose participant keys name its
    owner); `as_sent` is the body the client sent, when it was translated."""
    in_study = study_participant(request)
    owner, condition, label = participant(request, settings.participant_keys), None, None
    if in_study is not None:
        study, member = in_study
        # Studies reuse ids (each has its P01): the study keeps their threads apart.
        owner, label = study_owner(study.name, member.participant), member.participant
        condition = study.condition(member.condition)
    return switchboard.open(
        chat,
        stream=bool(parsed.stream),
        identity=conversation_identity(request, parsed),
        owner=owner,
        condition=condition,
        owner_label=label,
        fingerprint=fingerprint(request, as_sent if as_sent is not None else chat),
        client=client_info(request),
        is_retry=is_retry(request),
    )
