"""Evaluate answers (not rankings): the answer sentence, the decline decision, the confidence.

- ``answer_correct``: the question was answered and the answer sentence contains a gold answer;
- ``sentence_correct``: the best sentence contains a gold answer, answered or not;
- ``answered``: share of in-scope questions answered (not declined);
- ``declined[kind]``: share of out-of-scope questions declined, per kind (near, far, …);
- reliability: confidence (the probability that the best sentence answers the question) in bins
  against the share whose best sentence holds a gold answer (out-of-scope questions are never
  right), plus the expected calibration error. Confidence is the probability that the best
  sentence is right, so it is judged on every question, answered or declined.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.calibration import ReliabilityBin, expected_calibration_error, is_held_out, reliability
from eval.datasets import DatasetError, EvalQuery
from eval.metrics import contains_answer
from index.answer import answer
from index.search import Searcher

SPLITS: tuple[str, ...] = ("all", "train", "held-out")
ANSWER_K = 5


@dataclass(frozen=True)
class OutOfScopeQuestion:
    id: str
    question: str
    kind: str


@dataclass(frozen=True)
class AnswerOutcome:
    id: str
    kind: str  # "gold" or the out-of-scope kind
    answered: bool
    confidence: float
    right: bool  # the best sentence holds a gold answer (never for out-of-scope)


@dataclass(frozen=True)
class AnswerEval:
    split: str
    outcomes: tuple[AnswerOutcome, ...]

    def _gold(self) -> list[AnswerOutcome]:
        return [o for o in self.outcomes if o.kind == "gold"]

    def metrics(self) -> dict[str, float]:
        gold, out = self._gold(), {}
        if gold:
            out["answer_correct"] = sum(o.answered and o.right for o in gold) / len(gold)
            out["sentence_correct"] = sum(o.right for o in gold) / len(gold)
            out["answered"] = sum(o.answered for o in gold) / len(gold)
        for kind in sorted({o.kind for o in self.outcomes} - {"gold"}):
            group = [o for o in self.outcomes if o.kind == kind]
            out[f"declined_{kind}"] = sum(not o.answered for o in group) / len(group)
        out["ece"] = expected_calibration_error(self.bins())
        return out

    def counts(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for o in self.outcomes:
            kinds[o.kind] = kinds.get(o.kind, 0) + 1
        return kinds

    def bins(self) -> list[ReliabilityBin]:
        return reliability([o.confidence for o in self.outcomes], [o.right for o in self.outcomes])


def in_split(question_id: str, split: str) -> bool:
    return split == "all" or (split == "held-out") == is_held_out(question_id)


def load_out_of_scope(path: Path) -> list[OutOfScopeQuestion]:
    """jsonl lines {"id", "question", "kind"}; kind defaults to "out-of-scope"."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(OutOfScopeQuestion(str(d["id"]), str(d["question"]), str(d.get("kind", "out-of-scope"))))
        except (ValueError, KeyError, TypeError):
            raise DatasetError(f"{path}:{n}: expected a JSON object with id and question") from None
    if not out:
        raise DatasetError(f"{path}: no questions")
    return out


def evaluate_answers(
    searcher: Searcher,
    queries: Sequence[EvalQuery],
    out_of_scope: Sequence[OutOfScopeQuestion] = (),
    split: str = "all",
    mode: str = "hybrid",
    progress: Callable[[int, int], None] | None = None,
) -> AnswerEval:
    """Ask every in-split question (in-scope with answers, then out-of-scope) and judge the answers."""
    todo: list[tuple[str, str, str, tuple[str, ...]]] = [
        (q.id, q.question, "gold", q.answers) for q in queries if q.answers and in_split(q.id, split)
    ]
    todo += [(q.id, q.question, q.kind, ()) for q in out_of_scope if in_split(q.id, split)]
    outcomes = []
    for n, (qid, question, kind, answers) in enumerate(todo, 1):
        result = searcher.search(question, k=ANSWER_K, mode=mode)
        found = answer(searcher, result)
        right = bool(answers) and found.best is not None and contains_answer(found.best.text, answers)
        outcomes.append(AnswerOutcome(qid, kind, found.answered, found.confidence, right))
        if progress:
            progress(n, len(todo))
    return AnswerEval(split, tuple(outcomes))


def write_reliability_chart(result: AnswerEval, path: Path) -> None:
    """Confidence against the share right per bin, with the diagonal and the bin sizes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = result.bins()
    fig, ax = plt.subplots(figsize=(5.5, 5.0))
    try:
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        xs = [b.mean_confidence for b in bins]
        ax.plot(xs, [b.accuracy for b in bins], marker="o", label="answers")
        for b in bins:
            ax.annotate(f"n={b.count}", (b.mean_confidence, b.accuracy), textcoords="offset points", xytext=(4, -12), fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("confidence")
        ax.set_ylabel("share answered right")
        ax.set_title(f"Reliability ({result.split} split, ECE {expected_calibration_error(bins):.3f})")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize="small")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
