"""Fit the answer-sentence and confidence models; write index/answer_model.json.

    python -m eval.fit_answer_model [--index var/index] [--korquad ../shared/benchmarks/KorQuAD_v1.0_dev.json]
                                    [--korquad-questions 600] [--korquad-in-scope 1000] [--out index/answer_model.json]

Data (split by ``eval.calibration.split_of``: only the training split is fitted on):

- in-scope: the gold set ``eval/data/seed_qa.jsonl``; a question is answered right when the
  chosen sentence contains one of its answers;
- out-of-scope: ``eval/data/out_of_scope.jsonl`` (our own questions, ``near``: Gwangju or Korean
  AI but a fact the articles do not hold; ``far``: unrelated) and a fixed sample of KorQuAD 1.0
  dev questions (Wikipedia topics), read from the benchmark file at fit time (never committed).
  Every out-of-scope question is wrong whatever sentence is chosen;
- for the sentence model only: other KorQuAD 1.0 dev questions (disjoint from that sample) asked
  of KorQuAD's own passages (the eval cache's index, built when missing), where the sentence
  holding the answer span is right. They teach the choice on a thousand questions besides our 83,
  each weighted ``KORQUAD_SENTENCE_WEIGHT`` of a gold question.

The sentence model is a conditional logit over the candidate sentences of each training question
(it learns to put a sentence holding an answer first). The confidence model (the chosen sentence
is right) is fitted on all training questions asked of the bundled articles, in-scope and
out-of-scope weighted equally in total (out-of-scope: half KorQuAD, half ours), so that confidence
is calibrated for a mix where half the questions asked have an answer in the articles. Both are
fitted twice: ``full`` (with the embedder's cosine similarities, for the embedder the index was
built with) and ``lexical`` (without them, for any other embedder and bm25 mode).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eval.calibration import expected_calibration_error, fit_choice, fit_logistic, reliability, split_of
from eval.cache import ensure_dataset_index
from eval.datasets import EvalDataset, EvalQuery, default_title_context, load_dataset
from eval.metrics import contains_answer
from index.answer import FULL, LEXICAL, Answerer
from index.confidence import CONFIDENCE_FEATURES, DENSE_FEATURES, LogisticModel
from index.embedders import DEFAULT_EMBEDDER, canonical_spec, make_embedder
from index.search import SearchResult, Searcher
from index.sentences import DENSE_SENTENCE_FEATURES, SENTENCE_FEATURES, SentenceCandidate
from index.store import load_index
from ingest.errors import AihubQaError

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "eval" / "data" / "seed_qa.jsonl"
OUT_OF_SCOPE = ROOT / "eval" / "data" / "out_of_scope.jsonl"
KORQUAD = ROOT.parent / "shared" / "benchmarks" / "KorQuAD_v1.0_dev.json"  # ../shared beside the project
MODEL_OUT = ROOT / "index" / "answer_model.json"
K = 5
# Ridge penalty of the sentence-choice model: a dozen features fitted on ~80 questions overfit at the
# default (eval.calibration.L2 = 1); 5 did as well or better in 10-fold cross-validation on the
# training split and on KorQuAD dev questions (a model fitted on the gold training split, applied to
# KorQuAD's own top passages).
CHOICE_L2 = 5.0
# A KorQuAD question counts this much of a gold question in the sentence model. Measured on the
# training split (10-fold) and KorQuAD's held-out questions: 0 (gold only) 0.783 / 0.825, 0.1
# 0.807 / 0.839, 0.3 0.783 / 0.839; Wikipedia is not news, so it stays a minority voice.
KORQUAD_SENTENCE_WEIGHT = 0.1
# The decision threshold is the lowest confidence at which, on the training split, far
# off-topic questions (ours and KorQuAD) are still declined at DECLINE_FAR and near-topic ones
# at DECLINE_NEAR: as many real questions answered as those decline rates allow.
DECLINE_FAR = 0.97
DECLINE_NEAR = 0.65


@dataclass
class Item:
    id: str
    question: str
    kind: str  # gold, near, far, korquad (out of scope), korquad-in (in scope of KorQuAD's own passages)
    answers: tuple[str, ...]
    split: str
    result: SearchResult | None = None
    candidates: dict[str, list[SentenceCandidate]] = field(default_factory=dict)


def korquad_order(dataset: EvalDataset) -> list[EvalQuery]:
    """KorQuAD's questions in a fixed order: by the hash of their ids."""
    return sorted(dataset.queries, key=lambda q: hashlib.sha256(q.id.encode()).hexdigest())


