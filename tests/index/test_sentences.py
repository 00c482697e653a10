"""Answer-sentence candidates and their features, on small built text."""

from __future__ import annotations

import numpy as np
import pytest

from index.confidence import LogisticModel
from index.sentences import (
    SENTENCE_FEATURES,
    SentenceVectors,
    asked_units,
    asks_name,
    dense_input,
    focus_words,
    has_type,
    lexical_candidates,
    question_type,
    quotes_new_name,
    shortlist,
    split_query,
    unit_match,
    word_coverage,
)

PASSAGES = [
    "광주시는 데이터센터를 짓는다. 연산 능력은 88.5페타플롭스 규모다.\n[사진] 데이터센터 조감도",
    "사관학교는 지난해 155명을 배출했다. 광주 데이터센터 소식",
]
IDF = {"데이터센터": 2.0, "연산": 3.0, "능력": 1.0, "광주": 0.5}


def tokenize(text: str) -> list[str]:
    """A toy tokenizer: known words present in the text (in text order), then '#' bigrams of the words."""
    words = sorted((w for w in IDF if w in text), key=text.index)
    return words + ["#" + w[i : i + 2] for w in text.split() for i in range(len(w) - 1)]


def idf(token: str) -> float:
    return IDF.get(token, 1.0)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("데이터센터 연산 능력은 얼마인가?", "number"),
        ("수료생은 몇 명인가?", "number"),
        ("대학원은 언제 문을 열었나?", "date"),
        ("총장은 누구인가?", "person"),
        ("운용사로 뽑힌 회사는 어디인가?", "place"),
        ("사업의 목표는 무엇인가?", None),
        ("첫 단독 콘서트는 며칠간 진행됐나?", "number"),
        ("옮긴 탑의 무게는?", "number"),
    ],
)
def test_question_type(question: str, kind: str | None) -> None:
    assert question_type(question) == kind


def test_answer_types_are_found_in_sentences() -> None:
    assert has_type("연산 능력은 88.5페타플롭스 규모다.", "number")
    assert not has_type("첨단 3지구에 들어설 단지 조감도", "number")  # a bare digit in a name is no amount
    assert has_type("2018년이 시작이다.", "date")
    assert has_type("김기선 총장은 말했다.", "person")
    # an amount the question itself states is no answer to it
    assert not has_type("선포 3년만에 자리잡았다.", "number", "3년 동안 끌어들인 업체는 몇 곳인가?")
    assert has_type("3년만에 130개가 넘는 기업을 유치했다.", "number", "3년 동안 끌어들인 업체는 몇 곳인가?")


def test_units_a_question_counts_in_are_matched_by_kindred_units() -> None:
    question = "3년 동안 끌어들인 업체는 몇 곳인가?"
    units = asked_units(question)
    assert "곳" in units and "개" in units
    assert unit_match("130개가 넘는 기업을 유치했다.", units, question) == 1.0
    assert unit_match("2017년 당시 광주는 AI를 택했다.", units, question) == -1.0  # a year is no count of places
    assert unit_match("3곳이 먼저 들어섰다.", units, "3곳 말고 몇 곳이 더 들어서나?") == -1.0  # the question's own number
    money = "데이터센터 건립 비용은 얼마인가?"
    assert unit_match("총 사업비 900억여원을 투입한다.", asked_units(money), money) == 1.0
    assert unit_match("168명이 수료했다.", asked_units(money), money) == -1.0
    things = "천황은 몇 가지 질문에 답했나?"
    assert unit_match("측근들이 제기했던 7가지 질문에 대답했다.", asked_units(things), things) == 1.0
    assert unit_match("1946년 1월에 전문을 보냈다.", asked_units(things), things) == -1.0
    assert has_type("무게가 320톤이나 되는 돌덩이", "number") and has_type("2.35m를 넘었다.", "number")
    assert asked_units("사업의 목표는 무엇인가?") == ()
    assert unit_match("130개 기업", (), "사업의 목표는 무엇인가?") == 0.0


def test_a_quoted_name_answers_a_question_asking_for_one() -> None:
    assert asks_name("광주시가 신청한 R&D 사업의 이름은?") and asks_name("광주를 어떤 도시로 만들겠다는 것인가?")
    assert not asks_name("GIST AI 대학원은 언제 문을 열었나?")
    assert quotes_new_name("광주시는 '인공지능중심 산업융합집적단지 조성사업'이라는 사업을 신청했다.", "신청한 사업의 이름은?")
    assert quotes_new_name("“AI 이노스페이스” 공간을 조성한다.", "시설의 이름은?")  # curly quotes too
    # a quote the question already holds adds nothing
    assert not quotes_new_name("'인공지능 중심도시 광주'의 시작이다.", "'인공지능 중심도시 광주'의 영문 명칭은 무엇인가?")
    assert not quotes_new_name("광주시는 사업을 신청했다.", "신청한 사업의 이름은?")
    question = "신청한 사업의 이름은?"
    passages = ["광주시는 '데이터센터 조성사업'을 신청했다. 광주시는 데이터센터 사업을 신청했다."]
    by_text = {c.text: c for c in lexical_candidates(question, tokenize(question), passages, tokenize, idf)}
    assert by_text["광주시는 '데이터센터 조성사업'을 신청했다."].features["quote"] == 1.0
    assert by_text["광주시는 데이터센터 사업을 신청했다."].features["quote"] == 0.0
    when = "데이터센터는 언제 '착공'했나?"  # not a question about a name
    assert all(c.features["quote"] == 0.0 for c in lexical_candidates(when, tokenize(when), passages, tokenize, idf))


