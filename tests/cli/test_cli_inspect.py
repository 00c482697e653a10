"""`aihub-qa inspect` and the build's skip warnings, run as users run them (the console script)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli_build_ask import run

PAGE = (
    "한빛일보\n본문 바로가기\n전체기사 | 정치 | 경제\n광주 AI 예산 크게 늘어\n기사 공유\n"
    "입력 2024.01.02 10:00\n홍길동 기자\n"
    "광주시는 올해 인공지능 예산을 크게 늘렸다고 밝혔다. 예산은 모두 500억원이다.\n"
    "시는 다음 달에 세부 계획을 발표할 예정이라고 덧붙였다. 기업들은 환영했다.\n"
    "ⓒ 한빛일보 무단전재 및 재배포 금지\n"
)


def test_inspect_shows_metadata_text_and_why_each_line_was_dropped(tmp_path: Path) -> None:
    page = tmp_path / "p.txt"
    page.write_text(PAGE, encoding="utf-8")
    proc = run("inspect", str(page))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "title     광주 AI 예산 크게 늘어" in out
    assert "published 2024-01-02" in out and "author    홍길동" in out and "source    한빛일보" in out
    assert "광주시는 올해 인공지능 예산을 크게 늘렸다고 밝혔다." in out
    assert "   3  전체기사 | 정치 | 경제  ← menu or breadcrumb" in out
    assert "   5  기사 공유  ← UI label" in out
    assert "   6  입력 2024.01.02 10:00  ← date stamp (metadata)" in out


def test_inspect_json(tmp_path: Path) -> None:
    page = tmp_path / "p.txt"
    page.write_text(PAGE, encoding="utf-8")
    (tmp_path / "p.meta.json").write_text('{"url": "https://example.org/p"}', encoding="utf-8")
    proc = run("inspect", str(page), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"file", "kind", "sidecar", "document", "dropped"}
    assert data["kind"] == "text" and data["sidecar"] == str(tmp_path / "p.meta.json")
    doc = data["document"]
    assert (doc["title"], doc["published"], doc["author"], doc["source"], doc["url"]) == (
        "광주 AI 예산 크게 늘어", "2024-01-02", "홍길동", "한빛일보", "https://example.org/p"
    )
    assert {"line": 1, "text": "한빛일보", "reason": "above the headline (site name, menu, date bar)"} in data["dropped"]
    assert {"line": 10, "text": "ⓒ 한빛일보 무단전재 및 재배포 금지", "reason": "copyright line"} in data["dropped"]


def test_inspect_html_page() -> None:
    page = Path(__file__).resolve().parents[1] / "ingest" / "pages" / "tuning" / "t10_page.html"
    data = json.loads(run("inspect", str(page), "--json").stdout)
    assert data["kind"] == "html" and data["document"]["title"] == "광주 AI 창업캠프 입주 기업 모집"
    assert any(d["reason"] == "outside the page's main content (trafilatura)" for d in data["dropped"])


def test_inspect_bad_input_is_one_line(tmp_path: Path) -> None:
    proc = run("inspect", str(tmp_path / "none.txt"))
    assert (proc.returncode, proc.stderr.strip()) == (2, f"error: no such file: {tmp_path / 'none.txt'}")
    bad = tmp_path / "bad.txt"
    bad.write_bytes("광주".encode("euc-kr"))
    proc = run("inspect", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {bad}: not UTF-8 text (invalid start byte at byte 0)"


def test_build_warns_once_per_skipped_file_and_goes_on(small_corpus: Path, tmp_path: Path) -> None:
    (small_corpus / "d.txt").write_bytes("광주 AI 소식입니다. 광주시는 예산을 늘렸다.".encode("euc-kr"))
    (small_corpus / "e.html").write_text("", encoding="utf-8")
    index = tmp_path / "idx"
    proc = run("build", "--corpus", str(small_corpus), "--index", str(index), "--embedder", "hash:32")
    assert proc.returncode == 0, proc.stderr
    assert f"built {index}: 3 documents, " in proc.stdout
    assert proc.stderr.strip().splitlines() == [
        f"warning: skipped {small_corpus / 'd.txt'}: not UTF-8 text (invalid start byte at byte 0)",
        f"warning: skipped {small_corpus / 'e.html'}: empty file",
    ]


def test_build_with_no_readable_article_fails_and_writes_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "x.txt").write_bytes(b"\x00\x01binary")
    index = tmp_path / "idx"
    proc = run("build", "--corpus", str(corpus), "--index", str(index), "--embedder", "hash:32")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"warning: skipped {corpus / 'x.txt'}: binary file, not a text or HTML article",
        f"error: no readable article in corpus directory {corpus} (1 file(s) skipped)",
    ]
    assert not index.exists() and list(tmp_path.iterdir()) == [corpus]
