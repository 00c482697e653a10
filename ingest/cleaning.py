"""Turn a raw web page dump of a news article into clean article text plus metadata.

What is removed: site menus, share links, search boxes, comment counters, ranking widgets,
"back to top" links, copyright lines, publication stamps and bylines (kept as metadata), and
everything after the closing reporter sign-off (comment boxes, advertisements).

Photo captions are KEPT, as their own paragraph starting with ``[사진] `` (they often carry
facts, e.g. a site's size or a project's budget); a bare photo credit with no description
("이미지=OO 제공") is dropped. Where a photo was laid out in the middle of a sentence, the two
halves of the sentence are joined again and the caption follows the paragraph.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest import metadata as meta

CAPTION_MARK = "[사진] "

_FURNITURE = re.compile(
    r"^(?:"
    r"(?:섹션\s*바로가기\s*(?:열기|닫기)?\s*)+"
    r"|뉴스룸\s*동영상|검색\s*입력폼|검색어?\s*입력|검색|메뉴|전체\s*메뉴"
    r"|댓글\s*\d*|\d+\s*/\s*\d+"
    r"|랭킹\s*뉴스\s*(?:더\s*보기)?|많이\s*본\s*뉴스|관련\s*기사|추천\s*기사|이전\s*기사|다음\s*기사"
    r"|전체\s*보기|더\s*보기|top\s*으로\s*이동|맨\s*위로(?:\s*이동)?|top"
    r"|페이스북|트위터|유튜브|네이버(?:\s*블로그)?|인스타그램|카카오(?:톡|스토리|플러스)?|밴드|블로그|텔레그램"
    r"|facebook|twitter|youtube|instagram|kakao(?:talk|story)?|naver"
    r"|링크\s*복사|url\s*복사|공유(?:하기)?|스크랩|인쇄|프린트|이메일|글자\s*크기(?:\s*조절)?|기사\s*저장"
    r"|좋아요|구독(?:하기)?|로그인|회원\s*가입"
    r")$",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(r"무단\s*전재|재배포\s*금지|copyright|ⓒ|©", re.IGNORECASE)
_BULLET = re.compile(r"^[•◦▪‣∙]\s+")

# A photo credit: "광주시 제공", "<광주시 제공>", "무등일보DB", "이미지=인공지능산업융합사업단 제공".
_CREDIT = r"<?\s*(?:(?:사진|이미지|그래픽|자료)\s*[=:/]\s*)?[^\s<>.]{1,25}(?:\s[^\s<>.]{1,25}){0,2}?\s*(?:제공|DB)\s*>?"
_CAPTION = re.compile(rf"^(?P<desc>.*[.\]…])\s*(?P<credit>{_CREDIT})$")
_CREDIT_ONLY = re.compile(rf"^{_CREDIT}$")

_TERMINAL = re.compile(r"[.?!。…\"'”’」』)\]]$|다$")
_HAS_SENTENCE_END = re.compile(r"[다요까]\.|[.?!]\s")
_PARTICLE_START = re.compile(r"^(?:의|을|를|은|는|이|가|에|와|과|로|도|만)(?:\s|$)")
_CUT_SYLLABLE = re.compile(r"\s[가-힣]$")
_MIN_PROSE = 40  # characters: shorter unterminated lines are headings or decks, never sentence halves


@dataclass(frozen=True)
class CleanedArticle:
    title: str
    text: str
    published: str | None
    author: str | None
    source: str | None


@dataclass
class _Para:
    kind: str  # "body" | "caption"
    text: str


def normalize_text(raw: str) -> str:
    """NFC, unified newlines, no-break and zero-width spaces made plain."""
    text = unicodedata.normalize("NFC", raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\ufeff", "")
    return text


def is_furniture(line: str) -> bool:
    return bool(_FURNITURE.match(line)) or (bool(_COPYRIGHT.search(line)) and len(line) < 120)


def clean_article(raw: str) -> CleanedArticle:
    """Clean one raw article; see the module docstring for what is kept and dropped."""
    lines = [_BULLET.sub("", line.strip()) for line in normalize_text(raw).split("\n")]
    lines = [line for line in lines if line and not is_furniture(line)]

    first_stamp: str | None = None  # "입력 …": the publication date
    edit_stamp: str | None = None  # "수정 …": used only when the page gives no publication date
    author: str | None = None
    source: str | None = None
    kept: list[str] = []
    for line in lines:
        stamp = meta.parse_date_line(line)
        if stamp is not None:
            if meta.is_first_publication_stamp(line):
                first_stamp = first_stamp or stamp
            else:
                edit_stamp = edit_stamp or stamp
            continue
        name = meta.parse_byline_alone(line)
        if name is not None:
            author = author or name
            continue
        if meta.is_outlet_name(line) and not kept:
            source = source or line
            continue
        kept.append(line)

    # The reporter's sign-off with an e-mail closes the article: what follows is page furniture
    # (comment boxes, ads). Only trust a sign-off in the second half of the page.
    published = first_stamp or edit_stamp
    total = sum(len(line) for line in kept) or 1
    seen = 0
    for i, line in enumerate(kept):
        seen += len(line)
        split = meta.split_byline_tail(line)
        if split is not None and seen / total > 0.5:
            before, name, outlet = split
            author = author or name
            source = source or outlet
            kept = kept[:i] + ([before] if before else [])
            break

    if not kept:
        return CleanedArticle(title="", text="", published=published, author=author, source=source)
    title = kept[0]
    body = _drop_title_repeats(title, kept[1:])

    paras: list[_Para] = []
    for line in body:
        lead = meta.split_lead_outlet(line) if not any(p.kind == "body" for p in paras[1:]) else None
        if lead is not None:
            source = source or lead[0]
            line = lead[1]
        if _CREDIT_ONLY.match(line):
            continue
        if _CAPTION.match(line) and not line.startswith(CAPTION_MARK):
            paras.append(_Para("caption", CAPTION_MARK + line))
            continue
        for part in line.split("||"):  # decks listing sub-headlines as "a||b||c"
            if part.strip():
                paras.append(_Para("body", part.strip()))

    paras = _rejoin_split_sentences(paras)
    text = "\n\n".join(p.text for p in paras)
    return CleanedArticle(title=title, text=text, published=published, author=author, source=source)


def _drop_title_repeats(title: str, lines: list[str]) -> list[str]:
    """Sites often print breadcrumbs and then the headline again: drop both."""
    for i, line in enumerate(lines[:6]):
        if line == title:
            return lines[i + 1 :]
    return lines


def _is_prose(text: str) -> bool:
    return len(text) >= _MIN_PROSE


def _rejoin_split_sentences(paras: list[_Para]) -> list[_Para]:
    """Join a sentence that the page layout cut in two around a photo (or mid-word)."""
    out: list[_Para] = []
    i = 0
    while i < len(paras):
        cur = paras[i]
        i += 1
        if cur.kind != "body":
            out.append(cur)
            continue
        held: list[_Para] = []
        while i < len(paras) and _is_prose(cur.text) and not _TERMINAL.search(cur.text):
            cut_word = bool(_CUT_SYLLABLE.search(cur.text)) and bool(_HAS_SENTENCE_END.search(cur.text))
            j = i
            skipped: list[_Para] = []
            while j < len(paras) and (
                paras[j].kind == "caption" or (_is_prose(paras[j].text) and not _HAS_SENTENCE_END.search(paras[j].text))
            ):
                skipped.append(paras[j])
                j += 1
            has_caption = any(p.kind == "caption" for p in skipped)
            if j >= len(paras) or not (has_caption or (cut_word and not skipped)):
                break
            nxt = paras[j].text
            glue = "" if cut_word or _PARTICLE_START.match(nxt) else " "
            cur = _Para("body", cur.text + glue + nxt)
            held.extend(skipped)
            i = j + 1
        out.append(cur)
        out.extend(held)
    return out
