"""Pick the sentence that answers a question, across the retrieved passages.

Every sentence of the top passages is a candidate. Each gets features that mean the same
thing for any question:

- ``words``: idf-weighted share of the question's content words (MeCab morphemes) it contains;
- ``bigrams``: share of the question's character bigrams it contains (catches compounds);
- ``context``: the best ``words`` of the sentences just before and after it in its passage (a
  news sentence often answers the question its predecessor raises: "…처음 내세운 해는? 2018년이다");
- ``dense``: cosine between the question's embedding and the sentence's, embedded with its
  article's title on the line before it (a sentence alone often lacks its subject: "지난해 3월
  개원한 상태다" says what opened only with the title);
- ``type_match`` / ``type_miss``: the question asks for a number (몇, 얼마), a date (언제),
  a person (누구) or a place/organisation (어디, 어느 곳) and the sentence has / lacks one that
  the question does not already state ("3년 동안 …몇 곳" is not answered by "3년만에");
- ``unit``: the question counts something in a unit (몇 곳, 몇 명, 몇 대…; 얼마 for money) and
  the sentence holds a number in that unit or a kindred one (곳 ~ 개 ~ 개사; 원 ~ 억원 ~ 조원):
  +1, or holds none: −1; 0 when the question names no unit (a date, "2017년", does not answer
  "몇 곳");
- ``quote``: the question asks what something is called or which thing it is (무엇, 어떤, 이름,
  명칭…) and the sentence quotes a name the question does not already hold (Korean news sets the
  names of projects, slogans and facilities in quotes: "'AI 이노스페이스' 공간");
- ``focus``: idf-weighted share of the question's focus words in the sentence: the last two
  content words before the question word ("…R&D 사업의 이름은?" → 사업; "…석·박사를 몇 명" →
  석·박사), which an answer states next to its fact while other sentences share only the topic;
- ``rank``: 1 / rank of the passage it comes from;
- ``novel``: share of the sentence's words that are not in the question (an answer adds
  something; a sentence that only repeats the question does not answer it);
- ``length``: log of its length (very short fragments rarely hold a fact);
- ``caption``: it is a photo caption (ingest marks them ``[사진]``);
- ``statement``: it ends like a full Korean sentence (…다. / …요.), unlike headlines and list items.

Embedding sentences is the costly part (with e5-small, search + answer takes 1.25× the search
alone when the sentences are cached and about 8× when all ten must be embedded: ``python -m
eval.bench_answer``), so only
the ``SHORTLIST`` best candidates by the lexical features are embedded, and vectors are cached
per embedder. The weights that combine the features are fitted on the gold set's training split
(``eval/fit_answer_model.py``) and shipped in ``index/answer_model.json``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from index.highlight import PassageSentence, split_passage
from index.lru import BatchLRU
from index.tokenizers import BIGRAM_PREFIX

CANDIDATE_PASSAGES = 5  # sentences are taken from this many top passages
SHORTLIST = 10  # candidates embedded and scored in full, chosen by the lexical features
SENTENCE_FEATURES: tuple[str, ...] = (
    "words", "bigrams", "context", "dense", "type_match", "type_miss", "unit", "quote", "focus", "rank",
    "novel", "length", "caption", "statement",
)
DENSE_SENTENCE_FEATURES: tuple[str, ...] = ("dense",)  # need the question's and sentences' vectors
_STATEMENT_END = re.compile(r"[다요죠까][.!?…]*[\"'”’)\]]*$")  # a full sentence, not a headline or list item
CAPTION_PREFIX = "[사진]"  # ingest keeps photo captions as paragraphs starting with this

# What a question asks for, and what a sentence that answers it contains.
_QUESTION_TYPES: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    ("date", re.compile(r"언제|몇\s*년|어느\s*해|몇\s*월|시점|해는"),
     re.compile(r"\d{2,4}\s*년|\d{1,2}\s*월|\d{1,2}\s*일|지난해|올해|내년|작년|연말|연초|상반기|하반기|분기")),
    ("number", re.compile(r"몇|며칠|얼마|규모|금액|비용|예산|면적|용량|인원|수는|성능|무게|길이|높이|기록은"),
     re.compile(r"\d[\d,.]*\s*(?:[~·-]\s*\d+\s*)?(?:개|명|곳|원|억|조|경|만|천|%|배|건|번|대|위|년|월|일|PF|PB|MW|㎡|km|페타|기업|사"
                r"|가지|톤|t(?![A-Za-z])|kg|g(?![A-Za-z])|m(?![A-Za-z])|cm|mm|미터|킬로|시간|분|초|세|살|회|차|장|권|편|곡|마리|층|점|채|주|달|표|석|척|종)")),
    ("person", re.compile(r"누구|누가|인물|사람은"),
     re.compile(r"시장|의원|대표|총장|교수|박사|장관|대통령|과장|학장|변호사|위원장|원장|부위원장|씨\b|씨는|씨가")),
    ("place", re.compile(r"어디|어느\s*(?:곳|지역|회사|기관|기업|대학|나라)"),
     re.compile(r"[가-힣A-Za-z]+(?:시|도|군|구|동|지구|센터|대학교?|대학원|연구소|연구원|과학관|교육청|회사|기업|사|밸리|단지)\b|㈜|\(주\)")),
)


# Units a question can count in (몇 곳 / 몇 명 …) and the units of a sentence's number that answer
# it; each group holds units that answer one another (a question about 곳 is answered in 개사).
_UNIT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("곳", "개소", "개사", "개", "사"),
    ("명", "인"),
    ("원", "억원", "조원", "만원", "달러"),
    ("%", "퍼센트", "배"),
    ("대",), ("위",), ("층",), ("건",), ("번", "회", "차"), ("편",), ("권",), ("점",), ("채",),
    ("가지", "종"), ("톤", "t"), ("장",), ("곡",), ("마리",), ("표",), ("석",), ("척",), ("살", "세"),
)
_ASKED_UNIT = re.compile(r"몇\s*(개소|개사|곳|명|개|대|위|층|건|번|회|차|배|퍼센트|%|편|권|점|채|가지|톤|장|곡|마리|표|석|척|종|살|세)")
_ASKS_MONEY = re.compile(r"얼마|금액|비용|예산|사업비")
_NUMBER_IN = r"\d[\d,.]*\s*(?:여|만|천|백|십|억|조)*\s*"

# A question asking for a name or a thing ("…사업의 이름은?", "…어떤 도시로?", "…무엇인가?"), and
# the quoted spans of a sentence (straight, curly, corner and angle quotes).
_ASKS_NAME = re.compile(r"무엇|무슨|어떤|어느|이름|명칭|문구|구호|슬로건|제목|뭐|뭔|라고\s*(?:부르|불리|하)")
_QUOTED = re.compile(r"'([^'\n]{2,80})'|\"([^\"\n]{2,80})\"|‘([^’\n]{2,80})’|“([^”\n]{2,80})”|「([^」\n]{2,80})」|『([^』\n]{2,80})』|《([^》\n]{2,80})》|〈([^〉\n]{2,80})〉|<([^<>\n]{2,80})>")


# Where the question's gap is: the first question word (or the question mark).
_QUESTION_WORD = re.compile(r"몇|얼마|언제|누구|누가|어디|어느|무엇|무슨|어떤|뭐|뭔|이름|명칭|\?")
FOCUS_WORDS = 2


def focus_words(question: str, words: Sequence[str], tokenize: Tokenize) -> list[str]:
    """The last FOCUS_WORDS of the question's content `words` said before its question word."""
    gap = _QUESTION_WORD.search(question)
    asked = set(words)
    before = [t for t in dict.fromkeys(tokenize(question[: gap.start()] if gap else question)) if t in asked]
    return before[-FOCUS_WORDS:]


