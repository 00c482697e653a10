"""The optional API key on /api/* and the opt-in CORS origins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from index.search import Searcher
from service.settings import Settings
from tests.service.conftest import make_client

KEY = "s3cret-키"
ASK = {"question": "광주 AI 데이터센터"}
UNAUTHORIZED = {"detail": "missing or wrong API key; send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"}


@pytest.fixture
def locked(hash_settings: Settings, hash_searcher: Searcher) -> Iterator[TestClient]:
    settings = hash_settings.model_copy(update={"api_key": SecretStr(KEY)})
    with make_client(settings, hash_searcher) as client:
        yield client


def utf8_header(value: str) -> bytes:
    return value.encode("utf-8")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer"},
        {"Authorization": utf8_header(f"Basic {KEY}")},
        {"X-API-Key": "s3cret"},
        {"X-API-Key": ""},
    ],
)
def test_api_needs_the_key_when_one_is_set(locked: TestClient, headers: dict[str, str | bytes]) -> None:
    for response in (locked.post("/api/ask", json=ASK, headers=headers), locked.get("/api/documents", headers=headers)):
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": utf8_header(f"Bearer {KEY}")},
        {"Authorization": utf8_header(f"bearer {KEY}")},
        {"X-API-Key": utf8_header(KEY)},
        {"X-API-Key": utf8_header(KEY), "Authorization": "Bearer wrong"},
    ],
)
def test_either_header_with_the_key_is_let_in(locked: TestClient, headers: dict[str, bytes]) -> None:
    assert locked.post("/api/ask", json=ASK, headers=headers).status_code == 200
    assert locked.get("/api/documents/000_edda6da89cf6a7e8", headers=headers).status_code == 200


def test_key_is_checked_before_the_body_is_parsed(locked: TestClient) -> None:
    response = locked.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"})

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_everything_outside_api_stays_open(locked: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/", "/static/app.js", "/docs", "/openapi.json"):
        assert locked.get(path).status_code == 200, path


def test_openapi_documents_the_key(locked: TestClient) -> None:
    schema = locked.get("/openapi.json").json()

    assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    assert schema["paths"]["/api/ask"]["post"]["security"] == [{"bearer": []}, {"apiKey": []}]
    assert "401" in schema["paths"]["/api/documents"]["get"]["responses"]
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_no_key_means_open_api(client: TestClient) -> None:
    assert client.post("/api/ask", json=ASK).status_code == 200
    assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


def test_no_cors_headers_by_default(client: TestClient) -> None:
    response = client.post("/api/ask", json=ASK, headers={"Origin": "https://elsewhere.example"})

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/api/ask", headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_configured_origins_are_allowed_and_preflights_need_no_key(hash_settings: Settings, hash_searcher: Searcher) -> None:
    settings = hash_settings.model_copy(
        update={"cors_origins": ["https://app.example"], "api_key": SecretStr(KEY)}
    )
    with make_client(settings, hash_searcher) as client:
        preflight = client.options(
            "/api/ask",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, x-api-key",
            },
        )
        allowed = client.post("/api/ask", json=ASK, headers={"Origin": "https://app.example", "X-API-Key": KEY.encode()})
        refused = client.post("/api/ask", json=ASK, headers={"Origin": "https://app.example"})
        other = client.post("/api/ask", json=ASK, headers={"Origin": "https://evil.example", "X-API-Key": KEY.encode()})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


def test_cors_origins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIHUB_QA_CORS_ORIGINS", '["https://a.example", "https://b.example"]')
    monkeypatch.setenv("AIHUB_QA_API_KEY", KEY)

    settings = Settings()

    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.api_key is not None and settings.api_key.get_secret_value() == KEY
