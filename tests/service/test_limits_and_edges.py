"""The configured limits reach the schema, the OpenAPI document and /api/config; invisible and
control characters and non-integer k are refused; every response carries the security headers;
HEAD answers like GET; /metrics stays the same size whatever methods clients invent."""

from __future__ import annotations

import asyncio
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from index.search import MODES, Searcher
from service.app import create_app
from service.middleware import SECURITY_HEADERS
from service.settings import Settings
from service.validation import QUESTION_PATTERN
from tests.service.conftest import make_client

CONTROL = "question: must not contain control characters (found U+{code} at position {position}); only tab and line breaks are allowed"
BLANK = "question: must not be empty or only whitespace"


# ------------------------------------------------------------------ one source for every limit


def test_configured_limits_shape_validation_the_openapi_schema_and_api_config(
    hash_settings: Settings, hash_searcher: Searcher
) -> None:
    settings = hash_settings.model_copy(update={"max_question_chars": 3000, "max_k": 80, "default_k": 7})
    with make_client(settings, hash_searcher) as client:
        long_ok = client.post("/api/ask", json={"question": "광" * 2500, "k": 80})
        too_long = client.post("/api/ask", json={"question": "광" * 3001})
        too_many = client.post("/api/ask", json={"question": "광주", "k": 81})
        default = client.post("/api/ask", json={"question": "광주"})
        schema = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]["properties"]
        config = client.get("/api/config").json()

    # k=80 (above the default cap of 50) asks for more than the index holds: every chunk comes back,
    # inside one of the distinct passages (overlapping chunks of one article are merged).
    assert long_ok.status_code == 200
    spans = [(p["citation"]["doc_id"], p["citation"]["start"], p["citation"]["end"]) for p in long_ok.json()["passages"]]
    assert all(any(d == c.doc_id and s <= c.start and c.end <= e for d, s, e in spans) for c in hash_searcher.index.chunks)
    assert too_long.json() == {"detail": "question: must be at most 3000 characters, got 3001"}
    assert too_many.json() == {"detail": "k: must be at most 80, got 81"}
    assert len(default.json()["passages"]) == 7
    assert schema["question"]["maxLength"] == 3000 and schema["question"]["pattern"] == QUESTION_PATTERN
    k_schema = next(s for s in schema["k"]["anyOf"] if s.get("type") == "integer")
    assert (k_schema["minimum"], k_schema["maximum"]) == (1, 80)
    assert schema["mode"]["enum"] == list(MODES) and schema["mode"]["default"] == MODES[0]
    assert config == {
        "max_question_chars": 3000, "default_k": 7, "max_k": 80,
        "modes": list(MODES), "default_mode": MODES[0], "question_pattern": QUESTION_PATTERN,
    }


# ------------------------------------------------------------------ characters and k


@pytest.mark.parametrize(
    ("question", "detail"),
    [
        ("광주\x7f", CONTROL.format(code="007F", position=2)),
        ("\x85다음 줄", CONTROL.format(code="0085", position=0)),
        ("a\x9fb", CONTROL.format(code="009F", position=1)),
        ("\x0b세로 탭", CONTROL.format(code="000B", position=0)),
        ("\u200b", BLANK),
        ("\u200b\u200c\u200d\u2060\ufeff", BLANK),
        ("\u3164\u115f\u1160", BLANK),  # Hangul fillers
        ("\u00a0 \u3000\t\n\u2028", BLANK),
    ],
)
def test_controls_and_invisible_only_questions_are_422(client: TestClient, question: str, detail: str) -> None:
    response = client.post("/api/ask", json={"question": question})

    assert (response.status_code, response.json()) == (422, {"detail": detail})


@pytest.mark.parametrize("question", ["\u200b광주", "광\u200d주", " 광주 ", "\t광주\r\n", "😀"])
def test_a_visible_character_among_invisible_ones_is_a_question(client: TestClient, question: str) -> None:
    assert client.post("/api/ask", json={"question": question, "k": 1}).status_code == 200


@pytest.mark.parametrize(
    ("k", "shown"), [("5", "'5'"), (True, "true"), (5.0, "5.0"), (False, "false"), ([5], "[5]")]
)
def test_k_must_be_a_json_integer(client: TestClient, k: object, shown: str) -> None:
    response = client.post("/api/ask", json={"question": "광주", "k": k})

    assert (response.status_code, response.json()) == (422, {"detail": f"k: must be a whole number, got {shown}"})


