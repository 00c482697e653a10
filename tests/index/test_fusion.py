"""Fusion of a dense and a BM25 list: exact scores of rows a list lacks are looked up once."""

from __future__ import annotations

import numpy as np

from index.fusion import convex, scores_for
from index.retrievers import Ranked


def counting(rows: list[int], scores: list[float], everyone: dict[int, float]) -> tuple[Ranked, list[list[int]]]:
    """A list of `rows` whose retriever scores any row from `everyone`, recording each lookup."""
    asked: list[list[int]] = []

    def score_of(wanted: np.ndarray) -> np.ndarray:
        asked.append(wanted.tolist())
        return np.array([everyone[r] for r in wanted.tolist()], dtype=np.float32)

    return Ranked(np.array(rows, np.int64), np.array(scores, np.float32), score_of), asked


def test_a_row_missing_from_a_list_is_scored_once_however_often_it_is_asked_for() -> None:
    dense, dense_asked = counting([3, 1], [0.875, 0.5], {0: 0.25, 1: 0.5, 2: 0.125, 3: 0.875})
    sparse, sparse_asked = counting([2, 0], [7.0, 1.0], {0: 1.0, 1: 0.0, 2: 7.0, 3: 3.0})
    fused = convex(dense, sparse, bm25_weight=0.5)
    assert [row for row, _ in fused] == [3, 2, 1, 0]  # fused 0.714, 0.5, 0.25, 0.155
    assert sorted(r for call in dense_asked for r in call) == [0, 2] and sorted(sparse_asked[0]) == [1, 3]
    # The hits ask again for the rows they show: answered from what fusion looked up, no new lookup.
    np.testing.assert_array_equal(scores_for(dense, np.array([2, 3, 0])), [0.125, 0.875, 0.25])
    np.testing.assert_array_equal(scores_for(sparse, np.array([3, 1])), [3.0, 0.0])
    assert len(dense_asked) == 1 and len(sparse_asked) == 1
    assert dense.ranks() == {3: 1, 1: 2} and sparse.ranks() == {2: 1, 0: 2}
