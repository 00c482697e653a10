"""Fitting and checking the answer models: weighted logistic regression, held-out splits, reliability.

The split is fixed by a hash of each question's id (no randomness, no file to keep in sync):
a question is held out when ``sha256(id)`` falls in the first third of the hash space.
Nothing is ever fitted on held-out questions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.confidence import LogisticModel

HELD_OUT_SHARE = 1 / 3
L2 = 1.0  # ridge penalty on the standardised weights (not on the bias)
RELIABILITY_BINS = 5


def is_held_out(question_id: str) -> bool:
    """True for about a third of ids, always the same ones."""
    value = int.from_bytes(hashlib.sha256(question_id.encode("utf-8")).digest()[:8], "big")
    return value / 2**64 < HELD_OUT_SHARE


def split_of(question_id: str) -> str:
    return "held-out" if is_held_out(question_id) else "train"


def fit_logistic(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray, names: Sequence[str], l2: float = L2
) -> LogisticModel:
    """Weighted logistic regression over standardised features, fitted with L-BFGS."""
    from scipy.optimize import minimize

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mean = (w[:, None] * x).sum(axis=0)
    scale = np.sqrt((w[:, None] * (x - mean) ** 2).sum(axis=0))
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    n_obs = max(1.0, float(len(y)))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef, bias = theta[:-1], theta[-1]
        logits = z @ coef + bias
        p = 1.0 / (1.0 + np.exp(-logits))
        eps = 1e-12
        value = -(w * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))).sum() + l2 / n_obs * (coef @ coef)
        residual = w * (p - y)
        grad = np.concatenate([z.T @ residual + 2 * l2 / n_obs * coef, [residual.sum()]])
        return float(value), grad

    theta = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return LogisticModel(tuple(names), tuple(float(v) for v in theta[:-1]), float(theta[-1]), tuple(mean), tuple(scale))


def fit_choice(
    groups: Sequence[np.ndarray],
    correct: Sequence[np.ndarray],
    names: Sequence[str],
    l2: float = L2,
    weights: Sequence[float] | None = None,
) -> LogisticModel:
    """Conditional logit: per group (a question's candidate sentences), maximise the softmax
    probability of choosing a correct candidate, each group counted with its weight (default 1).
    Groups without a correct one are skipped. The result is a linear scorer (its bias is
    irrelevant to the choice and set to 0)."""
    from scipy.optimize import minimize

    group_weights = [1.0] * len(groups) if weights is None else list(weights)
    kept = [
        (np.asarray(x, dtype=np.float64), np.asarray(c, dtype=bool), float(w))
        for x, c, w in zip(groups, correct, group_weights)
        if np.any(c)
    ]
    allx = np.vstack([x for x, _, _ in kept])
    mean, scale = allx.mean(axis=0), allx.std(axis=0)
    scale[scale < 1e-9] = 1.0
    total = sum(w for _, _, w in kept)
    # weights rescaled to sum to the number of groups, so l2 means the same with or without them
    zs = [((x - mean) / scale, c, w * len(kept) / total) for x, c, w in kept]

    def loss(coef: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = l2 * (coef @ coef), 2 * l2 * coef
        for z, c, w in zs:
            s = z @ coef
            m = s.max()
            p = np.exp(s - m)
            p /= p.sum()
            pc = p[c].sum()
            value -= w * np.log(pc + 1e-12)
            q = np.where(c, p / (pc + 1e-12), 0.0)  # posterior over the correct candidates
            grad -= w * (z.T @ (q - p))
        return float(value / len(zs)), grad / len(zs)

    coef = minimize(loss, np.zeros(allx.shape[1]), jac=True, method="L-BFGS-B").x
    return LogisticModel(tuple(names), tuple(float(v) for v in coef), 0.0, tuple(mean), tuple(scale))


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float  # share right among the questions in the bin


def reliability(confidence: Sequence[float], right: Sequence[bool], bins: int = RELIABILITY_BINS) -> list[ReliabilityBin]:
    """Equal-width bins of confidence with the share of right answers in each (empty bins left out)."""
    c = np.asarray(confidence, dtype=np.float64)
    r = np.asarray(right, dtype=np.float64)
    out = []
    edges = np.linspace(0.0, 1.0, bins + 1)
    for i in range(bins):
        lo, hi = edges[i], edges[i + 1]
        mask = (c >= lo) & ((c < hi) if i < bins - 1 else (c <= hi))
        if mask.any():
            out.append(ReliabilityBin(float(lo), float(hi), int(mask.sum()), float(c[mask].mean()), float(r[mask].mean())))
    return out


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    total = sum(b.count for b in bins)
    return sum(b.count * abs(b.mean_confidence - b.accuracy) for b in bins) / total if total else 0.0
