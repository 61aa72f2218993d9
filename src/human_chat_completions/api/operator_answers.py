"""The operator API's answers: a reply (text, tool calls, at once or paced) and a failure the
client meets (a refusal, or an injected provider error or cut connection)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator

from human_chat_completions.api.errors import APIError
from human_chat_completions.api.operator import (
    choose_draft,
    claim_exchange,
    closed_error,
    conversation_json,
    exchange_json,
    exchange_of,
    require_operator,
    switchboard_of,
)
from human_chat_completions.core import Exchange, ExchangeClosedError, Switchboard
from human_chat_completions.core.delivery import Pace, pace_for, send_paced
from human_chat_completions.core.stream import DROPPED
from human_chat_completions.core.study import guard_hit
from human_chat_completions.core.tool_calls import ToolCall, answer_problem

router = APIRouter(prefix="/operator/api", dependencies=[Depends(require_operator)])


class ToolCallBody(BaseModel):
    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class ReplyBody(BaseModel):
    text: str = ""
    tool_calls: list[ToolCallBody] = Field(
        default_factory=list, description="Calls of the request's tools; they finish the reply.")
    done: bool = False
    draft_id: str | None = Field(
        default=None, description="The copilot draft this reply is based on (sent as is or edited).")
    delivery: Literal["now", "paced"] = Field(
        default="now", description="`paced`: the whole text at the conversation's pace, then done.")
    force: bool = Field(default=False, description="Send even if the reply holds a guard phrase, "
                                                   "or arguments or JSON the request's schema refuses.")

    @model_validator(mode="after")
    def _paced_is_whole(self) -> ReplyBody:
        if self.delivery == "paced" and not self.done:
            raise ValueError("paced delivery sends the whole reply: set done to true")
        if self.tool_calls and not self.done:
            raise ValueError("tool calls finish the reply: set done to true")
        return self


class FailBody(BaseModel):
    message: str = Field(default="The operator ended this request.", min_length=1)
    status: Literal[429, 500, 503, 529] | None = Field(
        default=None, description="Send this HTTP error, in the shape of the API the client used.")
    drop: bool = Field(default=False, description="Cut the connection instead (mid-reply if started).")


@router.post("/exchanges/{exchange_id}/reply")
async def reply(request: Request, exchange_id: str, body: ReplyBody) -> dict[str, Any]:
    """Append text to the reply at once; `done: true` finishes it."""
    if request.state.operator_name is not None:  # the main token's operator may answer any exchange
        claim_exchange(request, exchange_id)  # a named operator's reply claims it
    switchboard = switchboard_of(request)
    exchange = exchange_of(switchboard, exchange_id)
    if body.draft_id is not None:
        choose_draft(switchboard, exchange, body.draft_id)
    if not exchange.state.open:
        raise closed_error(ExchangeClosedError(exchange))
    _guard(switchboard, exchange, body)
    _check_answer(exchange, body)
    if body.tool_calls:
        return _send_tool_calls(request, exchange, body)
    if body.delivery == "paced":
        _send_paced(request, exchange, body.text)
        return exchange_json(exchange, switchboard)
    try:
        switchboard.reply(exchange.id, body.text, done=body.done, operator=request.state.operator_name)
    except ExchangeClosedError as error:
        raise closed_error(error) from None
    # One turn of the loop: the participant's stream, woken by the reply, sends it before this
    # answer to the operator is built and sent (0.1 ms of every Send -> first byte).
    await asyncio.sleep(0)
    return exchange_json(exchange, switchboard)


def _guard(switchboard: Switchboard, exchange: Exchange, body: ReplyBody) -> None:
    """A reply that would break the persona (a study's guard phrase) is held: 409 naming the
    phrase, unless the operator forces it. Either way the exchange is flagged."""
    condition = switchboard.conversation(exchange.conversation_id).condition
    phrase = guard_hit(exchange.reply.text + body.text, condition.guard_phrases) if condition else None
    if phrase is None:
        return
    switchboard.flag_guard(exchange.id, phrase, "forced" if body.force else "held")
    if not body.force:
        raise APIError(409, f"The reply contains the guard phrase {phrase!r}; it was held. Send "
                            "it with \"force\": true if it is meant.", type="conflict_error",
                       param=phrase, code="guard_phrase")


def _check_answer(exchange: Exchange, body: ReplyBody) -> None:
    """A finished answer must be what the request asked for (its tools' argument schemas, its
    response format): 422 naming the field, unless forced."""
    if not body.done or body.force:
        return
    calls = [ToolCall(call.name, call.arguments) for call in body.tool_calls]
    problem = answer_problem(exchange.request, exchange.reply.text + body.text, calls)
    if problem is not None:
        raise APIError(422, f"The answer does not fit the request: {problem}. Send it with "
                            "\"force\": true if it is meant.", param=problem.field, code="answer_invalid")


def _send_tool_calls(request: Request, exchange: Exchange, body: ReplyBody) -> dict[str, Any]:
    switchboard = switchboard_of(request)
    try:
        if body.text:
            switchboard.reply(exchange.id, body.text, operator=request.state.operator_name)
        calls = [ToolCall(call.name, call.arguments) for call in body.tool_calls]
        switchboard.send_tool_calls(exchange.id, calls, operator=request.state.operator_name)
    except ExchangeClosedError as error:
        raise closed_error(error) from None
    return exchange_json(exchange, switchboard)


def _send_paced(request: Request, exchange: Exchange, text: str) -> None:
    """The whole reply at the conversation's pace (its study condition's, else the settings'),
    as the window's Send does; the call returns at once."""
    settings = request.app.state.settings_store.current
    condition = switchboard_of(request).conversation(exchange.conversation_id).condition
    pace = pace_for(condition, Pace(settings.first_token_delay, settings.tokens_per_second))
    sending: set[asyncio.Task] = request.app.state.paced_sends
    task = asyncio.get_running_loop().create_task(
        send_paced(switchboard_of(request), exchange.id, text, pace, operator=request.state.operator_name))
    sending.add(task)  # held until done: the loop keeps only weak references to tasks
    task.add_done_callback(sending.discard)


@router.post("/exchanges/{exchange_id}/fail")
async def fail(request: Request, exchange_id: str, body: FailBody) -> dict[str, Any]:
    """End a request with an error the client sees: a plain refusal (502), or an injected
    failure as a provider sends it (`status` 429/500/503/529, or `drop` to cut the connection)."""
    switchboard = switchboard_of(request)
    exchange = exchange_of(switchboard, exchange_id)
    injected = body.drop or body.status is not None
    code = DROPPED if body.drop else ("injected_error" if injected else "operator_declined")
    try:
        switchboard.fail(exchange.id, body.message, code, status=None if body.drop else body.status,
                         injected=injected)
    except ExchangeClosedError as error:
        raise closed_error(error) from None
    return exchange_json(exchange, switchboard)


class ArmBody(BaseModel):
    message: str = Field(default="Rate limit reached. Please try again later.", min_length=1)
    status: Literal[429, 500, 503, 529] | None = 429
    drop: bool = False


@router.post("/conversations/{conversation_id}/fail-next")
async def fail_next(request: Request, conversation_id: str, body: ArmBody) -> dict[str, Any]:
    """The conversation's next request fails at once with this status (or a cut connection),
    before its response starts: a streaming app meets the status as a provider sends it."""
    switchboard = switchboard_of(request)
    if conversation_id not in switchboard.conversations.conversations:
        raise APIError(404, f"No conversation '{conversation_id}'.", code="conversation_not_found")
    code, status = (DROPPED, None) if body.drop else ("injected_error", body.status or 429)
    return conversation_json(switchboard.arm_failure(conversation_id, body.message, code, status))


@router.delete("/conversations/{conversation_id}/fail-next")
async def disarm(request: Request, conversation_id: str) -> dict[str, Any]:
    switchboard = switchboard_of(request)
    if conversation_id not in switchboard.conversations.conversations:
        raise APIError(404, f"No conversation '{conversation_id}'.", code="conversation_not_found")
    return conversation_json(switchboard.disarm_failure(conversation_id))
