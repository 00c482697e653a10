"""Files that cannot be articles are skipped with a reason naming them; mixed txt/html corpora work."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ingest.errors import CorpusNotFound
from ingest.reader import corpus_files, corpus_hash, read_corpus, skip_warnings_to

ARTICLE = "광주 AI 데이터센터 착공\n\n광주시는 국가 인공지능 데이터센터를 첨단3지구에 짓는다. 연산 능력은 88.5페타플롭스 규모다.\n"
HTML = (
    "<html><head><meta charset='{charset}'><title>광주 AI 사관학교 수료식</title></head><body>"
    "<h1>광주 AI 사관학교 수료식</h1><p>입력 2024.01.05 10:00</p>"
    "<p>인공지능 사관학교는 지난해 155명의 1기 수료생을 배출했다고 밝혔다. 경쟁률은 5.8대 1이었다.</p>"
    "<p>광주시는 3월께 제2기 교육생을 모집할 예정이라고 설명했다. 교육은 6개월 동안 이어진다.</p>"
    "<p>ⓒ 한빛일보 무단전재 및 재배포 금지</p></body></html>"
)


@pytest.fixture()
def mixed(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "b.html").write_text(HTML.format(charset="utf-8"), encoding="utf-8")
    (tmp_path / "c.htm").write_bytes(HTML.format(charset="euc-kr").encode("euc-kr"))
    (tmp_path / "d.txt").write_bytes(ARTICLE.encode("euc-kr"))  # not UTF-8
    (tmp_path / "e.txt").write_text("   \n", encoding="utf-8")  # empty
    (tmp_path / "f.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")  # binary
    (tmp_path / "g.txt").write_text("메뉴\n로그인\n전체기사 | 정치 | 경제\n", encoding="utf-8")  # no prose
    return tmp_path


def test_bad_files_are_skipped_with_a_reason_and_the_rest_is_read(mixed: Path) -> None:
    skipped: list[tuple[str, str]] = []
    docs = read_corpus(mixed, on_skip=lambda path, reason: skipped.append((path.name, reason)))
    assert [d.id for d in docs] == ["a", "b", "c"]
    assert skipped == [
        ("d.txt", "not UTF-8 text (invalid start byte at byte 0)"),
        ("e.txt", "empty file"),
        ("f.txt", "binary file, not a text or HTML article"),
        ("g.txt", "no article text found (no line of running prose)"),
    ]


def test_html_pages_are_read_with_their_metadata(mixed: Path) -> None:
    docs = {d.id: d for d in read_corpus(mixed, on_skip=lambda path, reason: None)}
    for name in ("b", "c"):  # c declares EUC-KR and is decoded with it
        doc = docs[name]
        assert (doc.title, doc.published, doc.source) == ("광주 AI 사관학교 수료식", "2024-01-05", "한빛일보")
        assert "155명의 1기 수료생" in doc.text and "무단전재" not in doc.text and doc.title not in doc.text


def test_default_skip_report_is_one_warning_per_file(mixed: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ingest.reader"):
        read_corpus(mixed)
    assert [r.getMessage() for r in caplog.records] == [
        f"skipped {mixed / 'd.txt'}: not UTF-8 text (invalid start byte at byte 0)",
        f"skipped {mixed / 'e.txt'}: empty file",
        f"skipped {mixed / 'f.txt'}: binary file, not a text or HTML article",
        f"skipped {mixed / 'g.txt'}: no article text found (no line of running prose)",
    ]
    lines: list[str] = []
    with skip_warnings_to(lines.append):
        read_corpus(mixed)
    assert len(lines) == 4 and lines[0].startswith(f"skipped {mixed / 'd.txt'}")


def test_a_corpus_with_no_readable_article_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_bytes(ARTICLE.encode("euc-kr"))
    (tmp_path / "y.html").write_text("", encoding="utf-8")
    with pytest.raises(CorpusNotFound, match=r"no readable article in corpus directory .* \(2 file\(s\) skipped\)"):
        read_corpus(tmp_path, on_skip=lambda path, reason: None)


def test_html_files_are_part_of_the_corpus_and_its_hash(mixed: Path) -> None:
    assert [p.name for p in corpus_files(mixed)] == ["a.txt", "b.html", "c.htm", "d.txt", "e.txt", "f.txt", "g.txt"]
    before = corpus_hash(mixed)
    (mixed / "b.html").write_text(HTML.format(charset="utf-8").replace("155명", "156명"), encoding="utf-8")
    assert corpus_hash(mixed) != before
