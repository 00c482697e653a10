"""Recognise article metadata in raw news text: publication date, reporter, outlet.

Each function looks at one line and returns what it found (or None), so the cleaner can
both record the value and drop the line from the article text.
"""

from __future__ import annotations

import re
from datetime import date

# Publication/edit stamps as Korean news sites print them: "입력 2022.01.02. 17:26",
# "• 입력 : 2021. 02.15(월) 17:32", "기사입력 2020-01-05", "등록 2019년 10월 1일".
_DATE_LINE = re.compile(
    r"^(?:입력|등록|기사\s*입력|발행|게재|승인|수정)\s*[:：]?\s*"
    r"(?P<y>(?:19|20)\d{2})\s*[.\-/년]\s*(?P<m>\d{1,2})\s*[.\-/월]\s*(?P<d>\d{1,2})"
)
_FIRST_STAMP = re.compile(r"^(?:입력|등록|기사\s*입력|발행|게재)")

# "홍성장 기자", "주현정기자 doit85@mdilbo.com", "/김형호 기자 khh@kwangju.co.kr" (at a line's end).
_NAME = r"[가-힣]{2,4}"
_ROLE = r"(?:기자|특파원|통신원|객원기자|선임기자|수습기자)"
_EMAIL = r"[\w.+-]+@(?P<domain>[\w-]+(?:\.[\w-]+)+)"
_BYLINE_ALONE = re.compile(rf"^(?P<name>{_NAME})\s*{_ROLE}$")
_BYLINE_TAIL = re.compile(rf"(?:^|\s|/)\s*/?\s*(?P<name>{_NAME})\s*{_ROLE}\s*(?:{_EMAIL})\s*$")

# "[중앙통신뉴스]광주광역시가 ..." — a wire-style dateline naming the outlet at the start of the lead.
_LEAD_OUTLET = re.compile(r"^\[(?P<outlet>[^\]\s]{2,20}(?:뉴스|일보|신문|통신|방송|타임즈|타임스|저널|경제|미디어))\]\s*")

# Reporter e-mail domains of Korean news outlets (national and Honam regional press).
OUTLET_BY_DOMAIN: dict[str, str] = {
    "mdilbo.com": "무등일보",
    "jnilbo.com": "전남일보",
    "kwangju.co.kr": "광주일보",
    "namdonews.com": "남도일보",
    "kjdaily.com": "광주매일신문",
    "gjdream.com": "광주드림",
    "honam.co.kr": "호남매일",
    "kjmbc.co.kr": "광주MBC",
    "ikbc.co.kr": "KBC광주방송",
    "yna.co.kr": "연합뉴스",
    "yonhapnews.co.kr": "연합뉴스",
    "newsis.com": "뉴시스",
    "news1.kr": "뉴스1",
    "hani.co.kr": "한겨레",
    "khan.co.kr": "경향신문",
    "chosun.com": "조선일보",
    "joongang.co.kr": "중앙일보",
    "donga.com": "동아일보",
    "hankookilbo.com": "한국일보",
    "seoul.co.kr": "서울신문",
    "kmib.co.kr": "국민일보",
    "munhwa.com": "문화일보",
    "segye.com": "세계일보",
    "mk.co.kr": "매일경제",
    "hankyung.com": "한국경제",
    "sedaily.com": "서울경제",
    "etnews.com": "전자신문",
    "zdnet.co.kr": "지디넷코리아",
    "ddaily.co.kr": "디지털데일리",
    "aitimes.com": "AI타임스",
    "kbs.co.kr": "KBS",
    "mbc.co.kr": "MBC",
    "sbs.co.kr": "SBS",
    "ytn.co.kr": "YTN",
}
KNOWN_OUTLETS: frozenset[str] = frozenset(OUTLET_BY_DOMAIN.values()) | {"중앙통신뉴스", "뉴스핌", "머니투데이", "이데일리", "아시아경제", "헤럴드경제", "파이낸셜뉴스"}


def parse_date_line(line: str) -> str | None:
    """ISO date from a publication stamp line, or None if the line is not one."""
    m = _DATE_LINE.match(line)
    if not m:
        return None
    try:
        return date(int(m["y"]), int(m["m"]), int(m["d"])).isoformat()
    except ValueError:
        return None


def is_first_publication_stamp(line: str) -> bool:
    """True for the original publication stamp (입력/등록), False for edit stamps (수정)."""
    return bool(_FIRST_STAMP.match(line))


def parse_byline_alone(line: str) -> str | None:
    """Reporter name from a line that is only a byline ("홍성장 기자")."""
    m = _BYLINE_ALONE.match(line)
    return m["name"] if m else None


def split_byline_tail(line: str) -> tuple[str, str, str | None] | None:
    """Split "...했다. /김형호 기자 khh@kwangju.co.kr" into (text before, name, outlet from domain)."""
    m = _BYLINE_TAIL.search(line)
    if not m:
        return None
    domain = m["domain"].lower()
    outlet = next((name for d, name in OUTLET_BY_DOMAIN.items() if domain == d or domain.endswith("." + d)), None)
    return line[: m.start()].rstrip(" /"), m["name"], outlet


def split_lead_outlet(line: str) -> tuple[str, str] | None:
    """Split "[중앙통신뉴스]광주광역시가 ..." into (outlet, rest of the line)."""
    m = _LEAD_OUTLET.match(line)
    if not m:
        return None
    return m["outlet"], line[m.end() :]


def is_outlet_name(line: str) -> bool:
    return line.strip() in KNOWN_OUTLETS
