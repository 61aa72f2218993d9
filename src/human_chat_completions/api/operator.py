"""The operator HTTP API: how the window, scripts, remote operators and tests act on the switchboard."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from human_chat_completions import operators
from human_chat_completions.api.errors import APIError
from human_chat_completions.api.requests import bearer_token
from human_chat_completions.core import Exchange, ExchangeClosedError, Mode, Switchboard
from human_chat_completions.core.conversation import Conversation
from human_chat_completions.core.events import (
    ConversationChanged,
    Event,
    ExchangeChanged,
    ExchangeClosed,
    ExchangeOpened,
    ReplyDelta,
)
from human_chat_completions.core.record import ExchangeRecord, iso, record_of
from human_chat_completions.core.switchboard import ExchangeClaimedError
from human_chat_completions.token_guard import TokenGuard

log = logging.getLogger(__name__)


async def require_operator(request: Request) -> None:
    """The main operator token or a named operator's (`hcc operators add`), with wrong guesses from
    one address slowed down (429 while it waits). `request.state.operator_name` is the operator's name,
    None for the main token.

    Async, and only a named operator's token is looked up on a worker thread (it reads and hashes):
    FastAPI runs a plain function on one, a thread hop in front of every operator call."""
    guard: TokenGuard = request.app.state.token_guard
    address = request.client.host if request.client else ""
    wait = guard.wait_seconds(address)
    if wait:
        raise APIError(
            429,
            f"Too many wrong operator tokens from this address; try again in {math.ceil(wait)} s.",
            type="rate_limit_error",
            code="too_many_wrong_tokens",
        )
    expected: str = request.app.state.operator_token
    token = bearer_token(request)
    main = hmac.compare_digest(token.encode(), expected.encode())
    name = None if main else await run_in_threadpool(operators.name_for_token, token)
    request.state.operator_name = name
    if not main and name is None:
        guard.failed(address)
        raise APIError(
            401,
            "The operator API needs 'Authorization: Bearer <operator token>'.",
            code="invalid_operator_token",
        )


router = APIRouter(prefix="/operator/api", dependencies=[Depends(require_operator)])


class RegenerateBody(BaseModel):
    instruction: str | None = Field(default=None, max_length=500)


class NoteBody(BaseModel):
    note: str | None = Field(default=None, max_length=5000)
    tag: str | None = Field(default=None, max_length=200)


class ChooseBody(BaseModel):
    draft_id: str | None = None


class ClaimBody(BaseModel):
    take_over: bool = Field(
        default=False, description="Take the exchange from the operator holding it (noted on it).")


class ModeBody(BaseModel):
    mode: Mode


def exchange_json(exchange: Exchange, switchboard: Switchboard) -> dict[str, Any]:
    """The exchange's record (`core.record.ExchangeRecord`), the same shape the log and the
    exports hold."""
    conversation = switchboard.conversation(exchange.conversation_id)
    return record_of(exchange, conversation).model_dump(mode="json")


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "label": conversation.label,
        "identity": conversation.identity,
        "owner": conversation.owner,
        "mode": conversation.mode.value,
        "study": conversation.condition.study if conversation.condition else None,
        "condition": conversation.condition.name if conversation.condition else None,
        "persona": conversation.condition.persona if conversation.condition else None,
        "created_at": iso(conversation.created_at),
        "exchange_ids": list(conversation.exchange_ids),
        "armed_failure": _armed(conversation),
    }


def _armed(conversation: Conversation) -> dict[str, Any] | None:
    error = conversation.armed_failure
    if error is None:
        return None
    return {"status": error.status, "drop": error.drops_connection, "message": error.message}


def switchboard_of(request: Request) -> Switchboard:
    return request.app.state.switchboard


def logged_first(request: Request) -> None:
    """Write what the log still holds before the operator API shows it. A request for a person is
    written two loop turns after it opens (`ExchangeLog._soon`), and a call answered on the loop can
    come sooner: an operator who sees a request can count on it being in the file."""
    exchange_log = getattr(request.app.state, "exchange_log", None)
    if exchange_log is not None:
        exchange_log.flush()


def exchange_of(switchboard: Switchboard, exchange_id: str) -> Exchange:
    try:
        return switchboard.get(exchange_id)
    except KeyError:
        raise APIError(404, f"No exchange with id '{exchange_id}'.", code="exchange_not_found") from None


# The records are built as dicts (no second validation of every request body); the model is
# named here so the API's schema documents the shape.
_RECORDS: dict[int | str, dict[str, Any]] = {200: {"model": list[ExchangeRecord]}}
_RECORD: dict[int | str, dict[str, Any]] = {200: {"model": ExchangeRecord}}


@router.get("/exchanges", response_model=None, responses=_RECORDS)
async def list_exchanges(request: Request, outcome: str | None = None,
                         state: str | None = None) -> list[dict[str, Any]]:
    """Exchanges of this run, oldest first; `outcome` filters (comma-separated outcomes allowed;
    `state` is its older name)."""
    switchboard = switchboard_of(request)
    logged_first(request)
    asked = outcome or state
    wanted = {part.strip() for part in asked.split(",")} if asked else None
    return [
        exchange_json(exchange, switchboard)
        for exchange in switchboard.exchanges.values()
        if wanted is None or exchange.state.value in wanted
    ]


@router.get("/exchanges/{exchange_id}", response_model=None, responses=_RECORD)
async def get_exchange(request: Request, exchange_id: str) -> dict[str, Any]:
    switchboard = switchboard_of(request)
    logged_first(request)
    return exchange_json(exchange_of(switchboard, exchange_id), switchboard)


def closed_error(error: ExchangeClosedError) -> APIError:
    state = error.exchange.state.value
    return APIError(
        409,
        f"Exchange {error.exchange.id} is {state} and takes no more text.",
        type="conflict_error",
        param=state,
        code=f"exchange_{state}",
    )


def _claimed_error(error: ExchangeClaimedError) -> APIError:
    return APIError(
        409,
        f"Exchange {error.exchange.id} is claimed by {error.holder}, who answers it. To take over "
        f"from {error.holder}, POST /operator/api/exchanges/{error.exchange.id}/claim with "
        '{"take_over": true}.',
        type="conflict_error",
        code="exchange_claimed",
    )


def claim_exchange(request: Request, exchange_id: str, take_over: bool = False) -> Exchange:
    """The acting named operator claims the exchange: 404, or 409 if it is closed or another holds it."""
    switchboard, operator = switchboard_of(request), request.state.operator_name
    exchange = exchange_of(switchboard, exchange_id)
    holder = exchange.claimed_by
    try:
        switchboard.claim(exchange.id, operator, take_over=take_over)
    except ExchangeClaimedError as error:
        raise _claimed_error(error) from None
    except ExchangeClosedError as error:
        raise closed_error(error) from None
    if holder not in (None, operator):
        log.info("operator %s took exchange %s over from %s", operator, exchange.id, holder)
    return exchange


@router.post("/exchanges/{exchange_id}/claim", response_model=None, responses=_RECORD)
async def claim(request: Request, exchange_id: str, body: ClaimBody | None = None) -> dict[str, Any]:
    """The acting named operator answers this exchange; other operators' replies get 409. One held
    by another operator stays theirs unless `take_over` is true (noted on the exchange and logged)."""
    if request.state.operator_name is None:
        raise APIError(400, "Only a named operator claims exchanges: use a token from "
                            "`hcc operators add NAME`.", code="operator_unnamed")
    exchange = claim_exchange(request, exchange_id, take_over=body is not None and body.take_over)
    return exchange_json(exchange, switchboard_of(request))


def choose_draft(switchboard: Switchboard, exchange: Exchange, draft_id: str | None) -> None:
    if draft_id is not None and all(d.id != draft_id for d in exchange.drafts):
        raise APIError(404, f"No draft '{draft_id}' on exchange {exchange.id}.", param="draft_id",
                       code="draft_not_found")
    switchboard.drafts.choose(exchange, draft_id)


def _copilot(request: Request):
    copilot = getattr(request.app.state, "copilot", None)
    if copilot is None or not copilot.available:
        raise APIError(409, "No LLM copilot profile is configured.", type="conflict_error",
                       code="copilot_unavailable")
    return copilot


@router.post("/exchanges/{exchange_id}/note")
async def note(request: Request, exchange_id: str, body: NoteBody) -> dict[str, Any]:
    """The operator's note and tag on an exchange (e.g. a dialogue act), at any time."""
    switchboard = switchboard_of(request)
    exchange = exchange_of(switchboard, exchange_id)
    switchboard.annotate(exchange.id, body.note, body.tag)
    return exchange_json(exchange, switchboard)


