"""Pure ASGI middleware: request metrics, security headers, HEAD on GET routes, the request-body
size and time limits, and the API key.

They answer before FastAPI parses anything, so a huge or slow body or a missing key never reaches
JSON decoding or validation.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping, Sequence

import anyio

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors_http import ErrorResponse, error_response
from service.metrics import Metrics

UNMATCHED_ROUTE = "unmatched"
# On every response unless the route set its own (the chat page and /docs set their own policy).
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class MetricsMiddleware:
    """Counts every HTTP request by route template and status; times it by route and search mode."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes  # flat: each has a `path` template, the label of its requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        route = self._route(scope)  # before the app runs: routing rewrites parts of the scope
        status = 500  # what the client gets if the app raises before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            mode = (scope.get("state") or {}).get("mode")
            self.metrics.observe(route, scope["method"], status, mode, time.perf_counter() - started)

    def _route(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                return str(getattr(route, "path", UNMATCHED_ROUTE))
        return UNMATCHED_ROUTE


class SecurityHeadersMiddleware:
    """Adds SECURITY_HEADERS to every response, keeping any the route already set."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = SECURITY_HEADERS) -> None:
        self.app = app
        self.headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {key.lower() for key, _ in message.get("headers", ())}
                extra = [(key, value) for key, value in self.headers if key not in present]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadMiddleware:
    """HEAD on a GET route answers exactly like GET (status and headers), without the body."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        as_get = {**scope, "method": "GET"}
        if not any(route.matches(as_get)[0] == Match.FULL for route in self.routes):
            await self.app(scope, receive, send)  # no GET here either: the usual 404 or 405
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(as_get, receive, send_without_body)


class BodyLimitMiddleware:
    """Rejects bodies over `max_bytes` with 413, and bodies slower than `timeout` seconds with 408,
    before anything parses them.

    A declared Content-Length over the limit is refused without reading; otherwise the body is
    read (whatever the header claims, or with no header at all) and counted as it arrives, then
    handed on in one piece.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                await error_response(400, "the Content-Length header is not a number")(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return
        body = bytearray()
        message: Message = {"type": "http.request", "more_body": True}  # what a timeout leaves
        with anyio.move_on_after(self.timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    return
                body += message.get("body", b"")
                if len(body) > self.max_bytes:
                    await self._too_large()(scope, receive, send)
                    return
                if not message.get("more_body", False):
                    break
        if message.get("more_body", False):
            too_slow = error_response(
                408, f"the request body did not arrive within {self.timeout:g} s", {"Connection": "close"}
            )
            await too_slow(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> ErrorResponse:  # made only when needed: a response costs a JSON encoding
        return error_response(413, f"the request body is larger than {self.max_bytes} bytes")


class ApiKeyMiddleware:
    """When an API key is configured, `/api/*` needs `Authorization: Bearer <key>` or `X-API-Key: <key>`."""

    def __init__(self, app: ASGIApp, api_key: str, prefix: str = "/api/") -> None:
        self.app = app
        self.key = api_key.encode("utf-8")
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        protected = (
            scope["type"] == "http"
            and (scope["path"].startswith(self.prefix) or scope["path"] == self.prefix.rstrip("/"))
            and scope["method"] != "OPTIONS"  # CORS preflights carry no credentials
        )
        if protected and not self._authorized(scope):
            response = error_response(
                401,
                "missing or wrong API key; send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                {"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        bearer = b""
        authorization = _header(scope, b"authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            bearer = token.strip().encode("latin-1")
        header_key = (_header(scope, b"x-api-key") or "").strip().encode("latin-1")
        # Both comparisons always run and take time independent of where the strings differ.
        ok_bearer = hmac.compare_digest(bearer, self.key)
        ok_header = hmac.compare_digest(header_key, self.key)
        return bool(self.key) and (ok_bearer or ok_header)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None