def asks_name(question: str) -> bool:
    return bool(_ASKS_NAME.search(question))


def quotes_new_name(sentence: str, question: str) -> bool:
    """The sentence quotes something the question does not already quote or contain."""
    asked = "".join(question.split())
    return any(
        "".join(next(g for g in m.groups() if g is not None).split()) not in asked for m in _QUOTED.finditer(sentence)
    )


def asked_units(question: str) -> tuple[str, ...]:
    """The units an answer to `question` is counted in (empty when it names none)."""
    found = _ASKED_UNIT.search(question)
    if found:
        unit = found.group(1)
        return next((g for g in _UNIT_GROUPS if unit in g), (unit,))
    if _ASKS_MONEY.search(question):
        return next(g for g in _UNIT_GROUPS if "원" in g)
    return ()


@lru_cache(maxsize=64)
def _number_in(units: tuple[str, ...]) -> re.Pattern[str]:
    """A number counted in one of `units` (the longest unit first: 억원 before 원)."""
    return re.compile(_NUMBER_IN + "(?:" + "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True)) + ")")


def unit_match(sentence: str, units: Sequence[str], question: str) -> float:
    """+1: a number in one of `units` the question does not state; −1: none; 0: no units asked."""
    if not units:
        return 0.0
    asked = "".join(question.split())
    pattern = _number_in(tuple(units))
    return 1.0 if any("".join(m.group(0).split()) not in asked for m in pattern.finditer(sentence)) else -1.0


