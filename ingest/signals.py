"""What one line of a news page looks like: prose, a menu, a UI label, a list item, a table row.

These signals hold on any Korean news page; none of them names an outlet. The cleaner combines
them with the line's position (before the headline, inside the densest run of prose, after the
sign-off) to decide what is article and what is page furniture.
"""

from __future__ import annotations

import re

_HANGUL = re.compile(r"[가-힣]")
_LETTER = re.compile(r"[^\W\d_]")

# A sentence ends with a period, question or exclamation mark, maybe followed by a closing quote
# or bracket; Korean declaratives end in 다./요./죠./까? and the like.
_SENTENCE_END = re.compile(r"[.?!。…][\"'”’」』)\]]*$")
_SENTENCE_INSIDE = re.compile(r"[다요죠까][.?!][\"'”’」』)\]]*(?:\s|$)")
_KOREAN_SENTENCE_END = re.compile(r"[다요죠까][.?!][\"'”’」』)\]]*$")
PROSE_MIN_CHARS = 20
SHORT_SENTENCE_MIN_CHARS = 8
PROSE_MIN_HANGUL = 0.4

# Words of web-page UI (navigation, sharing, font size, comments, ranking and related-article
# boxes, ads, footers) as Korean and English news sites print them. A short line made of these is
# furniture wherever it stands; they are the vocabulary of the web, not of one outlet.
UI_WORDS: tuple[str, ...] = (
    "바로가기", "바로 가기", "전체기사", "전체 기사", "전체보기", "전체 보기", "더보기", "더 보기", "기사보기", "기사 보기",
    "다른기사", "다른 기사", "메뉴", "검색", "로그인", "로그아웃", "회원가입", "회원 가입", "구독", "공유", "보내기",
    "복사", "스크랩", "인쇄", "프린트", "글씨", "글자", "폰트", "크기", "댓글", "좋아요", "싫어요", "추천", "신고",
    "맨위로", "맨 위로", "위로 가기", "닫기", "열기", "목록", "이전기사", "이전 기사", "다음기사", "다음 기사",
    "관련기사", "관련 기사", "관련뉴스", "관련 뉴스", "많이 본", "많이본", "인기기사", "인기 기사", "주요뉴스",
    "주요 뉴스", "랭킹", "핫이슈", "이 시각", "포토뉴스", "광고", "기사원문", "원문", "요약", "음성", "듣기",
    "번역", "기사제보", "제보", "지면보기", "회사소개", "광고문의", "개인정보", "청소년보호", "이용약관", "고객센터",
    "정렬", "최신순", "추천순", "공감순", "섹션", "언론사", "태그", "기사 저장", "북마크",
    "skip to", "home", "menu", "search", "subscribe", "login", "log in", "sign in", "sign up", "share", "print",
    "advertisement", "sponsored", "related", "most read", "popular", "about us", "contact", "privacy", "terms",
    "tag", "newsletter", "facebook", "twitter", "youtube", "instagram", "kakao", "naver",
    "페이스북", "트위터", "유튜브", "인스타그램", "카카오", "네이버", "밴드", "블로그", "텔레그램", "url", "sns",
    "하기",  # button labels: 공유하기, 구독하기, 사용하기
)
UI_LINE_MAX_CHARS = 30
UI_MIN_COVERAGE = 0.25  # share of a line's letters that UI words must cover ("공유" alone does not make a headline a button)
_UI_PATTERN = re.compile("|".join(re.escape(w) for w in sorted(UI_WORDS, key=len, reverse=True)), re.IGNORECASE)

# Headers of boxes that interrupt or follow an article: related articles, rankings, ads.
BOX_WORDS: tuple[str, ...] = (
    "관련기사", "관련 기사", "관련뉴스", "관련 뉴스", "많이 본", "많이본", "인기기사", "인기 기사", "주요뉴스", "주요 뉴스",
    "추천기사", "추천 기사", "랭킹", "핫이슈", "이 시각", "함께 본", "함께 보면", "다른기사", "다른 기사", "광고", "ad",
    "advertisement", "sponsored", "related", "most read", "popular",
)
_BOX_PATTERN = re.compile(
    r"^[\s▶►▷☞>\[<(■□◆●-]*(?:" + "|".join(re.escape(w) for w in BOX_WORDS) + r")\b",
    re.IGNORECASE,
)

