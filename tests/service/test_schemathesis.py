"""Property-based fuzzing of the app's own OpenAPI schema (positive and negative data): no 5xx, ever."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS as REGISTERED_CHECKS

from index.search import Searcher
from service.app import create_app
from service.settings import Settings

# Per operation: the default run stays well under a minute on 2 cores. The benchmark run sets
# SCHEMATHESIS_EXAMPLES=800 (7 operations: 2,544 cases).
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "40"))
# Every check schemathesis has: no 5xx above all; every answer, error or not, is one the schema
# declares; data the schema allows is accepted and data it forbids is refused.
CHECKS = REGISTERED_CHECKS.get_all()
CASES: Counter[str] = Counter()


@pytest.fixture(scope="module")
def app(hash_settings: Settings, hash_searcher: Searcher) -> FastAPI:
    return create_app(hash_settings, hash_searcher)


@pytest.fixture(scope="module", autouse=True)
def report_case_count(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if CASES and capture is not None:
        per_operation = ", ".join(f"{label}: {n}" for label, n in sorted(CASES.items()))
        with capture.global_and_fixture_disabled():
            print(f"\nschemathesis generated {sum(CASES.values())} cases ({per_operation})")


# The schema is the app's own; generating it needs no index, so it can load at collection time.
# (The app that answers comes from a fixture: schemathesis.pytest.from_fixture breaks on pytest 9.)
schema = schemathesis.openapi.from_dict(create_app(Settings(embedder="hash:64")).openapi())


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(app: FastAPI, case: schemathesis.Case) -> None:
    CASES[case.operation.label] += 1
    response = case.call_and_validate(app=app, checks=CHECKS)
    if response.status_code >= 400:  # every refusal is a JSON message
        assert response.headers["content-type"] == ["application/json"], response.text
        assert isinstance(response.json()["detail"], str) and response.json()["detail"]