def question_type(question: str) -> str | None:
    """The kind of answer a question asks for: date, number, person, place, or None."""
    for name, asks, _ in _QUESTION_TYPES:
        if asks.search(question):
            return name
    return None


_ANSWER_PATTERN = {name: found for name, _, found in _QUESTION_TYPES}


def has_type(sentence: str, kind: str, question: str = "") -> bool:
    """The sentence holds an answer of this kind that the question does not already state."""
    asked = "".join(question.split())
    return any("".join(m.group(0).split()) not in asked for m in _ANSWER_PATTERN[kind].finditer(sentence))


@dataclass(frozen=True)
class SentenceCandidate:
    passage_index: int  # 0-based position in result.hits
    start: int  # offsets into the passage's text
    end: int
    text: str
    features: dict[str, float]


Tokenize = Callable[[str], Sequence[str]]
Idf = Callable[[str], float]


def split_query(tokens: Sequence[str]) -> tuple[list[str], set[str]]:
    """(content words, character bigrams) of a mecab+bigram token list; other tokenizers give words only."""
    words = [t for t in dict.fromkeys(tokens) if not t.startswith(BIGRAM_PREFIX)]
    bigrams = {t for t in tokens if t.startswith(BIGRAM_PREFIX)}
    return words, bigrams


def word_coverage(words: Sequence[str], present: Set[str], idf: Idf, total: float | None = None) -> float:
    """idf-weighted share of `words` found in `present` (0 when the question has no words);
    `total`: the idf sum of `words`, when the caller has it."""
    if total is None:
        total = sum(idf(w) for w in words)
    return sum(idf(w) for w in words if w in present) / total if total > 0 else 0.0


