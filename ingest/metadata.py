"""Recognise article metadata in the lines of a news page: publication date, reporter, outlet.

Each function looks at one line and returns what it found (or None), so the cleaner can both
record the value and drop the line from the article text. Dates are only taken from labelled
stamps ("입력", "송고시간", "기사작성일", "Posted", …): a bare date is a "today" bar, a print
edition or an embedded post, never the article's publication.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_DATE = r"(?P<y>(?:19|20)\d{2})\s*(?:[.\-/]|년)\s*(?P<m>\d{1,2})\s*(?:[.\-/]|월)\s*(?P<d>\d{1,2})"
# First publication labels, then edit labels; alternatives longest first so that "최종수정"
# is read as an edit and "기사작성일" as a publication.
_FIRST_LABELS = (
    r"기사\s*입력|최초\s*입력|입력\s*일?|최초\s*등록|등록\s*일?|송고\s*(?:시간|일시)?|게시\s*일?|발행\s*일?|기사\s*작성\s*일?"
    r"|작성\s*일?|승인|게재\s*일?|first\s+published|published|posted"
)
_EDIT_LABELS = r"최종\s*수정\s*일?|기사\s*수정|수정\s*일?|업데이트|갱신|updated|modified|last\s+modified"
_LABELLED = re.compile(
    rf"(?:(?P<edit>{_EDIT_LABELS})|(?P<first>{_FIRST_LABELS}))\s*(?:일시|시간)?\s*[:：]?\s*{_DATE}", re.IGNORECASE
)
# "2024/03/11 14:05 송고": the wire services put the label after the date.
_TRAILING = re.compile(rf"{_DATE}\.?\s*(?:\([^)]*\)\s*)?(?:(?:오전|오후)\s*)?(?:\d{{1,2}}:\d{{2}}(?::\d{{2}})?\s*)?(?P<first>송고|입력|등록)")
STAMP_LINE_MAX_CHARS = 120
# An unlabelled date with a time of day ("2024.09.09 14:20"): the publication when it sits in the
# byline bar or right under the headline. Today bars, print editions and embedded posts carry no time.
_DATE_WITH_TIME = re.compile(rf"{_DATE}\.?\s*(?:\([^)]*\)\s*)?(?:(?:오전|오후)\s*)?\d{{1,2}}:\d{{2}}")

_NAME = r"[가-힣]{2,4}"
_ROLE = r"(?:기자|특파원|통신원|객원기자|선임기자|수습기자|전문기자|인턴기자)"
_EMAIL = r"(?P<email>[\w.+-]+@(?P<domain>[\w-]+(?:\.[\w-]+)+))"
_CREDIT_WORD = r"(?:글|사진|영상|그래픽|취재|정리|대담|진행)"
_CREDIT_PREFIX = rf"(?:{_CREDIT_WORD}(?:\s*[·ㆍ,/]\s*{_CREDIT_WORD})*\s*[=:]\s*|(?:by|reporter|written\s+by)\s*:?\s+)"
# A line that is only a byline: "홍길동 기자", "글·사진=홍길동 기자", "/홍길동 기자", "By 홍길동 기자",
# "홍길동 기자(hong@x.com)", "홍길동 기자 hong@x.com".
_MORE_NAMES = rf"(?:\s*[·ㆍ,]\s*{_NAME})*"
_BYLINE_ALONE = re.compile(
    rf"^[/\-–—=\s]*{_CREDIT_PREFIX}?(?P<name>{_NAME}){_MORE_NAMES}\s*{_ROLE}\s*(?:[(<\[]?\s*{_EMAIL}\s*[)>\]]?)?\s*[=]?$",
    re.IGNORECASE,
)
_BYLINE_LABEL = re.compile(rf"(?:기자명|글쓴이|작성자|취재기자)\s*[:：]?\s*(?P<name>{_NAME})(?=\s|$|\|)")
_BYLINE_IN_BAR = re.compile(rf"(?:^|\s|\|)(?P<name>{_NAME}){_MORE_NAMES}\s*{_ROLE}(?=\s|$|[(<\[|])")
# A sign-off glued to the end of the last paragraph: "...했다. /김형호 기자 khh@kwangju.co.kr".
_BYLINE_TAIL = re.compile(rf"(?:^|\s|/)\s*/?\s*(?P<name>{_NAME})\s*{_ROLE}\s*[(<\[]?{_EMAIL}[)>\]]?\s*$")

_OUTLET_WORDS = r"(?:뉴스|일보|신문|통신|방송|타임즈|타임스|저널|경제|미디어|투데이|데일리|헤럴드|리뷰|포스트)"
_SITE_NAME = re.compile(rf"^[\w·&]{{1,12}}(?:\s?[\w·&]{{1,12}})?{_OUTLET_WORDS}$")
# Leads that name the outlet (and often the reporter) before the first sentence.
_LEAD_BRACKET_BYLINE = re.compile(rf"^[\[【](?P<outlet>[^\]】=]{{2,25}}?)\s*(?:[=/]|\s)\s*(?P<name>{_NAME}){_MORE_NAMES}\s*{_ROLE}[\]】]\s*")
_LEAD_PAREN_DATELINE = re.compile(
    rf"^[(【\[]\s*(?P<city>[^)】\]=]{{1,12}}?)\s*=\s*(?P<outlet>[^)】\]]{{2,25}}?)\s*[)】\]]\s*(?:(?P<name>{_NAME})\s*{_ROLE}\s*=\s*)?"
)
_LEAD_OUTLET = re.compile(rf"^\[(?P<outlet>[^\]\s]{{2,20}}{_OUTLET_WORDS})\]\s*")

_COPYRIGHT_MARK = re.compile(r"저작권자|copyright(?:\s+by)?|ⓒ|©|\(c\)", re.IGNORECASE)
_COPYRIGHT_NAME = re.compile(
    r"^[\s:.,<>\[\]()]*(?P<name>.+?)(?=\s*[,.<>()\[\]|]|\s+-\s|\s*무단|\s*all\s+rights|\s*재배포|\s*$)", re.IGNORECASE
)

# Reporter e-mail domains of Korean news outlets (national and Honam regional press): the last
# resort for the outlet, when the page names it nowhere else.
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


@dataclass(frozen=True)
class Stamp:
    published: str  # ISO date
    first: bool  # True: first publication (입력, 등록, 송고 …); False: an edit (수정, 업데이트 …)
    labelled: bool = True  # False: a bare "date + time" (used only when no labelled stamp exists)


@dataclass(frozen=True)
class Lead:
    """What a lead dateline says ("[OO뉴스=홍길동 기자]", "(광주=OO통신) 홍길동 기자 =") and the text after it."""

    outlet: str | None
    author: str | None
    rest: str


def _iso(y: str, m: str, d: str) -> str | None:
    try:
        return date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def find_stamps(line: str) -> list[Stamp]:
    """Every labelled publication or edit stamp in a line, in order."""
    if len(line) > STAMP_LINE_MAX_CHARS:
        return []
    found: list[tuple[int, Stamp]] = []
    for m in _LABELLED.finditer(line):
        iso = _iso(m["y"], m["m"], m["d"])
        if iso:
            found.append((m.start(), Stamp(iso, first=m["first"] is not None)))
    for m in _TRAILING.finditer(line):
        iso = _iso(m["y"], m["m"], m["d"])
        if iso and not any(start <= m.start() < start + 40 for start, _ in found):
            found.append((m.start(), Stamp(iso, first=True)))
    return [stamp for _, stamp in sorted(found, key=lambda pair: pair[0])]


def find_timed_date(line: str) -> Stamp | None:
    """An unlabelled "date + time of day" in a short line, or None."""
    if len(line) > STAMP_LINE_MAX_CHARS:
        return None
    m = _DATE_WITH_TIME.search(line)
    iso = _iso(m["y"], m["m"], m["d"]) if m else None
    return Stamp(iso, first=True, labelled=False) if iso else None


def parse_date_line(line: str) -> str | None:
    """ISO date of the first stamp in a line, or None if the line holds no stamp."""
    stamps = find_stamps(line)
    return stamps[0].published if stamps else None


def is_first_publication_stamp(line: str) -> bool:
    """True when the line's first stamp is a publication (입력/등록/…), False for edits (수정)."""
    stamps = find_stamps(line)
    return bool(stamps) and stamps[0].first


