"""Korean BM25 tokenization: content morphemes, not whitespace words."""

from __future__ import annotations

import pytest

from index.errors import InvalidSetting
from index.tokenizers import make_tokenizer


def test_mecab_strips_particles_and_endings() -> None:
    tok = make_tokenizer("mecab")
    assert tok.tokenize("서울은") == tok.tokenize("서울") == tok.tokenize("서울에서는") == ["서울"]
    assert tok.tokenize("광주시는 4116억원을 투입해") == ["광주시", "광주", "시", "4116", "억", "원", "투입"]
    assert tok.tokenize("데이터센터를 세웠다") == ["데이터", "센터", "세우"]


def test_mecab_drops_question_words() -> None:
    tok = make_tokenizer("mecab")
    assert tok.tokenize("무엇인가? 어디인가? 누구인가? 얼마인가? 몇 명인가?") == ["명"]


def test_mecab_lowercases_foreign_words_and_normalises_width() -> None:
    assert make_tokenizer("mecab").tokenize("ＡＩ와 GPU") == ["ai", "gpu"]


def test_bigram_and_combined() -> None:
    assert make_tokenizer("bigram").tokenize("광주시는 AI") == ["광주", "주시", "시는", "ai"]
    combined = make_tokenizer("mecab+bigram").tokenize("광주시는")
    assert combined == ["광주시", "광주", "시", "#광주", "#주시", "#시는"]


def test_whitespace_baseline_keeps_particles() -> None:
    assert make_tokenizer("whitespace").tokenize("서울은 맑다") == ["서울은", "맑다"]


def test_unknown_tokenizer() -> None:
    with pytest.raises(InvalidSetting, match="unknown tokenizer 'kiwi'; use mecab, bigram, whitespace, mecab\\+bigram"):
        make_tokenizer("kiwi")


def test_tokenize_many_on_several_processes_equals_one_by_one(monkeypatch) -> None:
    import index.tokenizers as tokenizers

    texts = [f"광주시는 {i}번째 인공지능 데이터센터를 짓는다. AI 사관학교 {i}기 수료생" for i in range(40)]
    tokenizer = tokenizers.make_tokenizer("mecab+bigram")
    expected = [tokenizer.tokenize(t) for t in texts]
    monkeypatch.setattr(tokenizers, "PARALLEL_FROM", 10)
    monkeypatch.setattr(tokenizers, "_BATCH", 7)
    seen: list[tuple[int, int]] = []
    assert list(tokenizers.tokenize_many(tokenizer, texts, lambda d, t: seen.append((d, t)))) == expected
    assert seen[-1] == (40, 40) and len(seen) > 2  # progress per batch from the worker pool
