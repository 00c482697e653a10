"""Tests for eval.report: the terminal table, report.md, results.json and the chart."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from rich.console import Console

from eval.datasets import EvalDataset, EvalPassage, EvalQuery
from eval.report import (
    ReportContext,
    markdown,
    results_document,
    results_table,
    results_tables,
    worst,
    write_report,
)
from eval.runner import EvalRun, ModeResult, ModeSpec, QueryOutcome, RetrievedPassage
from index.search import FusionConfig

QUERIES = tuple(EvalQuery(f"q{i}", f"질문 {i}", (f"답{i}",), (f"p{i}",)) for i in range(5))
DATASET = EvalDataset(
    "mini.json", "squad", QUERIES, tuple(EvalPassage(f"p{i}", "", f"문단 {i} 답{i}") for i in range(5)), "f" * 64
)


def outcome(qid: str, first: int | None) -> QueryOutcome:
    i = int(qid[1:])
    order = [f"p{j}" for j in range(5) if j != i]
    if first is not None:
        order.insert(first - 1, f"p{i}")
    passages = tuple(
        RetrievedPassage(r, f"{d}#0000", d, 1.0 / r, d == f"p{i}", f"문단 {d} | 내용\n둘째 줄") for r, d in enumerate(order, 1)
    )
    return QueryOutcome(qid, 10.0 + i, tuple(order), first, first, None, passages)


def mode(name: str, firsts: list[int | None]) -> ModeResult:
    outs = tuple(outcome(f"q{i}", f) for i, f in enumerate(firsts))
    hit1 = sum(f == 1 for f in firsts) / len(firsts)
    metrics = {"hit@1": hit1, "recall@1": hit1, "mrr@10": 0.5, "ndcg@10": 0.6, "answer_hit@1": hit1}
    search_mode = name.split("-")[0]
    fusion = FusionConfig("rrf" if name.endswith("rrf") else "convex")
    return ModeResult(ModeSpec(name, search_mode, fusion), metrics, {"p50": 11.0, "p95": 13.5}, {}, outs)


RUN = EvalRun(
    dataset=DATASET,
    ks=(1,),
    depth=10,
    unit_kind="document",
    metric_names=("hit@1", "recall@1", "mrr@10", "ndcg@10", "answer_hit@1"),
    modes=(mode("bm25", [1, None, 3, 1, 2]), mode("hybrid-rrf", [1, 1, 1, 1, 1])),
    relevant={q.id: (f"p{q.id[1:]}",) for q in QUERIES},
    unjudgeable=(),
    seconds=1.25,
)
CONTEXT = ReportContext(
    dataset_path="data/mini.json",
    command_line="aihub-qa eval --dataset data/mini.json --format squad",
    embedder="hash:64",
    tokenizer="bigram",
    index={"directory": "cache/x", "documents": 5, "chunks": 5, "chunking": {"whole_documents": True},
           "title_context": False, "embedder": "hash-bigram", "tokenizer": "bigram", "corpus_hash": "f" * 16,
           "created": "2026-01-01T00:00:00+00:00"},
    cache="reusing cached index cache/x",
)


def test_table_has_modes_as_rows_and_metrics_as_columns() -> None:
    console = Console(width=200, record=True)
    console.print(results_table(RUN))
    text = console.export_text()
    header = next(line for line in text.splitlines() if "mode" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == [
        "mode", "hit@1", "recall@1", "mrr@10", "ndcg@10", "answer_hit@1", "p50 ms", "p95 ms", "n",
    ]
    bm25 = next(line for line in text.splitlines() if "bm25" in line)
    assert [c.strip() for c in bm25.strip("│ ").split("│")] == [
        "bm25", "0.400", "0.400", "0.500", "0.600", "0.400", "11.0", "13.5", "5",
    ]


def test_narrow_terminals_get_the_table_split_by_columns() -> None:
    assert len(results_tables(RUN, 200)) == 1
    tables = results_tables(RUN, 60)
    assert len(tables) > 1
    headers = [[c.header for c in t.columns] for t in tables]
    assert all(h[0] == "mode" for h in headers)
    assert [c for h in headers for c in h[1:]] == [
        "hit@1", "recall@1", "mrr@10", "ndcg@10", "answer_hit@1", "p50 ms", "p95 ms", "n",
    ]
    for table in tables:
        console = Console(width=60, record=True)
        console.print(table)
        assert max(len(line) for line in console.export_text().splitlines()) <= 60
        assert "…" not in console.export_text()  # nothing truncated


def test_worst_puts_missing_first_then_deepest_rank() -> None:
    assert [o.query_id for o in worst(RUN.modes[0])] == ["q1", "q2", "q4"]
    assert worst(RUN.modes[1]) == []


def test_markdown_report() -> None:
    md = markdown(RUN, CONTEXT)
    assert md.startswith("# Retrieval evaluation: mini.json\n")
    assert "| mode | hit@1 | recall@1 | mrr@10 | ndcg@10 | answer_hit@1 | p50 ms | p95 ms | n |" in md
    assert "| hybrid-rrf | 1.000 | 1.000 | 0.500 | 0.600 | 1.000 | 11.0 | 13.5 | 5 |" in md
    assert "- command: `aihub-qa eval --dataset data/mini.json --format squad`" in md
    assert "- `hybrid-rrf`: hybrid, rrf fusion (rrf k 60, 50 candidates per retriever)" in md
    assert "- embedder: `hash:64`; tokenizer: `bigram`" in md
    assert "- cache: reusing cached index cache/x" in md
    assert "![metrics by mode](metrics.png)" in md
    section = md.split("### bm25\n", 1)[1].split("### hybrid-rrf", 1)[0]
    assert "3 worst of the 3 questions without a relevant passage at rank 1." in section
    assert section.index("**q1**") < section.index("**q2**") < section.index("**q4**")
    assert "**q1** 질문 1 (no relevant passage in the top 10)" in section
    assert "**q2** 질문 2 (first relevant at rank 3)" in section
    assert "  - expected: «답1»; relevant: `p1`" in section
    assert "  - [1] `p0` (1.000): 문단 p0 | 내용 둘째 줄" in section  # one line per passage
    assert "Every question has a relevant passage at rank 1." in md.split("### hybrid-rrf", 1)[1]


def test_results_document_has_ranks_and_top_passages() -> None:
    doc = results_document(RUN)
    assert doc["summary"]["modes"]["bm25"]["hit@1"] == 0.4
    assert (doc["ks"], doc["depth"], doc["unit"]) == ([1], 10, "document")
    q1 = doc["queries"][1]
    assert (q1["id"], q1["answers"], q1["relevant"]) == ("q1", ["답1"], ["p1"])
    bm25 = q1["modes"]["bm25"]
    assert bm25["first_relevant_rank"] is None and bm25["latency_ms"] == 11.0
    assert bm25["ranked"] == ["p0", "p2", "p3", "p4"]
    assert [p["doc_id"] for p in bm25["top"]] == ["p0", "p2", "p3"]
    assert q1["modes"]["hybrid-rrf"]["top"][0] == {
        "rank": 1, "doc_id": "p1", "chunk_id": "p1#0000", "score": 1.0, "relevant": True,
    }


def test_write_report_writes_three_files(tmp_path: Path) -> None:
    written = write_report(RUN, tmp_path / "out", CONTEXT)
    assert [p.name for p in written] == ["report.md", "results.json", "metrics.png"]
    assert all(p.is_file() for p in written)
    text = written[1].read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(json.dumps(results_document(RUN)))
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and lines[-2] == " ]"
    assert sum(line.startswith('  {"id": "q') for line in lines) == 5  # one line per question
    png = written[2].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


@pytest.mark.parametrize("name", ["광주.json"])
def test_chart_labels_stay_ascii(tmp_path: Path, name: str) -> None:
    run = EvalRun(**{**RUN.__dict__, "dataset": EvalDataset(name, "squad", QUERIES, DATASET.passages, "f" * 64)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a Korean label would warn "Glyph ... missing from font(s)"
        write_report(run, tmp_path, CONTEXT)
    assert (tmp_path / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
