"""The tuning pages (tests/ingest/pages/tuning): every body sentence kept, every furniture line
dropped, title/date/author/outlet right, chunk offsets exact. The held-out pages are only
measured (python -m eval.bench_cleaning), never tuned on, so they are not asserted here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.bench_cleaning import furniture_kept, score_page
from ingest.chunking import Chunker, ChunkingConfig
from ingest.documents import Document
from ingest.reader import ARTICLE_SUFFIXES, corpus_chrome, parse_corpus, read_document

PAGES = Path(__file__).resolve().parent / "pages"
TUNING = sorted(p for p in (PAGES / "tuning").iterdir() if p.suffix in ARTICLE_SUFFIXES)
ALL_PAGES = sorted(p for d in ("tuning", "heldout") for p in (PAGES / d).iterdir() if p.suffix in ARTICLE_SUFFIXES)


@pytest.fixture(scope="module")
def tuning_corpus():
    return parse_corpus(PAGES / "tuning")


@pytest.mark.parametrize("page", TUNING, ids=lambda p: p.name)
def test_tuning_page_is_cleaned_right(page: Path, tuning_corpus) -> None:
    expect = json.loads(page.with_suffix(".expect.json").read_text(encoding="utf-8"))
    result = score_page(page.name, expect, tuning_corpus[page].document)
    assert result.failures == []


def test_the_sets_are_big_and_varied_enough() -> None:
    heldout = [p for p in ALL_PAGES if p.parent.name == "heldout"]
    assert len(ALL_PAGES) >= 16 and len(heldout) >= 6
    assert sum(p.suffix in (".html", ".htm") for p in ALL_PAGES) >= 3
    assert any(b"\r\n" in p.read_bytes() for p in ALL_PAGES)
    assert all(p.with_suffix(".expect.json").is_file() for p in ALL_PAGES)


@pytest.mark.parametrize("page", ALL_PAGES, ids=lambda p: p.name)
def test_chunks_point_exactly_into_the_document(page: Path) -> None:
    doc = read_document(page, corpus_chrome(page.parent))
    chunks = Chunker(ChunkingConfig(max_tokens=24, overlap_tokens=4), lambda text: len(text) // 3 + 1).split(doc)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text


def test_site_chrome_is_learned_from_other_pages_of_the_corpus(tmp_path: Path) -> None:
    body = "광주시는 올해 인공지능 예산을 크게 늘렸다고 밝혔다. 예산은 모두 500억원이다."
    for name, lead in (("a", "첫째 기사의 본문은 데이터센터 이야기를 담고 있다고 한다."), ("b", "둘째 기사의 본문은 사관학교 이야기를 담고 있다고 한다.")):
        (tmp_path / f"{name}.txt").write_text(
            f"제목 {name} 기사입니다\n{lead}\n오늘의 한 컷 보러 가기\n{body}\n", encoding="utf-8"
        )
    docs = parse_corpus(tmp_path)
    for parsed in docs.values():
        assert "오늘의 한 컷 보러 가기" not in parsed.document.text
        assert body in parsed.document.text  # prose shared by two pages is never chrome
        assert any(d.reason.startswith("repeated on other pages") for d in parsed.cleaned.dropped)
    alone = read_document(tmp_path / "a.txt")  # without its corpus the line is not known as chrome
    assert "오늘의 한 컷 보러 가기" in alone.text


def test_benchmark_scoring_counts_what_it_says() -> None:
    expect = {"title": "T", "published": "2024-01-02", "author": "홍길동", "source": None,
              "body": ["첫 문장이다.", "둘째 문장이다."], "furniture": ["광고", "관련 기사 목록 제목"]}
    doc = Document("x", "T", "", "2024-01-02", "김철수", None, "첫 문장이다.\n\n광고\n\n관련 기사 목록 제목이 붙었다")
    result = score_page("x", expect, doc)
    assert (result.body_kept, result.body_total) == (1, 2)
    assert (result.furniture_dropped, result.furniture_total) == (0, 2)
    assert result.meta_correct == {"title": True, "published": True, "author": False}
    assert result.source_correct
    assert not furniture_kept("광고", "광고 효과가 컸다.")  # a short string only counts as a whole line