class SentenceFeaturizer:
    """The lexical features of one question's candidate sentences.

    What the features need from the question is computed once; ``passage(text)`` gives the
    candidates of one passage (all features but ``dense`` and ``rank``), kept by text, so a passage
    featurized early (while the question is still being embedded) is not featurized again.
    One per question and thread: it is not locked.

    `sentences(text)`: ``split_passage(text, tokenize)``, from the caller's cache when it keeps one.
    """

    def __init__(
        self,
        question: str,
        query_tokens: Sequence[str],
        tokenize: Tokenize,
        idf: Idf,
        sentences: Callable[[str], Sequence[PassageSentence]] | None = None,
    ) -> None:
        self.question = question
        self.query_tokens = tuple(query_tokens)
        self._split = sentences or (lambda text: split_passage(text, tokenize))
        self.words, self.bigrams = split_query(query_tokens)
        self.kind = question_type(question)
        self.units = asked_units(question)
        self.asks_name = asks_name(question)
        self.focus = focus_words(question, self.words, tokenize)
        self.weight = {w: idf(w) for w in self.words}  # each question word's idf, looked up once
        self._done: dict[str, tuple[SentenceCandidate, ...]] = {}

    def passage(self, text: str) -> tuple[SentenceCandidate, ...]:
        """The candidates of one passage, in text order (``passage_index`` 0, ``rank`` 0)."""
        found = self._done.get(text)
        if found is None:
            found = self._done[text] = tuple(self._featurize(text))
        return found

    def candidates(self, passages: Sequence[str]) -> list[SentenceCandidate]:
        """Every sentence of `passages` (best first) with all features except ``dense`` (0)."""
        return [
            SentenceCandidate(i, c.start, c.end, c.text, {**c.features, "rank": 1.0 / (i + 1)})
            for i, text in enumerate(passages)
            for c in self.passage(text)
        ]

    def _featurize(self, text: str) -> list[SentenceCandidate]:
        question, words, bigrams, kind = self.question, self.words, self.bigrams, self.kind
        qset, weight = set(words), self.weight
        words_total, focus_total = sum(weight.values()), sum(weight[w] for w in self.focus)
        found = self._split(text)
        rows = [(s.words, s.bigrams, word_coverage(words, s.words, weight.__getitem__, words_total)) for s in found]
        out = []
        for j, (s, (s_words, s_bigrams, covered)) in enumerate(zip(found, rows)):
            start, end = s.start, s.end
            sentence = text[start:end]
            typed = has_type(sentence, kind, question) if kind else False
            neighbours = [rows[n][2] for n in (j - 1, j + 1) if 0 <= n < len(rows)]
            features = {
                "words": covered,
                "bigrams": len(bigrams & s_bigrams) / len(bigrams) if bigrams else 0.0,
                "context": max(neighbours, default=0.0),
                "dense": 0.0,
                "type_match": float(kind is not None and typed),
                "type_miss": float(kind is not None and not typed),
                "unit": unit_match(sentence, self.units, question),
                "quote": float(self.asks_name and quotes_new_name(sentence, question)),
                "focus": word_coverage(self.focus, s_words, weight.__getitem__, focus_total),
                "rank": 0.0,  # set by candidates(): 1 / rank of the passage
                "novel": len(s_words - qset) / len(s_words) if s_words else 0.0,
                "length": math.log1p(len(sentence)),
                "caption": float(sentence.startswith(CAPTION_PREFIX)),
                "statement": float(bool(_STATEMENT_END.search(sentence))),
            }
            out.append(SentenceCandidate(0, start, end, sentence, features))
        return out


def lexical_candidates(
    question: str,
    query_tokens: Sequence[str],
    passages: Sequence[str],
    tokenize: Tokenize,
    idf: Idf,
    sentences: Callable[[str], Sequence[PassageSentence]] | None = None,
) -> list[SentenceCandidate]:
    """Every sentence of `passages` (best first) with all features except ``dense`` (set to 0)."""
    return SentenceFeaturizer(question, query_tokens, tokenize, idf, sentences).candidates(passages)


def lexical_score(c: SentenceCandidate) -> float:
    """Orders candidates for the shortlist (a fixed prior; the fitted model decides among them)."""
    f = c.features
    return f["words"] + 0.5 * f["bigrams"] + 0.5 * f["context"] + 0.2 * f["type_match"] + 0.1 * f["rank"]


def shortlist(candidates: Sequence[SentenceCandidate], size: int = SHORTLIST) -> list[SentenceCandidate]:
    """The `size` best candidates by lexical_score; ties keep passage order."""
    order = sorted(range(len(candidates)), key=lambda i: (-lexical_score(candidates[i]), i))
    return [candidates[i] for i in order[:size]]


def dense_input(title: str, sentence: str) -> str:
    """The text embedded for a sentence: its article's title, a line break, the sentence."""
    return f"{title}\n{sentence}" if title else sentence


def with_dense(candidates: Sequence[SentenceCandidate], similarities: Sequence[float]) -> list[SentenceCandidate]:
    return [
        SentenceCandidate(c.passage_index, c.start, c.end, c.text, {**c.features, "dense": float(s)})
        for c, s in zip(candidates, similarities)
    ]


SENTENCE_VECTORS = 4096  # sentence embeddings kept per searcher


class SentenceVectors:
    """An LRU cache of sentence embeddings for one embedder (sentences recur across questions)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], size: int = SENTENCE_VECTORS) -> None:
        self.size = size
        self._cache: BatchLRU[str, np.ndarray] = BatchLRU(size, lambda missing: dict(zip(missing, embed(missing))))

    def __len__(self) -> int:
        return len(self._cache)

    def clear(self) -> None:
        self._cache.clear()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts` (row i for texts[i]), embedding only those not cached."""
        found = self._cache.get_many(texts)
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)
