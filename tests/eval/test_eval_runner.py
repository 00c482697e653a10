"""Tests for eval.runner and eval.relevance: options, relevance rules, ranks and metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from eval.datasets import EvalDataset, EvalPassage, EvalQuery, load_dataset
from eval.relevance import DOCUMENT, PASSAGE, Judge
from eval.runner import (
    FreshQueryEmbedder,
    InvalidEvalOption,
    ModeSpec,
    parse_ks,
    parse_modes,
    run_eval,
    summary_json,
)
from index.embedders import HashEmbedder
from index.search import FusionConfig, Searcher
from index.manifest import CorpusRecord
from index.store import build_index, load_index
from index.tokenizers import make_tokenizer
from ingest.chunking import ChunkingConfig
from ingest.documents import Chunk, Document, chunk_id, content_hash


def exact(msg: str) -> str:
    return f"^{re.escape(msg)}$"


def chunk(doc_id: str, seq: int, text: str) -> Chunk:
    return Chunk(chunk_id(doc_id, seq), doc_id, seq, text, 0, len(text), content_hash(text))


DOCS = [
    Document("d1", "허브", "s", None, None, None, "광주 인공지능 집적단지는 첨단3지구에 있다. 데이터센터가 함께 들어선다."),
    Document("d2", "예산", "s", None, None, None, "집적단지 사업에는 4116억원이 투입된다. 국비와 시비로 충당한다."),
    Document("d3", "인재", "s", None, None, None, "AI 사관학교는 매년 인재를 길러낸다. 첨단3지구와 가깝다."),
]


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory):
    """Three one-passage documents, hash embedder, whitespace-free Korean bigram BM25."""
    directory = tmp_path_factory.mktemp("idx") / "index"
    build_index(DOCS, directory, HashEmbedder(64), make_tokenizer("bigram"), None, CorpusRecord(path=None, hash="digest"))
    return load_index(directory, "hash:64")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- options


def test_parse_ks_sorts_and_dedupes() -> None:
    assert parse_ks("10, 1,5,1") == (1, 5, 10)


@pytest.mark.parametrize("text", ["", "0,1", "a", "1,,x", "-3"])
def test_parse_ks_rejects(text: str) -> None:
    with pytest.raises(InvalidEvalOption, match=exact(f"--k must be comma-separated positive integers, got {text!r}")):
        parse_ks(text)


def test_parse_modes_forces_the_fusion_of_suffixed_hybrids() -> None:
    base = FusionConfig("convex", bm25_weight=0.3, rrf_k=20)
    specs = parse_modes("hybrid, hybrid-rrf,dense,hybrid-convex,dense", base)
    assert [s.name for s in specs] == ["hybrid", "hybrid-rrf", "dense", "hybrid-convex"]
    assert [s.search_mode for s in specs] == ["hybrid", "hybrid", "dense", "hybrid"]
    assert specs[0].fusion == base
    assert specs[1].fusion == FusionConfig("rrf", bm25_weight=0.3, rrf_k=20)
    assert specs[3].fusion == FusionConfig("convex", bm25_weight=0.3, rrf_k=20)


def test_parse_modes_rejects_unknown_and_empty() -> None:
    with pytest.raises(InvalidEvalOption, match=exact("unknown mode 'sparse'; use dense, bm25, hybrid, hybrid-rrf, hybrid-convex")):
        parse_modes("dense,sparse", FusionConfig())
    with pytest.raises(InvalidEvalOption, match=exact("--modes is empty; use dense, bm25, hybrid, hybrid-rrf, hybrid-convex")):
        parse_modes(" , ", FusionConfig())


# --------------------------------------------------------------------------- relevance


def jsonl_dataset(*queries: EvalQuery) -> EvalDataset:
    return EvalDataset("gold.jsonl", "jsonl", tuple(queries), None, "h")


CHUNKS = [
    chunk("a", 0, "광주 AI 데이터센터는 88.5 페타플롭스다."),
    chunk("a", 1, "사업비는 4116억 원이다."),
    chunk("b", 0, "총 사업비 4,116억원이 들어간다."),
    chunk("b", 1, "인재 양성."),
]


def test_jsonl_answers_decide_relevance_over_doc_ids() -> None:
    q = EvalQuery("q", "사업비는?", ("4116억원",), ("a",))
    judge = Judge(jsonl_dataset(q), CHUNKS)
    assert judge.unit_kind == PASSAGE
    # whitespace is ignored (a#0001), punctuation is not (b#0000 has "4,116"); doc 'a' alone is not enough
    assert judge.qrels() == {"q": {"a#0001": 1}}
    assert judge.judgements["q"].doc_ids == frozenset({"a"})


def test_jsonl_without_answers_is_judged_by_doc_ids() -> None:
    q = EvalQuery("q", "인재?", (), ("b",))
    assert Judge(jsonl_dataset(q), CHUNKS).qrels() == {"q": {"b#0000": 1, "b#0001": 1}}


def test_jsonl_answer_found_nowhere_gives_empty_qrels() -> None:
    q = EvalQuery("q", "?", ("없는 답",), ("a",))
    assert Judge(jsonl_dataset(q), CHUNKS).qrels() == {"q": {}}


def test_external_datasets_are_judged_by_listed_ids() -> None:
    passages = (EvalPassage("a", "", "x"), EvalPassage("b", "", "y"))
    ds = EvalDataset(
        "ext", "squad",
        (EvalQuery("q1", "?", ("88.5",), ("b",)), EvalQuery("q2", "?", ("4116억원",), ())),
        passages, "h",
    )
    judge = Judge(ds, CHUNKS)
    assert judge.unit_kind == DOCUMENT
    assert judge.unit(CHUNKS[2]) == "b"
    # listed ids win; without them, answer containment (per document)
    assert judge.qrels() == {"q1": {"b": 1}, "q2": {"a": 1}}
    assert judge.judgements["q1"].doc_ids == frozenset()


# --------------------------------------------------------------------------- running


def test_run_eval_ranks_match_the_searcher(small_index, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "gold.jsonl", [
        {"id": "q1", "question": "집적단지 예산은 얼마인가", "answers": ["4116억원"], "doc_ids": ["d2"]},
        {"id": "q2", "question": "사관학교는 무엇을 하나", "answers": ["인재"], "doc_ids": ["d3"]},
        {"id": "q3", "question": "첨단3지구에는 무엇이 있나", "answers": ["첨단3지구"], "doc_ids": ["d1"]},
        {"id": "q4", "question": "전혀 관계없는 질문", "answers": ["없는 답"]},
    ])
    ds = load_dataset(path)
    emb = HashEmbedder(64)
    specs = parse_modes("bm25,dense", FusionConfig())
    run = run_eval(ds, small_index, emb, specs, [1, 2])
    assert run.depth == 10 and run.ks == (1, 2) and run.unit_kind == PASSAGE
    assert run.unjudgeable == ("q4",)
    assert run.relevant["q3"] == ("d1#0000", "d3#0000")  # the answer is in two passages
    assert run.metric_names == (
        "hit@1", "hit@2", "recall@1", "recall@2", "mrr@10", "ndcg@10", "doc_hit@1", "doc_hit@2",
    )

    searcher = Searcher(small_index, HashEmbedder(64))
    for mode in run.modes:
        for o in mode.outcomes:
            q = next(q for q in ds.queries if q.id == o.query_id)
            expected = [h.chunk.id for h in searcher.search(q.question, k=10, mode=mode.spec.search_mode).hits]
            assert list(o.ranked) == expected
            rel = set(run.relevant[o.query_id])
            first = next((i for i, c in enumerate(expected, 1) if c in rel), None)
            assert o.first_relevant == first
            assert [p.relevant for p in o.passages] == [c in rel for c in expected]
            pq = mode.per_query[o.query_id]
            assert pq["hit@1"] == float(first == 1)
            assert pq["hit@2"] == float(first is not None and first <= 2)
            assert pq["recall@2"] == (len(rel & set(expected[:2])) / len(rel) if rel else 0.0)
            assert pq["mrr@10"] == pytest.approx(1 / first if first else 0.0)
            if o.query_id != "q4":
                doc = {"q1": "d2", "q2": "d3", "q3": "d1"}[o.query_id]
                first_doc = next(i for i, c in enumerate(expected, 1) if c.startswith(doc))
                assert o.first_doc == first_doc
                assert pq["doc_hit@1"] == float(first_doc == 1)
        assert "doc_hit@1" not in mode.per_query["q4"]  # no doc_ids: not in that mean
        for name in run.metric_names:
            judged = [pq[name] for pq in mode.per_query.values() if name in pq]
            assert mode.metrics[name] == pytest.approx(sum(judged) / len(judged))
        assert mode.latency_ms["p50"] > 0 and mode.latency_ms["p95"] >= mode.latency_ms["p50"]

    bm25 = run.modes[0]
    assert bm25.metrics["hit@1"] == pytest.approx(0.75)  # q1, q2, q3 first; q4 unanswerable


def test_summary_json_shape(small_index) -> None:
    ds = jsonl_dataset(EvalQuery("q1", "집적단지 예산", ("4116억원",), ("d2",)))
    specs = parse_modes("bm25,hybrid-rrf", FusionConfig())
    doc = summary_json(run_eval(ds, small_index, HashEmbedder(64), specs, [3, 1]))
    assert list(doc) == ["dataset", "format", "queries", "modes"]
    assert (doc["dataset"], doc["format"], doc["queries"]) == ("gold.jsonl", "jsonl", 1)
    assert list(doc["modes"]) == ["bm25", "hybrid-rrf"]
    assert list(doc["modes"]["bm25"]) == [
        "hit@1", "hit@3", "recall@1", "recall@3", "mrr@10", "ndcg@10", "doc_hit@1", "doc_hit@3", "latency_ms",
    ]
    assert list(doc["modes"]["bm25"]["latency_ms"]) == ["p50", "p95"]
    assert doc["modes"]["bm25"]["hit@1"] == 1.0


def test_external_dataset_reports_answer_hits(small_index) -> None:
    passages = tuple(EvalPassage(d.id, d.title, d.text) for d in DOCS)
    ds = EvalDataset("k.json", "squad", (
        EvalQuery("q1", "집적단지 예산은", ("4116억원",), ("d2",)),
        EvalQuery("q2", "첨단3지구", ("첨단3지구",), ("d3",)),
    ), passages, "h")
    run = run_eval(ds, small_index, HashEmbedder(64), parse_modes("bm25", FusionConfig()), [1])
    assert run.unit_kind == DOCUMENT
    assert run.metric_names[-1] == "answer_hit@1"
    mode = run.modes[0]
    o1, o2 = mode.outcomes
    assert o1.ranked[0] == "d2" and o1.first_relevant == 1 and o1.first_answer == 1
    # q2's own paragraph is d3 but d1 also contains the answer
    assert o2.first_answer == min(o2.ranked.index("d1"), o2.ranked.index("d3")) + 1
    assert mode.metrics["answer_hit@1"] == pytest.approx(
        (float(o1.first_answer == 1) + float(o2.first_answer == 1)) / 2
    )


def test_run_eval_needs_modes(small_index) -> None:
    ds = jsonl_dataset(EvalQuery("q1", "질문", ("답",), ()))
    with pytest.raises(InvalidEvalOption, match="^no modes to run"):
        run_eval(ds, small_index, HashEmbedder(64), [], [1])


# --------------------------------------------------------------------------- latency honesty


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(16)
        self.calls: list[str] = []

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        self.calls.extend(texts)
        return super().embed_queries(texts)


def test_fresh_query_embedder_remembers_only_the_last_question() -> None:
    inner = CountingEmbedder()
    fresh = FreshQueryEmbedder(inner)
    assert (fresh.spec, fresh.dim, fresh.describe()) == ("hash:16", 16, inner.describe())
    a1 = fresh.embed_query("a")
    a2 = fresh.embed_query("a")  # served from the one-entry cache (convex fusion asks twice)
    fresh.embed_query("b")
    fresh.embed_query("a")  # asked again after another question: embedded again
    assert inner.calls == ["a", "b", "a"]
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(a1, inner.embed_query("a"))


def test_every_mode_embeds_each_question_afresh(small_index) -> None:
    inner = CountingEmbedder()
    index_dir = small_index.directory.parent / "idx16"
    build_index(DOCS, index_dir, HashEmbedder(16), make_tokenizer("bigram"), None, CorpusRecord(path=None, hash="digest"))
    ds = jsonl_dataset(EvalQuery("q1", "집적단지", ("집적단지",), ()), EvalQuery("q2", "인재", ("인재",), ()))
    specs = (
        ModeSpec("dense", "dense", FusionConfig()),
        ModeSpec("hybrid", "hybrid", FusionConfig("convex")),
        ModeSpec("bm25", "bm25", FusionConfig()),
    )
    run_eval(ds, load_index(index_dir, "hash:16"), inner, specs, [1])
    warm = "warm-up question"
    assert inner.calls == [warm, "집적단지", "인재", warm, "집적단지", "인재"]


def test_chunked_jsonl_index_counts_chunks_as_units(tmp_path: Path) -> None:
    docs = [Document("long", "t", "s", None, None, None, " ".join(f"문장{i}번 내용입니다." for i in range(30)))]
    directory = tmp_path / "chunked"
    build_index(docs, directory, HashEmbedder(16), make_tokenizer("bigram"), ChunkingConfig(16, 0), CorpusRecord(path=None, hash="d"))
    index = load_index(directory, "hash:16")
    assert len(index.chunks) > 3
    ds = jsonl_dataset(EvalQuery("q", "문장29번", (), ("long",)))
    run = run_eval(ds, index, HashEmbedder(16), parse_modes("bm25", FusionConfig()), [1])
    assert set(run.relevant["q"]) == {c.id for c in index.chunks}
    assert run.modes[0].metrics["recall@1"] == pytest.approx(1 / len(index.chunks))
