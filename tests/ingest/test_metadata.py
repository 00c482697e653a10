"""Metadata from the lines of any common Korean news layout: dates, bylines, outlets."""

from __future__ import annotations

import pytest

from ingest import metadata as meta
from ingest.cleaning import clean_article

BODY = (
    "광주시는 올해 인공지능 예산을 크게 늘렸다고 밝혔다. 예산은 모두 500억원이다.\n"
    "시는 다음 달에 세부 계획을 발표할 예정이라고 덧붙였다. 기업들은 환영했다.\n"
)


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("입력 2023-05-04 오후 3:12", "2023-05-04"),
        ("등록 2023.05.04 15:12:00", "2023-05-04"),
        ("기사입력 2023년 5월 4일", "2023-05-04"),
        ("송고시간 2023-05-04 15:12", "2023-05-04"),
        ("송고 2023/05/04", "2023-05-04"),
        ("게시 : 2023-05-04 오후 3:12", "2023-05-04"),
        ("발행일 2023.05.04", "2023-05-04"),
        ("기사작성일 : 2023년 5월 4일", "2023-05-04"),
        ("승인 2023.05.04 07:00", "2023-05-04"),
        ("• 입력 : 2021. 02.15(월) 17:32", "2021-02-15"),
        ("Posted : 2023-05-04 11:20 | Updated : 2023-05-05 08:00", "2023-05-04"),
        ("2023/05/04 15:12 송고", "2023-05-04"),
    ],
)
def test_every_date_label_and_form(line: str, iso: str) -> None:
    assert meta.parse_date_line(line) == iso
    assert meta.is_first_publication_stamp(line)


@pytest.mark.parametrize("line", ["2025년 2월 3일 월요일", "지면 2024년 7월 23일자 8면", "강기정 @mayor · 2024년 7월 21일", "입력하세요"])
def test_unlabelled_dates_are_not_stamps(line: str) -> None:
    assert meta.parse_date_line(line) is None


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("최종수정 2024-08-30 11:00\n발행 2024-08-29 09:00", "2024-08-29"),  # first publication beats the edit
        ("수정 2024-08-30 11:00", "2024-08-30"),  # only an edit: better than nothing
        ("2025년 3월 1일 토요일\n입력 2024.06.18 10:00", "2024-06-18"),  # the today bar is never the date
        ("", None),
    ],
)
def test_published_prefers_first_publication(head: str, expected: str | None) -> None:
    assert clean_article(f"광주 AI 예산 크게 늘어\n{head}\n{BODY}").published == expected


def test_date_only_at_the_bottom_and_embedded_post_date_ignored() -> None:
    raw = (
        f"광주 AI 예산 크게 늘어\n{BODY}"
        "시장 홍길동 @mayor · 2022년 1월 1일\n"
        "좋은 소식입니다! 많은 관심 부탁드립니다.\n"
        "시는 이 예산으로 교육 사업을 넓힐 계획이라고 밝혔다.\n"
        "기사작성일 : 2024년 10월 2일\n"
    )
    assert clean_article(raw).published == "2024-10-02"


@pytest.mark.parametrize(
    ("byline", "name"),
    [
        ("홍길동 기자", "홍길동"),
        ("글·사진=홍길동 기자", "홍길동"),
        ("기자명 홍길동", "홍길동"),
        ("홍길동 기자(hong@example.com)", "홍길동"),
        ("홍길동 기자 hong@example.com", "홍길동"),
        ("By 홍길동 기자", "홍길동"),
        ("/홍길동 기자", "홍길동"),
        ("기자명 홍길동    입력 2024.11.05 09:30    수정 2024.11.06 10:12", "홍길동"),
        ("홍길동 기자 | 입력 2024-05-20 08:30", "홍길동"),
    ],
)
def test_byline_forms(byline: str, name: str) -> None:
    assert meta.parse_byline(byline) == name
    assert clean_article(f"광주 AI 예산 크게 늘어\n{byline}\n{BODY}").author == name