def parse_byline_alone(line: str) -> str | None:
    """Reporter name from a line that is only a byline ("홍길동 기자", "글·사진=홍길동 기자")."""
    m = _BYLINE_ALONE.match(line.strip())
    return m["name"] if m else None


def parse_byline(line: str) -> str | None:
    """Reporter name from a meta line: a byline alone, "기자명 홍길동", or a bar with a stamp in it."""
    name = parse_byline_alone(line)
    if name:
        return name
    m = _BYLINE_LABEL.search(line)
    if m:
        return m["name"]
    for part in re.split(r"\s*\|\s*|\s{2,}", line):
        name = parse_byline_alone(part)
        if name:
            return name
    if find_stamps(line):
        m = _BYLINE_IN_BAR.search(line)
        if m:
            return m["name"]
    return None


def outlet_of_email(domain: str) -> str | None:
    domain = domain.lower()
    return next((name for d, name in OUTLET_BY_DOMAIN.items() if domain == d or domain.endswith("." + d)), None)


def split_byline_tail(line: str) -> tuple[str, str, str | None] | None:
    """Split "...했다. /김형호 기자 khh@kwangju.co.kr" into (text before, name, outlet from domain)."""
    m = _BYLINE_TAIL.search(line)
    if not m:
        return None
    return line[: m.start()].rstrip(" /"), m["name"], outlet_of_email(m["domain"])