@router.post("/exchanges/{exchange_id}/choose")
async def choose(request: Request, exchange_id: str, body: ChooseBody) -> dict[str, Any]:
    """Take a draft into the reply (or `null`: discard all drafts)."""
    switchboard = switchboard_of(request)
    exchange = exchange_of(switchboard, exchange_id)
    choose_draft(switchboard, exchange, body.draft_id)
    return exchange_json(exchange, switchboard)


@router.post("/exchanges/{exchange_id}/regenerate")
async def regenerate(request: Request, exchange_id: str, body: RegenerateBody) -> dict[str, Any]:
    """New copilot drafts, optionally with a short instruction ("shorter", "more polite")."""
    switchboard = switchboard_of(request)
    exchange = exchange_of(switchboard, exchange_id)
    if not exchange.state.open:
        raise closed_error(ExchangeClosedError(exchange))
    _copilot(request).regenerate(exchange.id, body.instruction)
    return exchange_json(exchange, switchboard)


@router.post("/exchanges/{exchange_id}/takeover")
async def take_over(request: Request, exchange_id: str) -> dict[str, Any]:
    """Stop an auto answer mid-stream; what was sent stays, the operator finishes it."""
    switchboard = switchboard_of(request)
    exchange = exchange_of(switchboard, exchange_id)
    if not _copilot(request).take_over(exchange.id):
        raise APIError(409, f"Exchange {exchange.id} has no auto answer running.",
                       type="conflict_error", code="not_auto")
    return exchange_json(exchange, switchboard)


