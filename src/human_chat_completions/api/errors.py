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


def error_response(error: APIError, path: str = "") -> JSONResponse:
    return JSONResponse(
        shaped_error_body(path, error),
        status_code=error.status,
        headers=NO_RETRY,
    )


# Each API this server speaks has its own error shape; its clients parse only their own.
_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 405: "invalid_request_error", 413: "request_too_large",
                    429: "rate_limit_error"}


def shaped_error_body(path: str, error: APIError) -> dict:
    """The error in the shape of the API `path` belongs to: Anthropic's under /v1/messages,
    Ollama's under /api/, OpenAI's elsewhere."""
    if path.startswith(("/v1/messages", "/messages")):
        kind = _ANTHROPIC_TYPES.get(error.status, "api_error" if error.status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": error.message}}
    if path.startswith("/api/"):
        return {"error": error.message}
    return error_body(error.message, error.type, error.param, error.code)


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
        return error_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc), request.url.path)

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"Unknown request URL: {request.method} {request.url.path}."
        else:
            message = str(exc.detail)
        code = _STATUS_TEXT.get(exc.status_code)
        return error_response(APIError(exc.status_code, message, code=code), request.url.path)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if getattr(exc, "expected", False):  # a cut connection the operator asked for
            log.info("connection cut on %s %s: %s", request.method, request.url.path, exc)
        else:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            APIError(500, "The server had an internal error.", type="server_error"), request.url.path
        )