def email_domains(line: str) -> list[str]:
    return [m["domain"] for m in re.finditer(_EMAIL, line)]


def split_lead(line: str) -> Lead | None:
    """A lead dateline at the start of a line: "[OO뉴스=홍길동 기자] …", "(광주=OO통신) 홍길동 기자 = …", "[OO뉴스] …"."""
    m = _LEAD_BRACKET_BYLINE.match(line)
    if m:
        return Lead(m["outlet"].strip(), m["name"], line[m.end() :].strip())
    m = _LEAD_PAREN_DATELINE.match(line)
    if m and (m["name"] or re.search(_OUTLET_WORDS + r"$", m["outlet"])):
        return Lead(m["outlet"].strip(), m["name"], line[m.end() :].strip())
    m = _LEAD_OUTLET.match(line)
    if m:
        return Lead(m["outlet"], None, line[m.end() :].strip())
    return None


def split_lead_outlet(line: str) -> tuple[str, str] | None:
    """Split "[중앙통신뉴스]광주광역시가 ..." into (outlet, rest of the line)."""
    lead = split_lead(line)
    return (lead.outlet, lead.rest) if lead and lead.outlet else None


def outlet_from_copyright(line: str) -> str | None:
    """"ⓒ 한빛일보 무단전재 …", "Copyright (C) Korea Tech Herald. All rights reserved." → the outlet."""
    marks = list(_COPYRIGHT_MARK.finditer(line))
    if not marks:
        return None
    m = _COPYRIGHT_NAME.match(line[marks[-1].end() :])
    if not m:
        return None
    name = m["name"].strip(" :-")
    if not 2 <= len(name) <= 30 or re.search(r"무단|전재|금지|reserved", name, re.IGNORECASE):
        return None
    return name


def looks_like_outlet_name(line: str) -> bool:
    """A short line shaped like a news site's name: one or two words ending in 일보, 뉴스, 신문, 저널 …"""
    return bool(_SITE_NAME.match(line.strip()))


def is_outlet_name(line: str) -> bool:
    return line.strip() in KNOWN_OUTLETS
