"""Both storage backends evaluated side by side on an external dataset (eval.backend_parity, eval.bench_milvus --korquad)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus")  # the dev extra installs it: CI runs these

from eval import bench_milvus  # noqa: E402
from eval.backend_parity import RecordedVectors, compare_backends  # noqa: E402
from eval.datasets import load_dataset  # noqa: E402
from eval.runner import parse_ks, parse_modes  # noqa: E402
from index.embedders import HashEmbedder  # noqa: E402
from index.milvus_store import MilvusConfig  # noqa: E402
from index.search import FusionConfig  # noqa: E402
from index.tokenizers import make_tokenizer  # noqa: E402
from tests.eval.test_eval_command import squad_file  # noqa: E402


class Counting(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(64)
        self.queries: list[str] = []
        self.passages = 0

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        self.queries.extend(texts)
        return super()._encode_queries(texts)

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        self.passages += len(texts)
        return super()._encode_passages(texts)


def test_recorded_vectors_serve_known_passages_and_embed_each_question_once() -> None:
    inner = Counting()
    known = {"알려진 문단": np.full(64, 0.125, np.float32)}
    shared = RecordedVectors(inner, dict(known))
    got = shared.embed_passages(["알려진 문단", "새 문단"])
    np.testing.assert_array_equal(got[0], known["알려진 문단"])
    np.testing.assert_array_equal(got[1], inner.embed_passages(["새 문단"])[0])
    assert inner.passages == 2  # the new passage once for the test's own check, once through the wrapper
    first = shared.embed_queries(["질문 하나", "질문 둘"])
    again = shared.embed_queries(["질문 둘"])
    np.testing.assert_array_equal(first[1], again[0])
    assert inner.queries == ["질문 하나", "질문 둘"]
    assert shared.describe() == inner.describe() and shared.spec == inner.spec


def test_both_backends_give_the_same_metrics_rankings_and_scores(tmp_path: Path) -> None:
    data = load_dataset(squad_file(tmp_path))
    embedder = Counting()
    parity = compare_backends(
        data, embedder, make_tokenizer("mecab+bigram"), True, tmp_path / "cache",
        MilvusConfig(str(tmp_path / "milvus.db")), parse_modes("dense,bm25,hybrid,hybrid-rrf", FusionConfig()),
        parse_ks("1,3"),
    )
    assert embedder.passages == len(data.passages)  # embedded once, for the local index; Milvus got the same vectors
    assert sorted(set(embedder.queries)) == sorted({q.question for q in data.queries} | {"warm-up question"})
    assert [m.spec.name for m in parity.milvus.modes] == ["dense", "bm25", "hybrid", "hybrid-rrf"]
    assert all(len(m.outcomes) == len(data.queries) and m.outcomes[0].passages for m in parity.milvus.modes)
    assert parity.max_abs_diff == 0.0
    assert parity.differing_questions() == {"dense": [], "bm25": [], "hybrid": [], "hybrid-rrf": []}
    assert all(d < 1e-5 for d in parity.max_score_diff().values())


def test_korquad_mode_prints_both_backends_side_by_side(tmp_path: Path, capsys) -> None:
    bench_milvus.main(["--korquad", str(squad_file(tmp_path)), "--embedder", "hash:64", "--modes", "bm25,hybrid",
                       "--k", "1,3", "--cache", str(tmp_path / "cache"), "--uri", str(tmp_path / "m.db"), "--json"])
    out = capsys.readouterr().out
    doc = json.loads(out.strip().splitlines()[-1])
    assert (doc["queries"], doc["max_abs_diff"], doc["differing_questions"]) == (5, 0.0, {"bm25": 0, "hybrid": 0})
    assert {(m["mode"], m["metric"]) for m in doc["metrics"]} >= {("hybrid", "mrr@10"), ("bm25", "answer_hit@3")}
    assert all(m["local"] == m["milvus"] for m in doc["metrics"])
    table = out.split("{", 1)[0]
    assert "bm25 local" in table and "hybrid milvus" in table and "rankings differ" in table
    assert "largest absolute difference of any metric: 0.000000" in table


def test_bench_needs_one_of_scale_or_parity(capsys) -> None:
    with pytest.raises(SystemExit):
        bench_milvus.main([])
    assert "give --passages N (scale) or --korquad [PATH] (parity)" in capsys.readouterr().err