_COPYRIGHT = re.compile(r"무단\s*전재|재배포|copyright|ⓒ|©|\(c\)|all rights reserved|저작권자", re.IGNORECASE)
_LINK_MARK = re.compile(r"^\s*[▶►▷☞]")
_HASHTAGS = re.compile(r"^(?:#\S+\s*)+$")
_TABLE_RULE = re.compile(r"^[|\-:+=\s]+$")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\[email(?:&#160;|\s)protected\]", re.IGNORECASE)
_HARD_SEPARATORS = re.compile(r"\s*\|\s*|\s>\s")
_SOFT_SEPARATORS = re.compile(r"\s[·ㆍ/]\s")
_DIGIT = re.compile(r"\d")
# Article lists and subheads: bullets, numbered items, circled numbers, ■/◆/● subheads.
_LIST_MARK = re.compile(r"^(?:[-–•◦▪‣∙·*▲△■□◆◇●○◎※]|\d{1,2}[.)]\s|[①-⑳]|\(\d{1,2}\)|[가-하][.)]\s)")
_MARKDOWN_ROW = re.compile(r"^\|.*\|$")
_BULLET = re.compile(r"^[•◦▪‣∙]\s+")
_RANKED_ITEM = re.compile(r"^\d{1,2}[.)]?\s+\S")
# "이름 @handle · 2024년 7월 21일", "A post shared by 이름 (@handle) on Oct 20, 2024": a handle and a date.
_EMBED_POST = re.compile(r"@\w{2,}\)?\s*(?:[·•]|\bon\b)\s*.{0,12}?(?:(?:19|20)\d{2}|\d{1,2}[월.]|\d+\s*(?:시간|분|일)\s*전)")
_UI_COUNTER = re.compile(r"^[^\d]{0,12}\d+(?:\s*/\s*\d+)?(?:\s+[^\d\s]{1,8}\s*\d+)*$")


def hangul_ratio(line: str) -> float:
    letters = len(_LETTER.findall(line))
    return len(_HANGUL.findall(line)) / letters if letters else 0.0


def ends_sentence(line: str) -> bool:
    return bool(_SENTENCE_END.search(line))


def is_prose(line: str) -> bool:
    """A line of running Korean text: long enough, mostly Hangul, with at least one sentence end
    (a short line counts when it ends like a Korean sentence: "그는 말을 아꼈다.")."""
    if hangul_ratio(line) < PROSE_MIN_HANGUL:
        return False
    if len(line) < PROSE_MIN_CHARS:
        return len(line) >= SHORT_SENTENCE_MIN_CHARS and bool(_KOREAN_SENTENCE_END.search(line))
    return ends_sentence(line) or bool(_SENTENCE_INSIDE.search(line))


def ui_coverage(line: str) -> float:
    """Share of the line's letters that belong to UI words."""
    letters = len(_LETTER.findall(line))
    covered = sum(len(_LETTER.findall(m.group())) for m in _UI_PATTERN.finditer(line))
    return covered / letters if letters else 0.0


def is_ui_label(line: str) -> bool:
    """A short line that is a UI control or label ("기사 공유", "가 가 가", "댓글 0", "Share")."""
    if len(line) > UI_LINE_MAX_CHARS or ends_sentence(line) and hangul_ratio(line) > 0.5 and len(line) > 12:
        return False
    if _UI_PATTERN.search(line) and (len(line.split()) <= 2 or ui_coverage(line) >= UI_MIN_COVERAGE):
        return True
    tokens = line.split()
    if len(tokens) >= 2 and all(len(t) == 1 for t in tokens):  # "가 가 가", "A A A"
        return True
    return bool(_UI_COUNTER.match(line)) and len(line) <= 20  # "0 / 400", "좋아요 120 리트윗 35"


def is_box_header(line: str) -> bool:
    return len(line) <= UI_LINE_MAX_CHARS and bool(_BOX_PATTERN.match(line))


def is_copyright(line: str) -> bool:
    return len(line) < 160 and bool(_COPYRIGHT.search(line))


def is_link_marked(line: str) -> bool:
    """"▶ 관련기사 …", "☞ …": a link arrow, never the article's own list marker."""
    return bool(_LINK_MARK.match(line))


def is_hashtags(line: str) -> bool:
    return bool(_HASHTAGS.match(line))


def is_table_rule(line: str) -> bool:
    return bool(_TABLE_RULE.match(line)) and "-" in line


def has_email(line: str) -> bool:
    return bool(_EMAIL.search(line))


def is_email_only(line: str) -> bool:
    return bool(_EMAIL.fullmatch(line.strip("()<>[] ")))


def is_menu(line: str) -> bool:
    """A row of short links ("전체기사 | 정치 | 경제", "홈 > 경제 > IT", "정치 · 경제 · 사회").

    Table rows look alike but carry figures; a menu row has none (or one, in a street address).
    """
    if ends_sentence(line) or len(_DIGIT.findall(line)) > 1 or _MARKDOWN_ROW.match(line):
        return False
    for separator, least in ((_HARD_SEPARATORS, 2), (_SOFT_SEPARATORS, 3)):
        parts = [p.strip() for p in separator.split(line) if p.strip()]
        if len(parts) >= least and all(len(p) <= 12 for p in parts):
            return True
    return False


def is_list_item(line: str) -> bool:
    return bool(_LIST_MARK.match(line))


def is_ranked_item(line: str) -> bool:
    """"1. 광주 …", "2 무등산 …": an entry of a numbered ranking box (or of an article's list)."""
    return bool(_RANKED_ITEM.match(line))


def is_table_row(line: str) -> bool:
    return line.count("|") >= 1 and bool(_DIGIT.search(line)) or line.strip().startswith("|")


def is_embedded_post_header(line: str) -> bool:
    """"이름 @handle · 2024년 7월 21일": the head of an embedded social-media post."""
    return bool(_EMBED_POST.search(line))


def strip_bullet(line: str) -> str:
    """Drop a typographic bullet ("• ") that a page dump put before a menu item or a paragraph."""
    return _BULLET.sub("", line)


# A photo credit: "광주시 제공", "<광주시 제공>", "무등일보DB", "이미지=인공지능산업융합사업단 제공".
_CREDIT = r"<?\s*(?:(?:사진|이미지|그래픽|자료)\s*[=:/]\s*)?[^\s<>.]{1,25}(?:\s[^\s<>.]{1,25}){0,2}?\s*(?:제공|DB)\s*>?"
_CAPTION = re.compile(rf"^(?P<desc>.*[.\]…])\s*(?P<credit>{_CREDIT})$")
_CREDIT_ONLY = re.compile(rf"^{_CREDIT}$")
_BARE_DATE = re.compile(r"(?:19|20)\d{2}\s*(?:[.\-/]|년)\s*\d{1,2}\s*(?:[.\-/]|월)\s*\d{1,2}")
_CLAUSE_END = re.compile(r"[.?!。…\"'”’」』)\]]$|다$")
_ANY_SENTENCE_END = re.compile(r"[다요까]\.|[.?!]\s")
SENTENCE_HALF_MIN_CHARS = 40  # shorter unterminated lines are headings or decks, never sentence halves


def is_caption(line: str) -> bool:
    """A photo caption: a description, then a credit ("시청 전경. 광주시 제공")."""
    return bool(_CAPTION.match(line))


def is_credit_only(line: str) -> bool:
    """A bare photo credit with no description ("이미지=OO 제공")."""
    return bool(_CREDIT_ONLY.match(line))


def has_bare_date(line: str) -> bool:
    return bool(_BARE_DATE.search(line))


def ends_clause(line: str) -> bool:
    """The line ends a sentence or clause (a period, a closing quote, a final "다")."""
    return bool(_CLAUSE_END.search(line))


def has_sentence_end(line: str) -> bool:
    return bool(_ANY_SENTENCE_END.search(line))


def is_sentence_half_length(line: str) -> bool:
    """Long enough to be half of a sentence cut by the layout (not a heading)."""
    return len(line) >= SENTENCE_HALF_MIN_CHARS


def is_furniture(line: str) -> bool:
    """A line that is page furniture wherever it stands (UI label, menu, copyright, link arrow)."""
    return is_ui_label(line) or is_menu(line) or is_copyright(line) or is_link_marked(line)
