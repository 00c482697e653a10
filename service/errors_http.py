"""The service's own domain errors, and how every failure becomes a JSON `{"detail": "..."}` response.

User mistakes get a 4xx with a message that says what is wrong; anything unexpected is logged
with its stack trace and answered with a plain 500 that shows none of it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from index.errors import EmptyQuery, IndexMismatch, IndexNotFound, InvalidSetting
from ingest.errors import AihubQaError
from service.validation import question_problem

log = logging.getLogger("aihub_qa.service")  # the service's own lines (service.server shows them)


class InvalidRequest(AihubQaError):
    """A request that is well-formed JSON but asks for something the service does not accept."""


class UnsupportedMediaType(AihubQaError):
    """A request body that is not declared as JSON."""


class DocumentNotFound(AihubQaError):
    """No document with the requested id."""


class NotReady(AihubQaError):
    """The index is not loaded (still loading, or it failed to load)."""


STATUS_BY_ERROR: tuple[tuple[type[AihubQaError], int], ...] = (
    (EmptyQuery, 422),
    (InvalidSetting, 422),
    (InvalidRequest, 422),
    (UnsupportedMediaType, 415),
    (DocumentNotFound, 404),
    (NotReady, 503),
    (IndexNotFound, 503),
    (IndexMismatch, 503),
)
RETRY_AFTER_SECONDS = "5"


class ErrorBody(BaseModel):
    """Every error response: one readable sentence."""

    detail: str


class ErrorResponse(JSONResponse):
    """JSONResponse that cannot fail on text a client sent (lone surrogates are escaped)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


def error_response(status: int, detail: str, headers: Mapping[str, str] | None = None) -> ErrorResponse:
    return ErrorResponse({"detail": detail}, status_code=status, headers=dict(headers or {}))


def shown(value: object, limit: int = 60) -> str:
    """A client-supplied value for a message: strings quoted, all shortened, unprintables escaped."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > limit:
        text = text[:limit] + "…"
    text = printable(text)
    return f"'{text}'" if isinstance(value, str) else text


def printable(text: str) -> str:
    """Control characters, lone surrogates and other unprintables as \\uXXXX escapes."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def status_for(exc: AihubQaError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(exc, kind):
            return status
    return 400


# ------------------------------------------------------------------ validation messages

_BODY_EXAMPLE = 'a JSON object such as {"question": "광주 AI 데이터센터의 연산 능력은?"}'


def _field(loc: Sequence[Any]) -> str:
    return printable(".".join(str(part) for part in loc if part != "body"))


def describe_error(error: Mapping[str, Any]) -> str:
    """One validation error (pydantic's dict) as a readable phrase."""
    kind = error.get("type", "")
    field = _field(error.get("loc", ()))
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if not field:  # the body as a whole
        if kind == "missing":
            return f"the request body is empty; send {_BODY_EXAMPLE}"
        if kind == "string_unicode":
            return "a field name is not valid Unicode text (it contains an unpaired surrogate)"
        return f"the request body must be {_BODY_EXAMPLE}"
    if kind == "missing":
        return f"{field}: is required"
    if kind == "extra_forbidden":
        return f"{field}: is not an accepted field"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return f"{field}: must not be empty"
    if kind == "string_too_long":
        got = f", got {len(value)}" if isinstance(value, str) else ""
        return f"{field}: must be at most {ctx.get('max_length')} characters{got}"
    if kind == "string_pattern_mismatch" and isinstance(value, str):
        return f"{field}: {question_problem(value) or 'does not match ' + str(ctx.get('pattern'))}"
    if kind == "string_type":
        return f"{field}: must be a string"
    if kind == "string_unicode":
        return f"{field}: must be valid Unicode text (it contains an unpaired surrogate)"
    if kind in ("int_parsing", "int_type", "int_from_float", "finite_number"):
        return f"{field}: must be a whole number, got {shown(value)}"
    if kind == "greater_than_equal":
        return f"{field}: must be at least {ctx.get('ge')}, got {shown(value)}"
    if kind == "less_than_equal":
        return f"{field}: must be at most {ctx.get('le')}, got {shown(value)}"
    if kind == "literal_error":
        return f"{field}: must be one of {ctx.get('expected')}, got {shown(value)}"
    return f"{field}: {error.get('msg', 'is invalid')}"


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    phrases: list[str] = []
    for error in errors:
        phrase = describe_error(error)
        if phrase not in phrases:
            phrases.append(phrase)
    return "; ".join(phrases) or "the request is invalid"


# ------------------------------------------------------------------ handlers

async def _domain_error(request: Request, exc: Exception) -> ErrorResponse:
    assert isinstance(exc, AihubQaError)
    status = status_for(exc)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status == 503 else None
    return error_response(status, str(exc), headers)


async def _validation_error(request: Request, exc: Exception) -> ErrorResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        reason = (bad_json.get("ctx") or {}).get("error", "")
        position = bad_json["loc"][-1] if bad_json.get("loc") else None
        where = f" at character {position}" if isinstance(position, int) else ""
        return error_response(400, f"the request body is not valid JSON ({reason or 'syntax error'}{where})")
    return error_response(422, describe_errors(errors))


async def _http_error(request: Request, exc: Exception) -> ErrorResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such page or endpoint: {shown(request.url.path, 200)}; the API is described at /docs"
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = f"method {request.method} is not allowed on {shown(request.url.path, 200)}"
    elif exc.status_code == 400 and detail == "There was an error parsing the body":
        cause = exc.__cause__
        detail = (
            "the request body is not valid UTF-8"
            if isinstance(cause, UnicodeDecodeError)
            else "the request body could not be parsed as JSON"
        )
    return error_response(exc.status_code, str(detail), exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> ErrorResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AihubQaError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