@router.get("/conversations")
async def list_conversations(request: Request) -> list[dict[str, Any]]:
    conversations = switchboard_of(request).conversations.conversations.values()
    return [conversation_json(conversation) for conversation in conversations]


@router.post("/conversations/{conversation_id}/mode")
async def set_mode(request: Request, conversation_id: str, body: ModeBody) -> dict[str, Any]:
    switchboard = switchboard_of(request)
    try:
        conversation = switchboard.set_mode(conversation_id, body.mode)
    except KeyError:
        raise APIError(404, f"No conversation with id '{conversation_id}'.",
                       code="conversation_not_found") from None
    return conversation_json(conversation)


def event_json(event: Event, switchboard: Switchboard) -> dict[str, Any]:
    if isinstance(event, ConversationChanged):
        return {"type": event.type, "conversation": conversation_json(event.conversation)}
    data: dict[str, Any] = {"type": event.type, "exchange_id": event.exchange.id,
                            "conversation_id": event.exchange.conversation_id,
                            "state": event.exchange.state.value}
    if isinstance(event, ReplyDelta):
        data["text"] = event.text
    elif isinstance(event, ExchangeOpened | ExchangeChanged | ExchangeClosed):
        data["exchange"] = exchange_json(event.exchange, switchboard)
    return data


class EventEncoder:
    """An event as the feed's JSON text. A request never changes, and a long history made each of
    an exchange's events cost a deep copy and an encoding of it: each request is encoded once."""

    def __init__(self, switchboard: Switchboard, remembered: int = 64) -> None:
        self.switchboard = switchboard
        self.remembered = remembered
        self._requests: dict[str, str] = {}

    def batch(self, events: list[Event]) -> str:
        """Events that came together, as SSE. An event carries its exchange as it is now, not as
        it was, so all of one exchange's events here carry the same text: it is encoded once."""
        records: dict[str, str] = {}
        return "".join(f"event: {e.type}\ndata: {self._event(e, records)}\n\n" for e in events)

    def _event(self, event: Event, records: dict[str, str]) -> str:
        if isinstance(event, ConversationChanged | ReplyDelta):
            return json.dumps(event_json(event, self.switchboard), ensure_ascii=False)
        exchange = event.exchange
        if exchange.id not in records:
            records[exchange.id] = self._record(exchange)
        data = {"type": event.type, "exchange_id": exchange.id,
                "conversation_id": exchange.conversation_id, "state": exchange.state.value}
        return json.dumps(data, ensure_ascii=False)[:-1] + ', "exchange": ' + records[exchange.id] + "}"

    def _record(self, exchange: Exchange) -> str:
        conversation = self.switchboard.conversation(exchange.conversation_id)
        record = record_of(exchange, conversation).model_dump(mode="json", exclude={"request"})
        # Both objects end in "}": the exchange goes in as the last field, its request as its last.
        return json.dumps(record, ensure_ascii=False)[:-1] + ', "request": ' + self._request(exchange) + "}"

    def _request(self, exchange: Exchange) -> str:
        text = self._requests.pop(exchange.id, None)
        if text is None:
            text = json.dumps(exchange.request, ensure_ascii=False)
        self._requests[exchange.id] = text  # the newest last: the oldest go first
        while len(self._requests) > self.remembered:
            del self._requests[next(iter(self._requests))]
        return text


FEED_BATCH = 64  # events in one write of the feed, at most


@router.get("/events")
async def events(request: Request) -> StreamingResponse:
    """Server-sent events: every switchboard event from now on, with keep-alive comments."""
    switchboard = switchboard_of(request)
    keepalive = request.app.state.settings_store.current.keepalive_seconds
    encode = EventEncoder(switchboard)

    async def feed() -> AsyncIterator[str]:
        with switchboard.events.subscription() as queue:
            yield ": connected\n\n"
            while True:
                try:
                    async with asyncio.timeout(keepalive):
                        event = await queue.get()
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                # What came together goes in one write: each write wakes the reader once more.
                batch = [event]
                while not queue.empty() and len(batch) < FEED_BATCH:
                    batch.append(queue.get_nowait())
                if any(isinstance(e, ExchangeOpened) and e.exchange.mode is not Mode.AUTO for e in batch):
                    logged_first(request)  # an auto answer's row waits on purpose: its first words go first
                yield encode.batch(batch)

    return StreamingResponse(feed(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache"})
