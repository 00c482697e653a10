"""The gold set is sound, and the default hybrid search is never worse than either retriever on it."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from index.search import Searcher
from index.store import build_corpus_index, load_index
from index.tokenizers import DEFAULT_TOKENIZER, make_tokenizer
from ingest.chunking import ChunkingConfig
from ingest.reader import read_corpus

GOLD = Path(__file__).resolve().parents[2] / "eval" / "data" / "seed_qa.jsonl"


def _norm(s: str) -> str:
    return "".join(unicodedata.normalize("NFKC", s).casefold().split())


def _gold() -> list[dict]:
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_gold_set_is_well_formed_and_every_answer_is_in_its_cleaned_articles(corpus_dir: Path) -> None:
    gold = _gold()
    docs = {d.id: _norm(d.text) for d in read_corpus(corpus_dir)}
    assert len(gold) >= 80 and len({q["id"] for q in gold}) == len(gold)
    assert sum(q["kind"] == "reworded" for q in gold) >= len(gold) / 2
    assert sum(len(q["doc_ids"]) > 1 for q in gold) >= 5
    assert {d for q in gold for d in q["doc_ids"]} == set(docs)
    for q in gold:
        assert q["question"].strip() and q["answers"], q["id"]
        for doc_id in q["doc_ids"]:
            assert any(_norm(a) in docs[doc_id] for a in q["answers"]), f"{q['id']}: no answer in {doc_id}"


@pytest.mark.model
def test_default_hybrid_is_not_below_the_better_component(corpus_dir: Path, tmp_path: Path, default_embedder) -> None:
    build_corpus_index(corpus_dir, tmp_path / "idx", default_embedder, make_tokenizer(DEFAULT_TOKENIZER), ChunkingConfig())
    searcher = Searcher(load_index(tmp_path / "idx"), default_embedder)
    gold = _gold()
    stats: dict[str, tuple[float, float]] = {}
    for mode in ("dense", "bm25", "hybrid"):
        hit1 = mrr = 0.0
        for q in gold:
            answers = [_norm(a) for a in q["answers"]]
            hits = searcher.search(q["question"], k=10, mode=mode).hits
            rank = next((h.rank for h in hits if any(a in _norm(h.chunk.text) for a in answers)), None)
            hit1 += rank == 1
            mrr += 1 / rank if rank else 0.0
        stats[mode] = (hit1 / len(gold), mrr / len(gold))
    for i, metric in enumerate(("hit@1", "mrr@10")):
        best_component = max(stats["dense"][i], stats["bm25"][i])
        assert stats["hybrid"][i] >= best_component, f"{metric}: {stats}"