def test_focus_words_are_the_last_content_words_before_the_question_word() -> None:
    question = "광주 데이터센터 연산 능력은 얼마인가?"
    words, _ = split_query(tokenize(question))
    assert focus_words(question, words, tokenize) == ["연산", "능력"]
    # no question word: the last words of the question
    assert focus_words("광주 데이터센터 연산", ["광주", "데이터센터", "연산"], tokenize) == ["데이터센터", "연산"]
    cands = lexical_candidates(question, tokenize(question), PASSAGES, tokenize, idf)
    by_text = {c.text: c for c in cands}
    assert by_text["연산 능력은 88.5페타플롭스 규모다."].features["focus"] == 1.0
    assert by_text["광주시는 데이터센터를 짓는다."].features["focus"] == 0.0  # the topic, not the asked fact


def test_sentences_are_embedded_with_their_title() -> None:
    assert dense_input("광주 AI 대학원 개원", "지난해 3월 개원한 상태다.") == "광주 AI 대학원 개원\n지난해 3월 개원한 상태다."
    assert dense_input("", "지난해 3월 개원한 상태다.") == "지난해 3월 개원한 상태다."


def test_word_coverage_is_idf_weighted() -> None:
    words = ["데이터센터", "연산", "능력"]
    assert word_coverage(words, {"연산"}, idf) == pytest.approx(3.0 / 6.0)
    assert word_coverage(words, set(), idf) == 0.0
    assert word_coverage([], {"연산"}, idf) == 0.0


def test_candidates_have_exact_spans_and_meaningful_features() -> None:
    question = "데이터센터 연산 능력은 얼마인가?"
    cands = lexical_candidates(question, tokenize(question), PASSAGES, tokenize, idf)
    for c in cands:
        assert PASSAGES[c.passage_index][c.start : c.end] == c.text
        assert set(c.features) == set(SENTENCE_FEATURES)
    by_text = {c.text: c for c in cands}
    answer = by_text["연산 능력은 88.5페타플롭스 규모다."]
    assert answer.features["words"] == pytest.approx((3.0 + 1.0) / 6.0)
    assert answer.features["type_match"] == 1.0 and answer.features["type_miss"] == 0.0
    assert answer.features["context"] == pytest.approx(2.0 / 6.0)  # its neighbour names the data centre
    assert answer.features["rank"] == 1.0 and answer.features["statement"] == 1.0
    caption = by_text["[사진] 데이터센터 조감도"]
    assert caption.features["caption"] == 1.0 and caption.features["statement"] == 0.0
    assert by_text["광주 데이터센터 소식"].features["rank"] == 0.5


def test_shortlist_keeps_the_lexically_best() -> None:
    question = "데이터센터 연산 능력은 얼마인가?"
    cands = lexical_candidates(question, tokenize(question), PASSAGES, tokenize, idf)
    assert shortlist(cands, 1)[0].text == "연산 능력은 88.5페타플롭스 규모다."
    assert len(shortlist(cands, 3)) == 3


def test_split_query_separates_words_and_bigrams() -> None:
    assert split_query(["광주", "#광주", "광주", "연산"]) == (["광주", "연산"], {"#광주"})


def test_sentence_vectors_embed_each_text_once() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[float(len(t)), 1.0] for t in texts])

    vectors = SentenceVectors(embed, size=2)
    first = vectors(["a", "bb", "a"])
    assert first.tolist() == [[1.0, 1.0], [2.0, 1.0], [1.0, 1.0]]
    vectors(["bb"])
    assert calls == [["a", "bb"]]
    vectors(["ccc"])  # evicts the least recently used ("a")
    vectors(["a"])
    assert calls[-1] == ["a"]


def test_logistic_model_round_trips_through_json() -> None:
    model = LogisticModel(("a", "b"), (1.0, -2.0), 0.5, (0.0, 1.0), (1.0, 2.0))
    again = LogisticModel.from_json(model.to_json())
    x = np.array([[1.0, 3.0]])
    assert again.logit(x)[0] == pytest.approx(1.0 * 1.0 - 2.0 * 1.0 + 0.5)
    assert 0.0 < again.probability(x)[0] < 1.0
    with pytest.raises(ValueError, match="2 features but 1 weights"):
        LogisticModel(("a", "b"), (1.0,), 0.0, (0.0, 0.0), (1.0, 1.0))
