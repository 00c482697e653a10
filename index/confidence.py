"""Question-level evidence that the articles answer a question, and the calibrated model over it.

Features (each means the same for any question, unlike per-query min-max fused scores):

- ``dense_top``: raw cosine of the question with the best passage (max over the passages);
- ``dense_sentence``: raw cosine of the question with the chosen answer sentence;
- ``bm25_rel``: the best passage's BM25 score over what the question's words could score at
  most (Σ idf of its distinct tokens, unknown words included: a question about things the
  articles never mention cannot reach its own ceiling);
- ``unknown``: idf-weighted share of the question's content words that no article contains;
- ``cover_passage`` / ``cover_sentence``: idf-weighted share of the question's content words in
  the answer's passage / in the answer sentence;
- ``agree``: the two retrievers agree on the answer's passage (mean of 1/rank in each list);
- ``sentence``: the sentence model's log-odds for the chosen sentence;
- ``missing_specific``: idf of the most specific question word the answer's passage lacks, over
  the idf of the question's most specific word (a question about "3기 수료생" is not answered
  by a passage about the 1기, however much else it shares);
- ``missing_number``: share of the numbers the question states (with the counter after them:
  "3기", "2027년", "4단계") that the answer's passage does not contain: a question about the 4기
  is not answered by a passage about the 1기 and 2기, though every word matches.

``confidence`` = logistic regression over these features, fitted by ``eval/fit_answer_model.py``
(in-scope: the gold set's training split, labelled right when the chosen sentence holds a gold
answer; out-of-scope: KorQuAD questions and our own unanswerable questions, labelled wrong), so
that on held-out data a confidence of 0.8 is right about 80% of the time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

DENSE_FEATURES: tuple[str, ...] = ("dense_top", "dense_sentence")
CONFIDENCE_FEATURES: tuple[str, ...] = (
    "dense_top",
    "dense_sentence",
    "bm25_rel",
    "unknown",
    "cover_passage",
    "cover_sentence",
    "agree",
    "sentence",
    "missing_specific",
    "missing_number",
)
_STATED_NUMBER = re.compile(r"\d[\d,.]*\s*[가-힣A-Za-z%]?")


@dataclass(frozen=True)
class LogisticModel:
    """p = σ(bias + Σ wᵢ·(xᵢ − meanᵢ)/scaleᵢ) over named features."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.weights) == len(self.mean) == len(self.scale) == n):
            raise ValueError(f"model has {n} features but {len(self.weights)} weights")

    def logit(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + self.bias

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(x)))

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(self.features),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(s, 6) for s in self.scale],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LogisticModel:
        return cls(
            tuple(data["features"]),  # type: ignore[arg-type]
            tuple(float(w) for w in data["weights"]),  # type: ignore[attr-defined]
            float(data["bias"]),  # type: ignore[arg-type]
            tuple(float(m) for m in data["mean"]),  # type: ignore[attr-defined]
            tuple(float(s) for s in data["scale"]),  # type: ignore[attr-defined]
        )


def bm25_ceiling(query_tokens: Sequence[str], idf_of: dict[str, float]) -> float:
    """What a passage could score at most for these tokens, up to BM25's tf saturation: Σ idf."""
    return sum(idf_of[t] for t in dict.fromkeys(query_tokens))


def agreement(dense_rank: int | None, bm25_rank: int | None) -> float:
    """Mean of 1/rank of a passage in the dense and the BM25 list (0 where it is absent)."""
    return ((1.0 / dense_rank if dense_rank else 0.0) + (1.0 / bm25_rank if bm25_rank else 0.0)) / 2


def feature_vector(values: dict[str, float], names: Sequence[str]) -> np.ndarray:
    return np.array([values[n] for n in names], dtype=np.float64)


def logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def missing_specific(words: Sequence[str], present: set[str], idf: Callable[[str], float]) -> float:
    """max idf of `words` absent from `present` / max idf of `words` (0 when none is missing)."""
    if not words:
        return 0.0
    top = max(idf(w) for w in words)
    missing = [idf(w) for w in words if w not in present]
    return max(missing) / top if missing and top > 0 else 0.0


def missing_numbers(question: str, passage: str) -> float:
    """Share of the numbers `question` states (digits and the counter after them) absent from `passage`."""
    stated = {"".join(m.group(0).split()).rstrip(",.") for m in _STATED_NUMBER.finditer(question)}
    if not stated:
        return 0.0
    text = "".join(passage.split())
    return sum(1 for n in stated if n not in text) / len(stated)
