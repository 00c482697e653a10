"""The HTTP API over the fake-embedder index: answers, documents, health, readiness, metrics, page."""

from __future__ import annotations

import re

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.search import Searcher
from service.app import create_app
from service.deps import get_searcher
from service.schemas import AskResponse, response_from_result
from service.settings import Settings
from tests.conftest import CORPUS

QUESTION = "광주 AI 데이터센터의 연산 능력은 얼마인가?"
ASK_JSON = {"question": QUESTION, "k": 3, "mode": "hybrid"}


def without_took(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if key != "took_ms"}


# ------------------------------------------------------------------ POST /api/ask


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_ask_answers_in_the_documented_shape_with_the_modes_scores(client: TestClient, mode: str) -> None:
    response = client.post("/api/ask", json={"question": QUESTION, "k": 4, "mode": mode})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"question", "mode", "took_ms", "answered", "confidence", "answer", "passages"}
    assert body["question"] == QUESTION and body["mode"] == mode and body["took_ms"] > 0
    passages = body["passages"]
    assert [p["rank"] for p in passages] == [1, 2, 3, 4]
    assert [p["score"] for p in passages] == sorted((p["score"] for p in passages), reverse=True)
    for p in passages:
        assert set(p) == {"rank", "score", "scores", "text", "highlight", "citation"}
        dense, bm25 = p["scores"]["dense"], p["scores"]["bm25"]
        if mode == "dense":
            assert bm25 is None and p["score"] == dense
        elif mode == "bm25":
            assert dense is None and p["score"] == bm25 > 0
        else:
            assert dense is not None and bm25 is not None and 0 <= p["score"] <= 1  # fused, min-max scaled
    AskResponse.model_validate(body)


def test_bm25_ranks_the_passage_with_the_questions_rare_words_first(client: TestClient) -> None:
    # Only one article speaks of 페타플롭스; keyword search must put it first.
    top = client.post("/api/ask", json={"question": "페타플롭스", "k": 3, "mode": "bm25"}).json()["passages"][0]

    assert "페타플롭스" in top["text"]
    assert "페타플롭스" in top["text"][top["highlight"]["start"] : top["highlight"]["end"]]


