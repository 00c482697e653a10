"""Tests for eval.metrics: ranx results checked against hand computation and edge cases."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    compute_metrics,
    contains_answer,
    latency_summary,
    metric_names,
    normalize_for_match,
    run_from_ranked,
)


def test_normalize_for_match() -> None:
    assert normalize_for_match("  Ｇｗａｎｇｊｕ\u3000AI 허브\n") == "gwangjuai허브"
    assert normalize_for_match("4,000 억원") == normalize_for_match("4,000억 원")


def test_contains_answer() -> None:
    text = "광주 AI 허브는 첨단 3지구에 들어선다."
    assert contains_answer(text, ["없는 답", "첨단3지구"])
    assert contains_answer(text, ["ai허브"])
    assert not contains_answer(text, ["부산"])
    assert not contains_answer(text, ["", "  "])  # blank answers never match
    assert not contains_answer(text, [])
    with pytest.raises(TypeError):
        contains_answer(text, "첨단")


def test_metric_names_order() -> None:
    assert metric_names([5, 1, 5]) == [
        "hit@1", "hit@5", "recall@1", "recall@5", "mrr@10", "ndcg@10"
    ]
    with pytest.raises(ValueError):
        metric_names([0])


def test_matches_hand_computation() -> None:
    qrels = {"q1": {"a": 1, "c": 1}, "q2": {"x": 1}}
    run = run_from_ranked({"q1": ["b", "a", "d", "c"], "q2": ["x", "y"]})
    m = compute_metrics(qrels, run, ks=[1, 3])

    # q1: relevant at ranks 2 and 4; q2: relevant at rank 1.
    q1 = {
        "hit@1": 0.0, "hit@3": 1.0,
        "recall@1": 0.0, "recall@3": 0.5,
        "mrr@10": 1 / 2,
        "ndcg@10": (1 / math.log2(3) + 1 / math.log2(5)) / (1 / math.log2(2) + 1 / math.log2(3)),
    }
    q2 = dict.fromkeys(q1, 1.0)
    assert m.per_query["q1"] == pytest.approx(q1)
    assert m.per_query["q2"] == pytest.approx(q2)
    assert list(m.values) == ["hit@1", "hit@3", "recall@1", "recall@3", "mrr@10", "ndcg@10"]
    assert m.values == pytest.approx({k: (q1[k] + q2[k]) / 2 for k in q1})
    assert all(type(v) is float for v in m.values.values())
    assert all(type(v) is float for pq in m.per_query.values() for v in pq.values())


def test_ndcg_uses_linear_gain() -> None:
    m = compute_metrics({"q": {"d1": 2, "d2": 1}}, run_from_ranked({"q": ["d2", "d1"]}), ks=[1])
    dcg = 1 / math.log2(2) + 2 / math.log2(3)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert m.values["ndcg@10"] == pytest.approx(dcg / idcg)


def test_missing_run_query_counts_as_zero() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1}}
    run = {"q1": {"d1": 1.0}, "q3": {}, "extra": {"d1": 1.0}}  # q2 absent, q3 empty, extra ignored
    m = compute_metrics(qrels, run, ks=[1, 5])
    assert set(m.per_query) == {"q1", "q2", "q3"}
    assert m.per_query["q2"] == dict.fromkeys(metric_names([1, 5]), 0.0)
    assert m.per_query["q3"] == dict.fromkeys(metric_names([1, 5]), 0.0)
    assert m.values == pytest.approx(dict.fromkeys(metric_names([1, 5]), 1 / 3))


def test_empty_run_gives_zeros() -> None:
    m = compute_metrics({"q1": {"d1": 1}}, {}, ks=[1])
    assert m.values == dict.fromkeys(metric_names([1]), 0.0)


def test_query_without_relevant_items_counts_as_zero() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {}, "q3": {"d9": 0}}
    run = run_from_ranked({"q1": ["d1"], "q2": ["d1"], "q3": ["d9"]})
    m = compute_metrics(qrels, run, ks=[1])
    assert m.per_query["q2"]["hit@1"] == 0.0
    assert m.per_query["q3"]["ndcg@10"] == 0.0
    assert m.values["mrr@10"] == pytest.approx(1 / 3)
    only_unjudged = compute_metrics({"q2": {}}, run, ks=[1])  # ranx alone would raise here
    assert only_unjudged.values == dict.fromkeys(metric_names([1]), 0.0)


def test_no_queries_is_an_error() -> None:
    with pytest.raises(ValueError):
        compute_metrics({}, {}, ks=[1])


def test_run_from_ranked_scores() -> None:
    run = run_from_ranked({"q": ["b", "a", "b", "c"], "empty": []})
    assert run == {"q": {"b": 3.0, "a": 2.0, "c": 1.0}, "empty": {}}
    with pytest.raises(TypeError):
        run_from_ranked({"q": "abc"})


def test_run_from_ranked_preserves_order_despite_tied_scores() -> None:
    # A retriever returned 40 hits with identical scores; ranx sorts tied scores
    # unstably, so only rank-derived scores keep the caller's order.
    ranked = [f"문서{i:02d}" for i in range(40)]
    target = ranked[25]
    qrels = {"q": {target: 1}}
    m = compute_metrics(qrels, run_from_ranked({"q": ranked}), ks=[25, 26])
    assert m.values["mrr@10"] == 0.0
    assert m.values["hit@25"] == 0.0
    assert m.values["hit@26"] == 1.0
    m_first = compute_metrics({"q": {ranked[0]: 1}}, run_from_ranked({"q": ranked}), ks=[1])
    assert m_first.values["mrr@10"] == 1.0


def test_latency_summary() -> None:
    s = latency_summary([float(x) for x in range(1, 101)])
    assert s == pytest.approx({"p50": 50.5, "p95": 95.05})
    assert all(type(v) is float for v in s.values())
    assert latency_summary([7]) == {"p50": 7.0, "p95": 7.0}
    with pytest.raises(ValueError):
        latency_summary([])
