"""Bad input never yields a 5xx: each case gets a 4xx with an exact, readable JSON message."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from index.search import Searcher
from service.app import create_app
from service.deps import get_searcher
from service.settings import Settings
from tests.service.conftest import make_client

JSON = {"content-type": "application/json"}
LIMIT = 64 * 1024
TOO_LARGE = {"detail": "the request body is larger than 65536 bytes"}


def post_raw(client: TestClient, body: bytes | str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    response = client.post("/api/ask", content=body, headers=JSON if headers is None else headers)
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("payload", "status", "detail"),
    [
        ({"question": ""}, 422, "question: must not be empty"),
        ({"question": "   \n\t "}, 422, "question: must not be empty or only whitespace"),
        ({"question": "\u3000"}, 422, "question: must not be empty or only whitespace"),
        ({"question": "가" * 2001}, 422, "question: must be at most 2000 characters, got 2001"),
        ({"question": "광주", "k": 0}, 422, "k: must be at least 1, got 0"),
        ({"question": "광주", "k": 51}, 422, "k: must be at most 50, got 51"),
        ({"question": "광주", "k": -3}, 422, "k: must be at least 1, got -3"),
        ({"question": "광주", "k": "five"}, 422, "k: must be a whole number, got 'five'"),
        ({"question": "광주", "k": 2.5}, 422, "k: must be a whole number, got 2.5"),
        ({"question": "광주", "mode": "semantic"}, 422, "mode: must be one of 'hybrid', 'dense' or 'bm25', got 'semantic'"),
        ({"question": "광주", "mode": None}, 422, "mode: must be one of 'hybrid', 'dense' or 'bm25', got null"),
        ({"question": 42}, 422, "question: must be a string"),
        ({"k": 3}, 422, "question: is required"),
        ({"question": "광주", "top_k": 3}, 422, "top_k: is not an accepted field"),
        ({"question": "", "k": 0, "mode": "x"}, 422,
         "question: must not be empty; k: must be at least 1, got 0; mode: must be one of 'hybrid', 'dense' or 'bm25', got 'x'"),
        (["광주"], 422, 'the request body must be a JSON object such as {"question": "광주 AI 데이터센터의 연산 능력은?"}'),
    ],
)
def test_invalid_fields_are_422_with_a_message(client: TestClient, payload: object, status: int, detail: str) -> None:
    response = client.post("/api/ask", json=payload)

    assert (response.status_code, response.json()) == (status, {"detail": detail})


def test_exactly_the_maximum_length_is_accepted(client: TestClient) -> None:
    assert client.post("/api/ask", json={"question": "광" * 2000, "k": 1}).status_code == 200


def test_the_configured_limits_apply(hash_settings: Settings, hash_searcher: Searcher) -> None:
    settings = hash_settings.model_copy(update={"max_question_chars": 10, "max_k": 3})
    with make_client(settings, hash_searcher) as client:
        long = client.post("/api/ask", json={"question": "가" * 11})
        many = client.post("/api/ask", json={"question": "광주", "k": 4})
        ok = client.post("/api/ask", json={"question": "가" * 10, "k": 3})

    assert (long.status_code, long.json()) == (422, {"detail": "question: must be at most 10 characters, got 11"})
    assert (many.status_code, many.json()) == (422, {"detail": "k: must be at most 3, got 4"})
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("question", "code", "position"),
    [("광주\x00", "0000", 2), ("\x07벨", "0007", 0), ("a\x1bb", "001B", 1), ("\x1f", "001F", 0)],
)
def test_control_characters_are_rejected(client: TestClient, question: str, code: str, position: int) -> None:
    response = client.post("/api/ask", json={"question": question})

    assert response.status_code == 422
    assert response.json() == {
        "detail": f"question: must not contain control characters (found U+{code} at position {position}); "
        "only tab and line breaks are allowed"
    }


def test_tab_and_line_breaks_are_allowed(client: TestClient) -> None:
    assert client.post("/api/ask", json={"question": "광주\tAI\n데이터센터\r\n연산 능력"}).status_code == 200


@pytest.mark.parametrize("escaped", ["\\ud800", "\\udfff", "a\\udc00b", "\\ude00\\ud83d"])
def test_unpaired_surrogates_are_rejected(client: TestClient, escaped: str) -> None:
    status, body = post_raw(client, '{"question": "' + escaped + '"}')

    assert (status, body) == (422, {"detail": "question: must be valid Unicode text (it contains an unpaired surrogate)"})


def test_a_surrogate_pair_is_a_valid_character(client: TestClient) -> None:
    status, body = post_raw(client, '{"question": "광주 \\ud83d\\ude00"}')

    assert status == 200 and body["question"] == "광주 😀"


def test_a_surrogate_in_the_mode_is_rejected(client: TestClient) -> None:
    status, body = post_raw(client, '{"question": "광주", "mode": "\\ud800"}')

    assert (status, body) == (422, {"detail": "mode: must be valid Unicode text (it contains an unpaired surrogate)"})


def test_a_surrogate_in_a_field_name_is_rejected(client: TestClient) -> None:
    status, body = post_raw(client, '{"question": "광주", "\\ud800": 1}')

    assert (status, body) == (422, {"detail": "a field name is not valid Unicode text (it contains an unpaired surrogate)"})


def test_unprintable_field_names_are_escaped_in_the_message(client: TestClient) -> None:
    status, body = post_raw(client, '{"question": "광주", "a\\u0007\\u200b": 1}')

    assert (status, body) == (422, {"detail": "a\\u0007\\u200b: is not an accepted field"})


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("{bad", "the request body is not valid JSON (Expecting property name enclosed in double quotes at character 1)"),
        ('{"question": "광주"', "the request body is not valid JSON (Expecting ',' delimiter at character 17)"),
        ("nope", "the request body is not valid JSON (Expecting value at character 0)"),
    ],
)
def test_malformed_json_is_400(client: TestClient, raw: str, detail: str) -> None:
    assert post_raw(client, raw) == (400, {"detail": detail})


def test_body_that_is_not_utf8_is_400(client: TestClient) -> None:
    assert post_raw(client, b'{"question": "\xff\xfe"}') == (400, {"detail": "the request body is not valid UTF-8"})


def test_deeply_nested_json_is_400(client: TestClient) -> None:
    assert post_raw(client, "[" * 30000 + "]" * 30000) == (400, {"detail": "the request body could not be parsed as JSON"})


def test_empty_body_is_422(client: TestClient) -> None:
    assert post_raw(client, b"") == (
        422, {"detail": 'the request body is empty; send a JSON object such as {"question": "광주 AI 데이터센터의 연산 능력은?"}'}
    )


@pytest.mark.parametrize(
    ("content_type", "detail"),
    [
        ("text/plain", "Content-Type must be application/json, got 'text/plain'"),
        ("application/x-www-form-urlencoded", "Content-Type must be application/json, got 'application/x-www-form-urlencoded'"),
        ("multipart/form-data; boundary=x", "Content-Type must be application/json, got 'multipart/form-data; boundary=x'"),
        ("application/jsonx", "Content-Type must be application/json, got 'application/jsonx'"),
        (None, "the Content-Type header is missing; send the body as application/json"),
    ],
)
def test_wrong_content_type_is_415(client: TestClient, content_type: str | None, detail: str) -> None:
    headers = {"content-type": content_type} if content_type else {}

    assert post_raw(client, '{"question": "광주"}', headers) == (415, {"detail": detail})


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/problem+json"])
def test_json_content_types_are_accepted(client: TestClient, content_type: str) -> None:
    status, _ = post_raw(client, '{"question": "광주"}', {"content-type": content_type})

    assert status == 200


# ------------------------------------------------------------------ body size


def test_body_over_64_kib_is_413(client: TestClient) -> None:
    body = '{"question": "' + "a" * LIMIT + '"}'

    assert post_raw(client, body) == (413, TOO_LARGE)


def test_body_of_exactly_64_kib_is_read(client: TestClient) -> None:
    body = '{"question": "' + "a" * (LIMIT - 16) + '"}'
    assert len(body) == LIMIT

    status, payload = post_raw(client, body)

    assert (status, payload) == (422, {"detail": f"question: must be at most 2000 characters, got {LIMIT - 16}"})


def test_declared_length_over_the_limit_is_413_before_reading(client: TestClient) -> None:
    assert post_raw(client, b"{}", {**JSON, "content-length": str(LIMIT + 1)}) == (413, TOO_LARGE)


def test_body_without_content_length_is_counted_as_it_streams(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(80):
            yield b"a" * 1024
        yield b'"}'

    response = client.post("/api/ask", content=chunks(), headers=JSON)

    assert "content-length" not in response.request.headers
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


def test_lying_content_length_does_not_bypass_the_limit(client: TestClient) -> None:
    body = b'{"question": "' + b"a" * (LIMIT + 10) + b'"}'

    response = client.post("/api/ask", content=body, headers={**JSON, "content-length": "20"})

    assert response.request.headers["content-length"] == "20"
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


def test_non_numeric_content_length_is_400(client: TestClient) -> None:
    response = client.post("/api/ask", content=b"{}", headers={**JSON, "content-length": "12abc"})

    assert (response.status_code, response.json()) == (400, {"detail": "the Content-Length header is not a number"})


# ------------------------------------------------------------------ routes, methods, crashes


def test_unknown_route_is_404_json(client: TestClient) -> None:
    response = client.get("/api/nothing")

    assert response.status_code == 404
    assert response.json() == {"detail": "no such page or endpoint: '/api/nothing'; the API is described at /docs"}


def test_wrong_method_is_405_json(client: TestClient) -> None:
    response = client.get("/api/ask")

    assert response.status_code == 405
    assert response.json() == {"detail": "method GET is not allowed on '/api/ask'"}
    assert response.headers["allow"] == "POST"


class ExplodingSearcher:
    """Fails inside the search, in the worker thread (as Searcher.start(...).finish() runs there)."""

    def start(self, question: str, k: int = 5, mode: str = "hybrid", warm: object = None) -> ExplodingSearcher:
        return self

    @property
    def searcher(self) -> ExplodingSearcher:  # as PendingSearch.searcher
        return self

    def finish(self) -> None:
        raise RuntimeError("secret internal state /etc/passwd")


def test_unexpected_errors_are_500_json_without_a_trace_and_logged(
    hash_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(hash_settings)
    app.dependency_overrides[get_searcher] = ExplodingSearcher
    client = TestClient(app, raise_server_exceptions=False)

    with caplog.at_level(logging.ERROR, logger="aihub_qa.service"):
        response = client.post("/api/ask", json={"question": "광주"})

    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error; it has been logged"}
    assert "secret" not in response.text and "Traceback" not in response.text
    record = next(r for r in caplog.records if r.name == "aihub_qa.service")
    assert record.getMessage() == "unhandled error on POST /api/ask"
    assert record.exc_info is not None and "secret internal state" in str(record.exc_info[1])
    metrics = client.get("/metrics").text
    assert 'aihub_qa_http_requests_total{method="POST",route="/api/ask",status="500"} 1.0' in metrics


def test_k_defaults_to_the_configured_default(hash_settings: Settings, hash_searcher: Searcher) -> None:
    with make_client(hash_settings.model_copy(update={"default_k": 2}), hash_searcher) as client:
        default = client.post("/api/ask", json={"question": "광주 인공지능"})
        explicit = client.post("/api/ask", json={"question": "광주 인공지능", "k": 3})
    assert len(default.json()["passages"]) == 2
    assert len(explicit.json()["passages"]) == 3
