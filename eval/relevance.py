"""What counts as a relevant retrieved passage, per dataset format.

Two kinds of judged unit:

- ``passage`` (format ``jsonl``, the project's own chunked index): the unit is an index chunk.
  A chunk is relevant to a question when it contains one of the question's answers
  (``metrics.normalize_for_match``: NFKC, casefold, no whitespace). A question without answers
  is judged by its ``doc_ids``: every chunk of a listed document is relevant. (When a question
  has both, the answers decide: counting every chunk of the article as relevant would make
  hit@k an article-retrieval score and cap recall@k at k / chunks-per-article. The
  article-level view is reported separately as ``doc_hit@k``.)
  recall@k is then the share of the question's relevant chunks found in the top k.
- ``document`` (``squad``, ``autorag``, ``beir``: one passage per corpus entry): the unit is the
  corpus id, relevant when the dataset lists it (SQuAD/KorQuAD: the question's own paragraph;
  AutoRAG: the retrieval_gt ids; BEIR: qrels with score > 0). A question with no listed ids
  (AutoRAG with only generation_gt) falls back to answer containment.
  recall@k is the share of the listed ids found in the top k.

Besides the main relevance, two first-match ranks are kept per question: the first passage
containing an answer (``answer_hit@k`` for external datasets) and the first passage from a
listed document (``doc_hit@k`` for jsonl).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eval.datasets import EvalDataset, EvalQuery
from eval.metrics import normalize_for_match
from ingest.documents import Chunk

PASSAGE = "passage"
DOCUMENT = "document"


@dataclass(frozen=True)
class Judgement:
    """The relevant unit ids of one question (all grade 1) and what else it is matched on."""

    units: frozenset[str]
    answers: tuple[str, ...]  # normalised, non-blank
    doc_ids: frozenset[str]


class Judge:
    """Decides relevance for one dataset against one index; normalises chunk texts once."""

    def __init__(self, dataset: EvalDataset, chunks: Sequence[Chunk]) -> None:
        self.unit_kind = PASSAGE if dataset.passages is None else DOCUMENT
        self._chunks = list(chunks)
        self._normalized: dict[str, str] = {}
        self.judgements: dict[str, Judgement] = {q.id: self._judge(q) for q in dataset.queries}

    def unit(self, chunk: Chunk) -> str:
        """The id a retrieved chunk is judged (and ranked) by."""
        return chunk.id if self.unit_kind == PASSAGE else chunk.doc_id

    def qrels(self) -> dict[str, dict[str, int]]:
        """{query id: {relevant unit id: 1}} in dataset order, for eval.metrics.compute_metrics."""
        return {qid: dict.fromkeys(sorted(j.units), 1) for qid, j in self.judgements.items()}

    def contains_answer(self, chunk: Chunk, judgement: Judgement) -> bool:
        hay = self._norm(chunk)
        return any(a in hay for a in judgement.answers)

    def _norm(self, chunk: Chunk) -> str:
        key = f"{chunk.id}/{chunk.content_hash}"  # a merged passage keeps its best chunk's id
        text = self._normalized.get(key)
        if text is None:
            text = self._normalized[key] = normalize_for_match(chunk.text)
        return text

    def _judge(self, query: EvalQuery) -> Judgement:
        answers = tuple(a for a in dict.fromkeys(map(normalize_for_match, query.answers)) if a)
        listed = frozenset(query.relevant_ids)
        j = Judgement(frozenset(), answers, listed if self.unit_kind == PASSAGE else frozenset())
        if self.unit_kind == DOCUMENT and listed:
            units = listed
        elif answers:
            units = frozenset(self.unit(c) for c in self._chunks if self.contains_answer(c, j))
        else:
            units = frozenset(c.id for c in self._chunks if c.doc_id in listed)
        return Judgement(units, answers, j.doc_ids)