def korquad_sample(ordered: list[EvalQuery], n: int) -> list[Item]:
    """A fixed out-of-scope sample: the n questions whose id hashes lowest."""
    return [Item(f"korquad:{q.id}", q.question, "korquad", (), split_of(f"korquad:{q.id}")) for q in ordered[:n]]


def korquad_in_scope(ordered: list[EvalQuery], skip: int, n: int) -> list[Item]:
    """The next n questions after the out-of-scope sample, with their answers, for KorQuAD's passages."""
    return [
        Item(f"korquad:{q.id}", q.question, "korquad-in", q.answers, split_of(f"korquad:{q.id}"))
        for q in ordered[skip : skip + n]
    ]


def read_items(korquad: list[EvalQuery] | None, n_korquad: int) -> list[Item]:
    """Gold and our out-of-scope questions, and the first `n_korquad` of `korquad` (in korquad_order)."""
    items = []
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        items.append(Item(d["id"], d["question"], "gold", tuple(d["answers"]), split_of(d["id"])))
    for line in OUT_OF_SCOPE.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        items.append(Item(d["id"], d["question"], d["kind"], (), split_of(d["id"])))
    if korquad is not None:
        items += korquad_sample(korquad, n_korquad)
    return items


IN_SCOPE = ("gold", "korquad-in")


def right(item: Item, c: SentenceCandidate) -> bool:
    return item.kind in IN_SCOPE and contains_answer(c.text, item.answers)


def sentence_features(variant: str) -> tuple[str, ...]:
    return SENTENCE_FEATURES if variant == FULL else tuple(n for n in SENTENCE_FEATURES if n not in DENSE_SENTENCE_FEATURES)


def confidence_features(variant: str) -> tuple[str, ...]:
    return CONFIDENCE_FEATURES if variant == FULL else tuple(n for n in CONFIDENCE_FEATURES if n not in DENSE_FEATURES)


def matrix(cands: list[SentenceCandidate], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[c.features[n] for n in names] for c in cands], dtype=np.float64).reshape(len(cands), len(names))


def chosen(model: LogisticModel, cands: list[SentenceCandidate], names: tuple[str, ...]) -> tuple[int, float]:
    """The candidate the sentence model puts first (the first on ties) and its logit."""
    logits = model.logit(matrix(cands, names))
    best = int(np.argmax(logits))
    return best, float(logits[best])