@pytest.mark.parametrize(
    "text",
    ["광주", " a", "\u200b", "", "a\x7f", "\x85", "\t\n", "\u3164가", "x\u200b", "\u2060\u2061", "\ud7a3", "a\x00"],
)
def test_the_published_pattern_and_the_server_agree(client: TestClient, text: str) -> None:
    """What a schema-driven client (schemathesis, a browser) reads from the pattern is what the server does."""
    published = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]["properties"]["question"]
    expected_ok = text != "" and re.fullmatch(published["pattern"], text) is not None

    status = client.post("/api/ask", json={"question": text, "k": 1}).status_code

    assert status == (200 if expected_ok else 422)


# ------------------------------------------------------------------ headers, HEAD


@pytest.fixture
def locked(hash_settings: Settings, hash_searcher: Searcher) -> TestClient:
    from pydantic import SecretStr

    return make_client(hash_settings.model_copy(update={"api_key": SecretStr("k3y")}), hash_searcher)


def test_every_response_carries_the_security_headers(client: TestClient, locked: TestClient) -> None:
    responses = {
        "health": client.get("/healthz"),
        "metrics": client.get("/metrics"),
        "openapi": client.get("/openapi.json"),
        "script": client.get("/static/app.js"),
        "ask 422": client.post("/api/ask", json={"question": ""}),
        "ask 415": client.post("/api/ask", content=b"x"),
        "ask 413": client.post("/api/ask", content=b"x" * 70_000, headers={"content-type": "application/json"}),
        "404": client.get("/nowhere"),
        "405": client.delete("/api/ask"),
        "401": locked.post("/api/ask", json={"question": "광주"}),
    }
    for name, response in responses.items():
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (name, header)


def test_pages_keep_their_own_content_security_policy(client: TestClient) -> None:
    page, docs = client.get("/"), client.get("/docs")

    assert page.headers["content-security-policy"].startswith("default-src 'self';")
    assert "script-src" not in docs.headers["content-security-policy"]  # scripts: files from here only
    for response in (page, docs):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers.get_list("content-security-policy") == [response.headers["content-security-policy"]]


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/readyz", "/metrics", "/api/config", "/api/documents", "/api/documents/000_edda6da89cf6a7e8",
     "/api/documents/nope", "/openapi.json", "/", "/docs", "/static/app.js"],
)
def test_head_answers_like_get_without_a_body(client: TestClient, path: str) -> None:
    get, head = client.get(path), client.head(path)

    assert head.status_code == get.status_code
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    if path != "/metrics":  # the metrics text changes with every request
        assert head.headers["content-length"] == get.headers["content-length"]


def test_head_on_a_post_only_route_is_405(client: TestClient) -> None:
    response = client.head("/api/ask")

    assert response.status_code == 405 and response.headers["allow"] == "POST"


# ------------------------------------------------------------------ bounded metrics


async def _request(app: FastAPI, method: str, path: str) -> None:
    """One request straight into the ASGI app (20,000 through a test client would take minutes)."""
    scope = {"type": "http", "http_version": "1.1", "method": method, "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "headers": [(b"host", b"x")], "scheme": "http",
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        pass

    await app(scope, receive, send)


def test_made_up_methods_do_not_grow_the_metrics(hash_settings: Settings, hash_searcher: Searcher) -> None:
    app = create_app(hash_settings, hash_searcher)

    async def flood(first: int, count: int) -> None:
        for i in range(first, first + count):
            await _request(app, f"X{i:05d}" + "Y" * (i % 50), ("/api/ask", "/healthz", f"/made/up/{i}")[i % 3])

    with TestClient(app) as client:
        asyncio.run(flood(0, 100))
        client.get("/metrics")  # its own series exist from here on
        before = client.get("/metrics").text
        asyncio.run(flood(100, 19_900))
        after = client.get("/metrics").text

    def series(text: str) -> list[str]:
        return [line.rsplit(" ", 1)[0] for line in text.splitlines() if not line.startswith("#")]

    assert series(after) == series(before)  # no new series: only the counts changed
    assert len(after) < len(before) + 200
    assert "X0" not in after
    other = sum(float(line.rsplit(" ", 1)[1]) for line in after.splitlines()
                if line.startswith("aihub_qa_http_requests_total{") and 'method="other"' in line)
    assert other == 20_000
