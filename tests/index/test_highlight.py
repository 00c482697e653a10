"""best_sentence: the shortcuts (skipping sentences that cannot win, bigrams by substring) pick
the same sentence as scoring every sentence with full bigram sets."""

from __future__ import annotations

import random

from index.highlight import LEXICAL_DIGITS, best_sentence, sentence_spans


def _reference(text, query_tokens, tokenize, idf):  # type: ignore[no-untyped-def]
    def bigrams(s: str) -> set[str]:
        compact = "".join(s.lower().split())
        return {compact[i : i + 2] for i in range(len(compact) - 1)}

    spans = sentence_spans(text)
    if not spans:
        return (0, len(text))
    weights = {t: idf(t) for t in dict.fromkeys(query_tokens)}
    query_bigrams = bigrams("".join(query_tokens))
    keys = []
    for start, end in spans:
        words = set(tokenize(text[start:end]))
        lexical = round(sum(w for t, w in weights.items() if t in words), LEXICAL_DIGITS)
        keys.append((lexical, len(query_bigrams & bigrams(text[start:end])) / (1 + len(query_bigrams))))
    return spans[max(range(len(spans)), key=lambda i: (keys[i], -i))]


def test_best_sentence_equals_scoring_every_sentence() -> None:
    rng = random.Random(3)
    words = ["광주", "인공지능", "집적단지", "AI", "데이터", "센터", "기업", "예산", "사업", "Hub", "연구", "의"]
    idf = {w: rng.uniform(0.1, 5.0) for w in words}.get
    for _ in range(400):
        sentences = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 8))) + rng.choice(".?!") for _ in range(rng.randint(0, 6))]
        text = " ".join(sentences)
        query = [rng.choice(words + ["없는", "단어"]) for _ in range(rng.randint(1, 4))]
        lookup = lambda t: idf(t, 0.0)  # noqa: E731
        assert best_sentence(text, query, str.split, lookup) == _reference(text, query, str.split, lookup), (text, query)


def test_equal_idf_sums_tie_whatever_the_order_of_addition_and_the_bigrams_decide() -> None:
    """0.1 + 0.2 != 0.3 in floats: two sentences whose words weigh the same must still tie (so the
    choice cannot depend on the order a process happens to add them in), and the sentence with more
    of the question's bigrams wins."""
    idf = {"가나": 0.1, "다라": 0.2, "마바": 0.3}
    text = "가나 다라 이다. 마바 사아 자차 이다."
    question = ["가나", "다라", "마바", "사아", "자차"]
    assert best_sentence(text, question, str.split, lambda t: idf.get(t, 0.0)) == (10, 22)
    assert best_sentence(text, question[::-1], str.split, lambda t: idf.get(t, 0.0)) == (10, 22)