@pytest.mark.parametrize(
    ("lead", "outlet", "author"),
    [
        ("[한빛뉴스=홍길동 기자] ", "한빛뉴스", "홍길동"),
        ("(광주=한빛통신) 홍길동 기자 = ", "한빛통신", "홍길동"),
        ("[한빛뉴스]", "한빛뉴스", None),
    ],
)
def test_lead_datelines_give_outlet_and_author(lead: str, outlet: str, author: str | None) -> None:
    cleaned = clean_article(f"광주 AI 예산 크게 늘어\n{lead}{BODY}")
    assert (cleaned.source, cleaned.author) == (outlet, author)
    assert cleaned.text.startswith("광주시는 올해")


def test_signoff_at_the_bottom_gives_the_author() -> None:
    assert clean_article(f"광주 AI 예산 크게 늘어\n{BODY}홍길동 기자\n").author == "홍길동"


@pytest.mark.parametrize(
    ("line", "outlet"),
    [
        ("ⓒ 한빛일보 무단전재 및 재배포 금지", "한빛일보"),
        ("저작권자 © 빛고을타임즈 무단전재 및 재배포 금지", "빛고을타임즈"),
        ("Copyright (C) Korea Tech Herald. All rights reserved.", "Korea Tech Herald"),
        ("<저작권자(c) 서남통신, 무단 전재-재배포 금지>", "서남통신"),
        ("Copyright ⓒ 남도경제신문. All rights reserved.", "남도경제신문"),
    ],
)
def test_outlet_from_the_copyright_line_beats_the_email_domain(line: str, outlet: str) -> None:
    assert meta.outlet_from_copyright(line) == outlet
    raw = f"광주 AI 예산 크게 늘어\n{BODY}홍길동 기자 hong@kwangju.co.kr\n{line}\n"
    assert clean_article(raw).source == outlet


def test_email_domain_is_only_a_fallback() -> None:
    assert clean_article(f"광주 AI 예산 크게 늘어\n{BODY}홍길동 기자 hong@kwangju.co.kr\n").source == "광주일보"


def test_headline_after_site_name_menus_and_breadcrumb_and_printed_twice() -> None:
    raw = (
        "한빛일보\n본문 바로가기\n전체기사 | 정치 | 경제 | 사회\n광주 AI 예산 크게 늘어\n홈 > 경제 > IT\n"
        "광주 AI 예산 크게 늘어\n교육 사업에 절반 투입\n입력 2024.01.02 10:00\n기사 공유\n가 가 가\n" + BODY
    )
    cleaned = clean_article(raw)
    assert cleaned.title == "광주 AI 예산 크게 늘어"
    assert cleaned.text.startswith("교육 사업에 절반 투입\n\n광주시는")  # the deck stays, the headline copy goes
    for junk in ("본문 바로가기", "전체기사", "홈 > 경제", "기사 공유", "가 가 가", "한빛일보"):
        assert junk not in cleaned.text
    reasons = {d.text: d.reason for d in cleaned.dropped}
    assert reasons["전체기사 | 정치 | 경제 | 사회"] == "menu or breadcrumb"
    assert reasons["입력 2024.01.02 10:00"] == "date stamp (metadata)"


def test_furniture_inside_the_body_goes_and_the_articles_own_lists_stay() -> None:
    raw = (
        "광주 AI 예산 크게 늘어\n" + BODY +
        "관련기사\n광주 AI 2단계 사업 본격화\n시의회, AI 예산 삭감 요구\n"
        "■ 주요 사업\n- 데이터센터 증설\n- 인재 양성\n연도 | 예산\n2024 | 500억원\n"
        "▶ 광주 데이터센터 착공 소식 보기\n광고\n#광주 #AI\n"
        "시는 내년에도 예산을 늘릴 계획이라고 설명했다. 의회 심사는 다음 달이다.\n"
    )
    text = clean_article(raw).text
    for junk in ("관련기사", "광주 AI 2단계 사업 본격화", "시의회, AI 예산 삭감 요구", "▶", "광고", "#광주"):
        assert junk not in text
    for own in ("■ 주요 사업", "- 데이터센터 증설", "- 인재 양성", "연도 | 예산", "2024 | 500억원", "시는 내년에도"):
        assert own in text
