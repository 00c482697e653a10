"""Body limits and framing over a real socket: uvicorn in a thread on loopback, fake-embedder index."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from index.search import Searcher
from service.app import create_app
from service.server import BackgroundServer
from service.settings import Settings

TOO_LARGE = {"detail": "the request body is larger than 65536 bytes"}


@pytest.fixture(scope="module")
def live_url(hash_settings: Settings, hash_searcher: Searcher) -> Iterator[str]:
    with BackgroundServer(create_app(hash_settings, hash_searcher)) as url:
        yield url


def raw_exchange(url: str, request: bytes) -> tuple[int, dict]:
    """Send bytes as they are; return the status and JSON body of the first response."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    return status, json.loads(body[:length])


def test_ask_over_a_real_socket(live_url: str) -> None:
    response = httpx.post(live_url + "api/ask", json={"question": "광주 AI 데이터센터", "k": 2}, timeout=10)

    assert response.status_code == 200 and len(response.json()["passages"]) == 2


def test_chunked_body_without_content_length_is_cut_at_the_limit(live_url: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}'

    response = httpx.post(live_url + "api/ask", content=chunks(), headers={"content-type": "application/json"}, timeout=10)

    assert response.request.headers["transfer-encoding"] == "chunked"
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


def test_declared_length_over_the_limit_is_refused_without_reading_the_body(live_url: str) -> None:
    request = (
        b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000\r\nConnection: close\r\n\r\n{}"
    )

    assert raw_exchange(live_url, request) == (413, TOO_LARGE)


def test_content_length_shorter_than_the_body_only_reads_what_it_declares(live_url: str) -> None:
    body = b'{"question": "' + b"a" * 70000 + b'"}'
    request = (
        b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 14\r\nConnection: close\r\n\r\n" + body
    )

    status, payload = raw_exchange(live_url, request)

    assert status == 400
    assert payload["detail"].startswith("the request body is not valid JSON (")