def test_ask_defaults_to_five_hybrid_passages(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": QUESTION}).json()

    assert body["mode"] == "hybrid"
    assert len(body["passages"]) == 5


def test_ask_json_equals_the_command_line_json(client: TestClient, hash_settings: Settings) -> None:
    cli = Path(sys.executable).with_name("aihub-qa")
    run = subprocess.run(
        [str(cli), "ask", QUESTION, "--index", str(hash_settings.index_dir), "--embedder", "hash:64", "--k", "3", "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    http = client.post("/api/ask", json=ASK_JSON).json()

    assert without_took(http) == without_took(json.loads(run.stdout))


def test_each_citation_points_at_its_passage_in_the_document_text(client: TestClient) -> None:
    passages = client.post("/api/ask", json={"question": QUESTION, "k": 10}).json()["passages"]

    for passage in passages:
        cite = passage["citation"]
        document = client.get(f"/api/documents/{cite['doc_id']}").json()
        assert document["text"][cite["start"] : cite["end"]] == passage["text"]
        assert 0 <= passage["highlight"]["start"] < passage["highlight"]["end"] <= len(passage["text"])


# ------------------------------------------------------------------ documents


def test_documents_lists_every_article_with_its_chunk_count(client: TestClient, hash_searcher: Searcher) -> None:
    response = client.get("/api/documents")

    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 5 and page["offset"] == 0 and page["limit"] == 100
    listed = page["documents"]
    assert [d["id"] for d in listed] == sorted(p.stem for p in CORPUS.glob("*.txt"))
    assert sum(d["chunks"] for d in listed) == hash_searcher.size
    first = listed[0]
    assert set(first) == {"id", "title", "source", "published", "author", "url", "chunks"}
    assert first["id"] == "000_edda6da89cf6a7e8"
    assert first["source"] == "무등일보" and first["published"] == "2022-01-02"
    assert first["chunks"] == sum(1 for c in hash_searcher.index.chunks if c.doc_id == first["id"])


def test_documents_are_paginated_in_corpus_order(client: TestClient) -> None:
    everything = [d["id"] for d in client.get("/api/documents").json()["documents"]]

    pages = [client.get("/api/documents", params={"limit": 2, "offset": o}).json() for o in (0, 2, 4, 6)]

    assert [[d["id"] for d in p["documents"]] for p in pages] == [everything[0:2], everything[2:4], everything[4:], []]
    assert all(p["total"] == len(everything) for p in pages)
    assert client.get("/api/documents", params={"limit": 0}).status_code == 422
    assert client.get("/api/documents", params={"offset": -1}).status_code == 422


def test_document_detail_has_metadata_and_cleaned_text(client: TestClient, hash_searcher: Searcher) -> None:
    doc = hash_searcher.index.documents["001_7b68b981ea3af823"]

    body = client.get("/api/documents/001_7b68b981ea3af823").json()

    assert body["text"] == doc.text
    assert body["title"] == doc.title and body["id"] == doc.id
    assert body["chunks"] == sum(1 for c in hash_searcher.index.chunks if c.doc_id == doc.id)


def test_unknown_document_is_a_404_with_a_message(client: TestClient) -> None:
    response = client.get("/api/documents/no-such-doc")

    assert response.status_code == 404
    assert response.json() == {"detail": "no document with id 'no-such-doc'; GET /api/documents lists them"}


# ------------------------------------------------------------------ health, readiness, metrics


def test_healthz_answers_even_before_the_index_is_loaded(hash_settings: Settings) -> None:
    client = TestClient(create_app(hash_settings))  # lifespan not run: nothing loaded

    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"detail": "the index is still loading; try again in a few seconds"}
    assert response.headers["retry-after"] == "5"
    ask = client.post("/api/ask", json=ASK_JSON)
    assert ask.status_code == 503 and ask.json()["detail"] == "the index is still loading; try again in a few seconds"


def test_app_loads_the_index_itself_in_the_background(hash_settings: Settings, hash_searcher: Searcher) -> None:
    with TestClient(create_app(hash_settings)) as client:
        deadline = time.monotonic() + 30
        while (ready := client.get("/readyz")).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "documents": 5, "chunks": hash_searcher.size, "embedder": "hash:64"}
        assert client.post("/api/ask", json=ASK_JSON).status_code == 200


def test_readyz_explains_an_index_that_cannot_load(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "missing", embedder="hash:64")
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while "still loading" in (body := client.get("/readyz").json())["detail"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert body == {
            "detail": f"the index could not be loaded: no index at {tmp_path / 'missing'}; "
            f"build it with: aihub-qa build --index {tmp_path / 'missing'}"
        }
        assert client.get("/readyz").status_code == 503
        assert client.get("/api/documents").status_code == 503


def test_readyz_reports_the_loaded_index(client: TestClient, hash_searcher: Searcher) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "documents": 5, "chunks": hash_searcher.size, "embedder": "hash:64"}


def test_metrics_count_requests_by_route_and_status_and_time_them_by_mode(client: TestClient, hash_searcher: Searcher) -> None:
    client.post("/api/ask", json={"question": QUESTION, "mode": "bm25"})
    client.post("/api/ask", json={"question": QUESTION, "mode": "bm25"})
    client.post("/api/ask", json={"question": QUESTION, "k": 0})
    client.get("/api/documents/nope")
    client.get("/nowhere")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'aihub_qa_http_requests_total{method="POST",route="/api/ask",status="200"} 2.0' in text
    assert 'aihub_qa_http_requests_total{method="POST",route="/api/ask",status="422"} 1.0' in text
    assert 'aihub_qa_http_requests_total{method="GET",route="/api/documents/{doc_id}",status="404"} 1.0' in text
    assert 'aihub_qa_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'aihub_qa_http_request_duration_seconds_count{mode="bm25",route="/api/ask"} 2.0' in text
    assert f"aihub_qa_index_chunks {float(hash_searcher.size)}" in text
    assert "aihub_qa_index_documents 5.0" in text
    assert "aihub_qa_ready 1.0" in text


def test_each_app_has_its_own_metrics_registry(hash_settings: Settings, hash_searcher: Searcher) -> None:
    first_app, second_app = create_app(hash_settings, hash_searcher), create_app(hash_settings, hash_searcher)
    with TestClient(first_app) as first, TestClient(second_app) as second:
        first.get("/healthz")
        first.get("/healthz")
        second.get("/healthz")

        line = 'aihub_qa_http_requests_total{method="GET",route="/healthz",status="200"}'
        assert f"{line} 2.0" in first.get("/metrics").text
        assert f"{line} 1.0" in second.get("/metrics").text


# ------------------------------------------------------------------ overrides, docs, page


def test_routes_answer_from_the_injected_searcher_only(
    hash_settings: Settings, hash_searcher: Searcher, tmp_path: Path
) -> None:
    # An app configured for one index, with the searcher of another injected: every route must
    # answer from the injected one (nothing reaches around the dependency to the configured index).
    from tests.conftest import write_article
    from tests.service.conftest import build_searcher, build_settings

    write_article(tmp_path / "other", "only", "다른 말뭉치", ["이 말뭉치에는 기사가 하나뿐이다."])
    other = build_searcher(build_settings(tmp_path / "other-index", "hash:64").model_copy(update={"corpus_dir": tmp_path / "other"}))
    app = create_app(hash_settings, hash_searcher)
    app.dependency_overrides[get_searcher] = lambda: other
    with TestClient(app) as client:
        listed = client.get("/api/documents").json()
        answer = client.post("/api/ask", json={"question": "말뭉치", "k": 5}).json()
        known = client.get("/api/documents/only")

    assert [d["id"] for d in listed["documents"]] == ["only"]
    assert {p["citation"]["doc_id"] for p in answer["passages"]} == {"only"}
    assert known.status_code == 200 and known.json()["title"] == "다른 말뭉치"


def test_openapi_documents_the_api_and_docs_page_is_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert {"/api/ask", "/api/documents", "/api/documents/{doc_id}", "/healthz", "/readyz", "/metrics"} <= set(schema["paths"])
    ask = schema["paths"]["/api/ask"]["post"]
    assert ask["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskRequest")
    assert {"200", "400", "413", "415", "422", "503"} <= set(ask["responses"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # Works air-gapped: every asset the docs page loads is served by the app itself.
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', docs.text)
    assert "/docs-assets/swagger-ui-bundle.js" in assets
    assert all(a.startswith("/") and not a.startswith("//") for a in assets)  # this server, no CDN
    for asset in assets:
        assert client.get(asset).status_code == 200


def test_chat_page_and_its_static_files_are_served(client: TestClient) -> None:
    page = client.get("/")

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'data-testid="question-input"' in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert client.get("/static/style.css").status_code == 200


def test_the_answers_passage_highlights_the_answer_sentence(hash_searcher: Searcher) -> None:
    from index.answer import Answer, AnswerSentence

    result = hash_searcher.search(QUESTION, k=3)
    hit = result.hits[1]
    start = hit.chunk.text.index("\n") + 1 if "\n" in hit.chunk.text.strip() else 0
    end = len(hit.chunk.text)
    sentence = AnswerSentence(2, hit.document.id, hit.chunk.start + start, hit.chunk.start + end,
                              hit.chunk.text[start:end], start, end)
    body = response_from_result(result, Answer(True, 0.9, sentence, sentence, {}, "lexical")).model_dump()
    assert body["answer"]["citation"]["start"] == hit.chunk.start + start
    assert body["passages"][1]["highlight"] == {"start": start, "end": end}
    assert body["passages"][0]["highlight"] == {"start": result.hits[0].highlight[0], "end": result.hits[0].highlight[1]}
    declined = response_from_result(result, Answer(False, 0.1, None, sentence, {}, "lexical")).model_dump()
    assert declined["answer"] is None and declined["answered"] is False
    assert declined["passages"][1]["highlight"] == {"start": hit.highlight[0], "end": hit.highlight[1]}
