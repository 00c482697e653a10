"""Cleaning of the five bundled articles and of synthetic pages: furniture gone, sentences intact, metadata right."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.cleaning import CAPTION_MARK, clean_article
from ingest.reader import read_document

ROOT = Path(__file__).resolve().parents[2]

BOILERPLATE = {
    "000_edda6da89cf6a7e8": ["섹션 바로가기 열기", "뉴스룸 동영상", "댓글0", "0/300", "랭킹뉴스더보기", "전체보기",
                             "Top으로 이동", "doit85@mdilbo.com", "입력 2022.01.02", "이미지=인공지능산업융합사업단 제공"],
    "001_7b68b981ea3af823": ["페이스북", "유튜브", "네이버", "인스타그램", "카카오플러스", "검색 입력폼", "입력 :",
                             "seongjang.hong@jnilbo.com", "||", "•"],
    "002_d318a0da83520638": ["[중앙통신뉴스]"],
    "003_91b65d10689de6ed": ["그린궁", "GREEN GOONG", "프라임에버", "건강기능식품", "080-234-6588", "중국산 원료",
                             "khh@kwangju.co.kr", "김형호 기자"],
    "004_1f6d609bec4199ac": [],
}

SENTENCES = {
    "000_edda6da89cf6a7e8": [
        "AI 중심도시 조성 선포 3년만에 광주는 관련 산업의 구심점으로 자리잡았다.",
        "그래픽처리장치(GPU) 연산능력이 88.5페타플롭스(PF) 규모다.",
        "실제로 광주 지역 국회의원 4명이 발의한 관련 법안이 최고 15개월째 상임위 문턱 조차 넘지 못하고 있다.",
        "\"기술 보급·확산을 위해 시민이 직접 체감할 수 있는 AI 서비스 발굴도 본격 추진할 계획\"이라고 말했다.",
    ],
    "001_7b68b981ea3af823": [
        "광주 하면 가장 먼저 5·18민주화운동을 떠올리지만, 그에 못지않은 게 있다.",
        "인공지능 사관학교도 지난해 11월 155명의 1기 수료생을 배출하는 등 인공지능 인재양성에 한몫을 하고 있다.",
        "2024년까지 모두 310곳의 기업을 유치하는 것이 광주시의 목표다.",
    ],
    "002_d318a0da83520638": [
        "광주광역시(시장 강기정)가 총사업비 6000억원 규모의 인공지능(AI) 2단계 '인공지능전환(AX) 실증밸리 조성 사업'을 본격 추진한다.",
        "광주시는 299개 AI 기업과 업무협약을 맺었으며, 이 중 158개 기업이 실제로 광주에 터를 잡았다.",
    ],
    "003_91b65d10689de6ed": [
        "광주시는 미국 실리콘밸리 소재 기업과 손잡고 광주에 AI 연구소를 설립한다.",
        "각 기관은 협약 목적 달성을 위해 실무진으로 구성된 운영위원회를 설치·운영하기로 했다.",
        # Sentences the page layout had cut around a photo (or mid-word) come back whole:
        "비용 절감을 이끌어 친체 일로의 지역 자동차 산업 혁신을 유도할 계획이다.",
        "우수강사 공유 등을 협력기로 했다.",
        "호남대는 AI중심대학을 통해 인공지능 전문·실무형 인재를 양성한다.",
    ],
    "004_1f6d609bec4199ac": [
        "이 시장은 오는 6일부터 11일까지 미국 실리콘밸리를 방문한다.",
        "이어 2단계는 2025년부터 2029년까지 5939억원을 투자한다.",
        "광주시는 이번에도 광주과학기술원과 함께 인공지능분야를 새로운 미래전략산업으로 키우기 위해 공동 보조를 취하고 있다.",
    ],
}

METADATA = {
    "000_edda6da89cf6a7e8": ("[희망2022 신년특집]초연결·초지능·초실감 시대··· 광주, AI에 신기술을 융합하다", "무등일보", "2022-01-02", "주현정"),
    "001_7b68b981ea3af823": ("인공지능 시대…광주가 AI 4대강국 대한민국을 이끌다", "전남일보", "2021-02-15", "홍성장"),
    "002_d318a0da83520638": ("광주시, 6000억 'AX 실증밸리'로 도시·시민생활 AI 혁신, 그 배경과 기대효과는?", "중앙통신뉴스", None, None),
    "003_91b65d10689de6ed": ("인공지능 중심도시 광주 ... 'IT 강국 넘어 AI 강국' 이끈다", "광주일보", None, "김형호"),
    "004_1f6d609bec4199ac": ("이용섭 광주시장, 6~11일 실리콘밸리 방문", "", None, None),
}


@pytest.mark.parametrize("doc_id", sorted(METADATA))
def test_bundled_article_is_cleaned(doc_id: str) -> None:
    doc = read_document(ROOT / "corpus" / f"{doc_id}.txt")
    for junk in BOILERPLATE[doc_id]:
        assert junk not in doc.text, f"{junk!r} left in {doc_id}"
    for sentence in SENTENCES[doc_id]:
        assert sentence in doc.text, f"sentence lost in {doc_id}: {sentence}"
    assert (doc.title, doc.source, doc.published, doc.author) == METADATA[doc_id]
    assert doc.title not in doc.text  # the headline is metadata, not repeated in the body


def test_captions_are_kept_and_marked() -> None:
    doc = read_document(ROOT / "corpus" / "001_7b68b981ea3af823.txt")
    assert f"{CAPTION_MARK}지난 4일 열린 국가 인공지능 데이터센터 투자협약 및 착수식 모습. 광주시 제공" in doc.text
    captions = [p for p in doc.text.split("\n\n") if p.startswith(CAPTION_MARK)]
    assert len(captions) == 4


def test_caption_that_interrupts_a_sentence_follows_the_rejoined_paragraph() -> None:
    raw = (
        "제목\n\n"
        "광주시는 새로운 인공지능 연구소를 세우고 지역 기업 이백 곳과 함께 공동 연구를 벌여 나가는\n\n"
        "시청 전경. 광주시 제공\n\n"
        "등의 계획을 세웠다. 연구소는 내년에 문을 연다.\n"
    )
    cleaned = clean_article(raw)
    assert cleaned.text.split("\n\n") == [
        "광주시는 새로운 인공지능 연구소를 세우고 지역 기업 이백 곳과 함께 공동 연구를 벌여 나가는 등의 계획을 세웠다. 연구소는 내년에 문을 연다.",
        CAPTION_MARK + "시청 전경. 광주시 제공",
    ]


def test_furniture_metadata_and_trailer_on_a_synthetic_page() -> None:
    raw = (
        "검색\n로그인\n광주일보\n"
        "광주 AI 예산 확정\n"
        "• 입력 : 2023. 5.7(일) 10:00\n• 수정 : 2023. 5.8(월) 11:00\n"
        "광주시는 내년 인공지능 예산을 확정했다. 예산은 모두 500억원이다.\n"
        "이 예산으로 교육 사업을 넓힌다. 시는 다음 달에 세부 계획을 발표한다. 홍길동 기자 hong@kwangju.co.kr\n"
        "댓글 3\n많이 본 뉴스\n건강식품 특가 판매\n"
        "ⓒ 광주일보 무단전재 및 재배포 금지\n"
    )
    cleaned = clean_article(raw)
    assert cleaned.title == "광주 AI 예산 확정"
    assert cleaned.published == "2023-05-07"
    assert cleaned.author == "홍길동"
    assert cleaned.source == "광주일보"
    assert cleaned.text == (
        "광주시는 내년 인공지능 예산을 확정했다. 예산은 모두 500억원이다.\n\n"
        "이 예산으로 교육 사업을 넓힌다. 시는 다음 달에 세부 계획을 발표한다."
    )


def test_headings_and_decks_are_not_glued_to_the_body() -> None:
    raw = "제목\n\n◆육성 법안은 낮잠 중\n\n인공지능 관련 기술이 발전하면서 제도적 뒷받침이 필요하다.\n"
    assert clean_article(raw).text == "◆육성 법안은 낮잠 중\n\n인공지능 관련 기술이 발전하면서 제도적 뒷받침이 필요하다."
