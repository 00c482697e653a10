"""Pick the sentence of a passage that best answers a question (for highlighting)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.tokenizers import BIGRAM_PREFIX

LEXICAL_DIGITS = 9  # idf-weight sums compared to this many decimals (ties go to the bigram share)
# A sentence ends at . ? ! … (and closing quotes/brackets after them) followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.?!…])[\"'”’)\]]*\s+|\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, whitespace trimmed, in order."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start() + len(match.group(0).rstrip())  # keep closing quotes with the sentence
        _append(text, pos, end, spans)
        pos = match.end()
    _append(text, pos, len(text), spans)
    return spans


def _append(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


@dataclass(frozen=True)
class PassageSentence:
    """A sentence of a passage, tokenized once: what highlighting and the answer step read."""

    start: int  # offsets into the passage's text
    end: int
    words: frozenset[str]  # its tokens, but for the tokenizer's character bigrams
    bigrams: frozenset[str]  # its character-bigram tokens (mecab+bigram), BIGRAM_PREFIX included


def split_passage(text: str, tokenize: Callable[[str], Sequence[str]]) -> tuple[PassageSentence, ...]:
    """The sentences of `text` (sentence_spans), each tokenized."""
    out = []
    for start, end in sentence_spans(text):
        tokens = frozenset(tokenize(text[start:end]))
        bigrams = frozenset(t for t in tokens if t.startswith(BIGRAM_PREFIX))
        out.append(PassageSentence(start, end, tokens - bigrams, bigrams))
    return tuple(out)


def best_sentence(
    text: str,
    query_tokens: list[str],
    tokenize: Callable[[str], Sequence[str]],
    idf: Callable[[str], float],
    sentences: Sequence[PassageSentence] | None = None,
) -> tuple[int, int]:
    """The span of the sentence sharing the most idf-weighted query words; the first on ties.

    Falls back to shared character bigrams when no query word matches, and to the first
    sentence when nothing overlaps at all. `sentences`: ``split_passage(text, tokenize)`` when
    the caller keeps it (a cache); computed here otherwise.
    """
    if sentences is None:
        sentences = split_passage(text, tokenize)
    if not sentences:
        return (0, len(text))
    weights = {t: idf(t) for t in dict.fromkeys(query_tokens)}  # question order: the same sums in every process
    query_bigrams = _bigrams("".join(query_tokens))
    best, best_key = (sentences[0].start, sentences[0].end), (-1.0, -1.0)
    for s in sentences:
        start, end = s.start, s.end
        sentence = text[start:end]
        # Rounded: words of equal idf make equal sums that float addition order would split by an ulp.
        lexical = round(sum(w for t, w in weights.items() if t in s.words or t in s.bigrams), LEXICAL_DIGITS)
        if lexical < best_key[0]:
            continue  # the bigram share only breaks ties between equal word scores
        compact = _compact(sentence)
        # A bigram of the question is a bigram of the sentence iff it occurs in it.
        fuzzy = sum(1 for b in query_bigrams if b in compact) / (1 + len(query_bigrams))
        key = (lexical, fuzzy)
        if key > best_key:
            best, best_key = (start, end), key
    return best


def _compact(text: str) -> str:
    return "".join(text.lower().split())


def _bigrams(text: str) -> set[str]:
    compact = _compact(text)
    return {compact[i : i + 2] for i in range(len(compact) - 1)}
