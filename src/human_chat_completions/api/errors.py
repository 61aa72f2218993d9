"""One error envelope for every failure, in OpenAI's shape, and never an invitation to retry."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)

# The official clients retry 408/409/429/5xx unless told not to; a retry would put the same
# question in front of the operator twice.
NO_RETRY = {"x-should-retry": "false"}


class APIError(Exception):
    """An error a client should see, with the HTTP status and OpenAI's error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(error: APIError) -> JSONResponse:
    return JSONResponse(
        error_body(error.message, error.type, error.param, error.code),
        status_code=error.status,
        headers=NO_RETRY,
    )


def validation_error(exc: ValidationError | RequestValidationError) -> APIError:
    """The first problem pydantic found, named the way OpenAI names a parameter."""
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("body",)]
    param = ".".join(location) or None
    message = first.get("msg", "Invalid request")
    if param:
        message = f"Invalid value for '{param}': {message}"
    return APIError(400, message, param=param, code="invalid_value")


_STATUS_TEXT = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def on_api_error(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc))

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"Unknown request URL: {request.method} {request.url.path}."
        else:
            message = str(exc.detail)
        code = _STATUS_TEXT.get(exc.status_code)
        return error_response(APIError(exc.status_code, message, code=code))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if getattr(exc, "expected", False):  # a cut connection the operator asked for
            log.info("connection cut on %s %s: %s", request.method, request.url.path, exc)
        else:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            APIError(500, "The server had an internal error.", type="server_error")
        )