def fit_variant(items: list[Item], answerer: Answerer, variant: str) -> dict:
    s_names, c_names = sentence_features(variant), confidence_features(variant)
    train_in = [i for i in items if i.kind in IN_SCOPE and i.split == "train" and i.candidates[variant]]
    groups = [matrix(item.candidates[variant], s_names) for item in train_in]
    correct = [np.array([right(item, c) for c in item.candidates[variant]]) for item in train_in]
    group_weights = [KORQUAD_SENTENCE_WEIGHT if item.kind == "korquad-in" else 1.0 for item in train_in]
    sentence_model = fit_choice(groups, correct, s_names, l2=CHOICE_L2, weights=group_weights)
    korquad_in = [i for i in items if i.kind == "korquad-in"]
    items = [i for i in items if i.kind != "korquad-in"]  # the rest is about the bundled articles

    rows = []
    for item in items:
        cands = item.candidates[variant]
        if not cands:
            rows.append(None)
            continue
        best, logit = chosen(sentence_model, cands, s_names)
        features = answerer.question_features(item.result, cands[best], logit)
        rows.append((features, right(item, cands[best])))

    def weight(item: Item, pool: list[Item]) -> float:
        counts = {k: sum(1 for i in pool if i.kind == k or (k == "own" and i.kind in ("near", "far"))) for k in ("gold", "korquad", "own")}
        has_korquad = counts["korquad"] > 0
        if item.kind == "gold":
            return 1.0 / counts["gold"]
        if item.kind == "korquad":
            return 0.5 / counts["korquad"]
        return (0.5 if has_korquad else 1.0) / counts["own"]

    train = [(i, r) for i, r in zip(items, rows) if r is not None and i.split == "train"]
    pool = [i for i, _ in train]
    x = np.array([[r[0][n] for n in c_names] for _, r in train])
    y = np.array([float(r[1]) for _, r in train])
    w = np.array([weight(i, pool) for i, _ in train])
    confidence_model = fit_logistic(x, y, w, c_names)

    outcomes = []
    for item, row in zip(items, rows):
        if row is None:
            outcomes.append({"id": item.id, "kind": item.kind, "split": item.split, "confidence": 0.0, "right": False})
            continue
        p = float(confidence_model.probability(np.array([row[0][n] for n in c_names]))[0])
        outcomes.append({"id": item.id, "kind": item.kind, "split": item.split, "confidence": p, "right": bool(row[1])})
    korquad_right: dict[str, list[bool]] = {"train": [], "held-out": []}
    for item in korquad_in:
        cands = item.candidates[variant]
        korquad_right[item.split].append(bool(cands) and right(item, cands[chosen(sentence_model, cands, s_names)[0]]))
    return {
        "sentence": sentence_model.to_json(),
        "confidence": confidence_model.to_json(),
        "_outcomes": outcomes,
        "_korquad_sentence_correct": {s: round(float(np.mean(v)), 4) for s, v in korquad_right.items() if v},
    }


def choose_threshold(outcomes: list[dict]) -> float:
    """The lowest threshold meeting DECLINE_FAR / DECLINE_NEAR on the training split."""
    train = [o for o in outcomes if o["split"] == "train"]

    def declined(kinds: tuple[str, ...], t: float) -> float:
        group = [o for o in train if o["kind"] in kinds]
        return sum(o["confidence"] < t for o in group) / len(group) if group else 1.0

    for t in np.arange(0.05, 0.951, 0.01):
        if declined(("far", "korquad"), t) >= DECLINE_FAR and declined(("near",), t) >= DECLINE_NEAR:
            return round(float(t), 2)
    return 0.95


