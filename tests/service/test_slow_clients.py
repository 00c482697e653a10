"""Slow and idle clients on a real server on loopback: none holds a connection past its deadline."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from index.search import Searcher
from service.app import create_app
from service.server import BackgroundServer
from service.settings import Settings

DEADLINE = 1.0  # seconds, for headers, body and idle alike in these tests
DRIP_EVERY = 0.25  # one byte per this many seconds: forever, unless the server ends it


@pytest.fixture(scope="module")
def address(hash_settings: Settings, hash_searcher: Searcher) -> Iterator[tuple[str, int]]:
    settings = hash_settings.model_copy(
        update={"header_timeout": DEADLINE, "body_timeout": DEADLINE, "keep_alive_timeout": 1}
    )
    with BackgroundServer(create_app(settings, hash_searcher)) as url:
        parsed = urlparse(url)
        yield parsed.hostname or "127.0.0.1", parsed.port or 80


def drip(sock: socket.socket, data: bytes, limit: float = 10.0) -> tuple[bytes, float]:
    """Send `data` one byte per DRIP_EVERY until the server answers or closes; (answer, seconds)."""
    started = time.monotonic()
    sock.settimeout(DRIP_EVERY)
    answer = b""
    for byte in data:
        if time.monotonic() - started > limit:
            break
        try:
            sock.sendall(bytes([byte]))
        except OSError:  # closed by the server
            break
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        answer += chunk
        if not chunk or answer:
            break
    sock.settimeout(2.0)
    try:
        while chunk := sock.recv(4096):
            answer += chunk
    except OSError:
        pass
    return answer, time.monotonic() - started


def test_headers_sent_a_byte_at_a_time_get_a_408_and_the_connection_closes(address: tuple[str, int]) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
    with socket.create_connection(address) as sock:
        answer, seconds = drip(sock, request)

    assert answer.startswith(b"HTTP/1.1 408 ")
    assert answer.endswith(b'{"detail":"the request headers did not arrive within 1 s"}')
    assert DEADLINE <= seconds < DEADLINE + 2


def test_a_body_sent_a_byte_at_a_time_gets_a_408_and_the_connection_closes(address: tuple[str, int]) -> None:
    body = b'{"question": "' + "광".encode() * 100 + b'"}'
    head = (
        b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(address) as sock:
        sock.sendall(head)
        answer, seconds = drip(sock, body)

    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in answer.lower()
    assert answer.endswith(b'{"detail":"the request body did not arrive within 1 s"}')
    assert DEADLINE <= seconds < DEADLINE + 2


def test_an_idle_connection_is_closed_and_a_prompt_one_is_served(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        answer = b""
        while not answer.endswith(b'{"status":"ok"}'):
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200 ")  # headers on time: answered
        started = time.monotonic()
        assert sock.recv(4096) == b""  # then idle: the server hangs up
        assert time.monotonic() - started < 3
