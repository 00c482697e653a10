"""Run the app under uvicorn (one worker) on a socket bound here.

Binding first turns "address in use" into a one-line error, lets port 0 pick a free port whose
URL is known before serving, and lets tests and benchmarks run a real server in a thread.
"""

from __future__ import annotations

import asyncio
import copy
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from ingest.errors import AihubQaError
from service.errors_http import log as service_log
from service.settings import Settings

MAX_HEADER_BYTES = 16 * 1024  # h11's limit on the request line plus headers (a larger one gets 400)
HEADER_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s"
)


class CannotListen(AihubQaError):
    """The host does not resolve, or the port cannot be bound."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise CannotListen(f"cannot listen on {host}:{port}: unknown host ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request line and headers.

    uvicorn times out idle keep-alive connections but not a client that sends its headers one
    byte at a time. Here the headers must be complete within `header_timeout` seconds of the
    connection opening (or of the previous response); otherwise the client gets a 408 and the
    connection is closed. (The body has its own deadline: service.middleware.BodyLimitMiddleware.)
    """

    header_timeout: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:  # a request's headers are in
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm_header_timer()  # the next request on this connection gets the same deadline

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            body = b'{"detail":"the request headers did not arrive within %g s"}' % self.header_timeout
            self.transport.write(HEADER_TIMEOUT_RESPONSE % (len(body), body))
        self.transport.close()


def settings_of(app: Any) -> Settings:
    """The settings an app from service.app.create_app was made with (defaults for any other app)."""
    state = getattr(getattr(app, "state", None), "service", None)
    return state.settings if state is not None else Settings()


def log_config(log_level: str) -> dict[str, Any]:
    """uvicorn's logging, with the service's own lines ("ready: ...", "sentence vectors warm:
    ...", unexpected errors with their traceback) through uvicorn's handler and format."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"][service_log.name] = {"handlers": ["default"], "level": log_level.upper(), "propagate": False}
    return config


def make_server(
    app: Any, log_level: str = "info", access_log: bool = True, logs: dict[str, Any] | None = None
) -> uvicorn.Server:
    """`logs`: a logging config (log_config) for a server that owns its process; by default
    uvicorn's own, which leaves the service's loggers as they are."""
    settings = settings_of(app)
    protocol = type("HeaderTimeoutH11Protocol", (HeaderTimeoutH11Protocol,), {"header_timeout": settings.header_timeout})
    config = uvicorn.Config(
        app,
        http=protocol,
        lifespan="on",
        log_level=log_level,
        access_log=access_log,
        server_header=False,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=settings.keep_alive_timeout,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        log_config=LOGGING_CONFIG if logs is None else logs,
    )
    return uvicorn.Server(config)


def serve(app: Any, sock: socket.socket, log_level: str = "info") -> None:
    """Serve until Ctrl+C / SIGTERM, in the foreground, logging to stderr."""
    make_server(app, log_level, logs=log_config(log_level)).run(sockets=[sock])


class BackgroundServer:
    """A real uvicorn server in a thread, on loopback: `with BackgroundServer(app) as url: ...`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, start_timeout: float = 60.0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def __enter__(self) -> str:
        self._sock = bind(self.host, self.port)
        self.url = url_of(self._sock)
        self._server = make_server(self.app, log_level="warning", access_log=False)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="uvicorn", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self.url

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._sock is not None:
            self._sock.close()