def summarize(outcomes: list[dict], split: str, threshold: float) -> dict:
    rows = [o for o in outcomes if o["split"] == split]
    out: dict = {}
    gold = [o for o in rows if o["kind"] == "gold"]
    if gold:
        out["gold_questions"] = len(gold)
        out["answer_sentence_correct"] = round(sum(o["right"] for o in gold) / len(gold), 4)
        out["answered"] = round(sum(o["confidence"] >= threshold for o in gold) / len(gold), 4)
        out["answered_and_correct"] = round(sum(o["right"] and o["confidence"] >= threshold for o in gold) / len(gold), 4)
    for kind in ("far", "near", "korquad"):
        group = [o for o in rows if o["kind"] == kind]
        if group:
            out[f"declined_{kind}"] = round(sum(o["confidence"] < threshold for o in group) / len(group), 4)
            out[f"n_{kind}"] = len(group)
    bins = reliability([o["confidence"] for o in rows], [o["right"] for o in rows])
    out["ece"] = round(expected_calibration_error(bins), 4)
    out["reliability"] = [[round(b.low, 2), round(b.high, 2), b.count, round(b.mean_confidence, 3), round(b.accuracy, 3)] for b in bins]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "index")
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER, help="the embedder the full models are fitted for (the index must be built with it)")
    parser.add_argument("--korquad", type=Path, default=KORQUAD if KORQUAD.exists() else None)
    parser.add_argument("--korquad-questions", type=int, default=600, help="KorQuAD questions asked of the bundled articles (out of scope)")
    parser.add_argument("--korquad-in-scope", type=int, default=1000, help="further KorQuAD questions asked of KorQuAD's passages (sentence model)")
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "eval-cache", help="where KorQuAD's index is kept (as `aihub-qa eval`)")
    parser.add_argument("--out", type=Path, default=MODEL_OUT)
    parser.add_argument("--outcomes", type=Path, help="also write every question's confidence and correctness (jsonl)")
    args = parser.parse_args(argv)

    try:  # the index first: a missing one is said before the model loads
        searcher = Searcher(load_index(args.index, canonical_spec(args.embedder)), make_embedder(args.embedder))
    except AihubQaError as exc:
        sys.exit(f"error: {exc}")
    embedder = searcher.embedder
    answerer = Answerer(searcher)
    korquad = load_dataset(args.korquad, format="squad") if args.korquad is not None else None
    ordered = korquad_order(korquad) if korquad is not None else None
    items = read_items(ordered, args.korquad_questions)
    askers = {item.id: (searcher, answerer) for item in items}
    if korquad is not None and ordered is not None and args.korquad_in_scope:
        cached = ensure_dataset_index(korquad, args.cache, embedder, searcher.tokenizer, default_title_context(korquad))
        korquad_searcher = Searcher(cached.index, embedder)
        extra = korquad_in_scope(ordered, args.korquad_questions, args.korquad_in_scope)
        askers.update({item.id: (korquad_searcher, Answerer(korquad_searcher)) for item in extra})
        items += extra
    started = time.perf_counter()
    for n, item in enumerate(items, 1):
        asker, item_answerer = askers[item.id]
        item.result = asker.search(item.question, k=K, mode="hybrid")
        item.candidates[FULL] = item_answerer.candidates(item.result, dense=True)
        item.candidates[LEXICAL] = [
            SentenceCandidate(c.passage_index, c.start, c.end, c.text, {**c.features, **dict.fromkeys(DENSE_SENTENCE_FEATURES, 0.0)})
            for c in item.candidates[FULL]
        ]
        if n % 50 == 0 or n == len(items):
            print(f"searched {n}/{len(items)} questions ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    variants, summary, all_outcomes = {}, {}, {}
    korquad_correct = {}
    for variant in (FULL, LEXICAL):
        fitted = fit_variant(items, answerer, variant)
        all_outcomes[variant] = fitted.pop("_outcomes")
        korquad_correct[variant] = fitted.pop("_korquad_sentence_correct")
        variants[variant] = fitted
    threshold = choose_threshold(all_outcomes[FULL])
    if args.outcomes:
        with args.outcomes.open("w", encoding="utf-8") as f:
            for variant, outcomes in all_outcomes.items():
                for o in outcomes:
                    f.write(json.dumps({"variant": variant, **o}, ensure_ascii=False) + "\n")
    for variant, outcomes in all_outcomes.items():
        summary[variant] = {split: summarize(outcomes, split, threshold) for split in ("train", "held-out")}
        for split, value in korquad_correct[variant].items():
            summary[variant][split]["korquad_answer_sentence_correct"] = value
    counts = {f"{kind}/{split}": sum(1 for i in items if i.kind == kind and i.split == split)
              for kind in ("gold", "near", "far", "korquad", "korquad-in") for split in ("train", "held-out")}
    document = {
        "embedder": embedder.spec,
        "threshold": threshold,
        "variants": variants,
        "fitted": {
            "command": "python -m eval.fit_answer_model"
            + (f" --korquad-questions {args.korquad_questions} --korquad-in-scope {args.korquad_in_scope}" if args.korquad else " (no KorQuAD)"),
            "fusion": {"method": searcher.fusion.method, "bm25_weight": searcher.fusion.bm25_weight},
            "questions": counts,
            "k": K,
            "summary": summary,
        },
    }
    args.out.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
