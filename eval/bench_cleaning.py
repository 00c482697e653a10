"""How well ingest cleans pages it was not written for: body kept, furniture dropped, metadata right.

Each test page under tests/ingest/pages/<set>/ (a .txt dump or a saved .html page) has a
<name>.expect.json with the body sentences that must survive, the furniture lines that must go,
and the title, published date, author and outlet. The `tuning` set was used while writing the
cleaner; the `heldout` set never was. Each set is read as one corpus (so lines repeated across
its pages count as site chrome, as in a user's corpus).

    python -m eval.bench_cleaning [--pages tests/ingest/pages] [--set tuning|heldout] [--details] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.reader import parse_corpus

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PAGES = ROOT / "tests" / "ingest" / "pages"
SETS = ("tuning", "heldout")
META_FIELDS = ("title", "published", "author")
SHORT_FURNITURE = 6  # a furniture string shorter than this only counts as kept when it is a whole line


@dataclass
class PageResult:
    page: str
    body_kept: int
    body_total: int
    furniture_dropped: int
    furniture_total: int
    meta_correct: dict[str, bool]
    source_correct: bool
    failures: list[str] = field(default_factory=list)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def furniture_kept(furniture: str, text: str) -> bool:
    lines = [line.strip() for line in text.split("\n")]
    return furniture in lines or (len(furniture) >= SHORT_FURNITURE and furniture in text)


def score_page(name: str, expect: dict, doc) -> PageResult:
    text = doc.text
    flat = _squash(text)
    failures: list[str] = []
    body_kept = 0
    for sentence in expect["body"]:
        if _squash(sentence) in flat:
            body_kept += 1
        else:
            failures.append(f"body lost: {sentence}")
    dropped = 0
    for junk in expect["furniture"]:
        if furniture_kept(junk, text):
            failures.append(f"furniture kept: {junk}")
        else:
            dropped += 1
    got = {"title": doc.title, "published": doc.published, "author": doc.author}
    correct = {f: got[f] == expect[f] for f in META_FIELDS}
    for f in META_FIELDS:
        if not correct[f]:
            failures.append(f"{f}: got {got[f]!r}, expected {expect[f]!r}")
    source_ok = (doc.source or None) == expect.get("source")
    if not source_ok:
        failures.append(f"source: got {doc.source!r}, expected {expect.get('source')!r}")
    return PageResult(name, body_kept, len(expect["body"]), dropped, len(expect["furniture"]), correct, source_ok, failures)


def run_set(directory: Path) -> list[PageResult]:
    parsed = parse_corpus(directory, on_skip=lambda path, reason: print(f"skipped {path}: {reason}", file=sys.stderr))
    results = []
    for path, item in sorted(parsed.items()):
        expect = json.loads(path.with_suffix(".expect.json").read_text(encoding="utf-8"))
        results.append(score_page(path.name, expect, item.document))
    return results


def summarize(results: list[PageResult]) -> dict[str, float | int]:
    body = sum(r.body_kept for r in results) / max(1, sum(r.body_total for r in results))
    furniture = sum(r.furniture_dropped for r in results) / max(1, sum(r.furniture_total for r in results))
    meta = sum(sum(r.meta_correct.values()) for r in results) / max(1, len(META_FIELDS) * len(results))
    out: dict[str, float | int] = {"pages": len(results), "body_kept": body, "furniture_dropped": furniture, "title_date_author": meta}
    for f in META_FIELDS:
        out[f] = sum(r.meta_correct[f] for r in results) / max(1, len(results))
    out["source"] = sum(r.source_correct for r in results) / max(1, len(results))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES, help="folder holding the page sets")
    parser.add_argument("--details", action="store_true", help="list every failure per page")
    parser.add_argument("--set", choices=SETS, action="append", help="only this set (repeatable; default: both)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    report = {}
    details = {}
    for name in args.set or SETS:
        directory = args.pages / name
        if directory.is_dir():
            results = run_set(directory)
            report[name] = summarize(results)
            details[name] = [asdict(r) for r in results]
    if args.json:
        print(json.dumps({"summary": report, "pages": details} if args.details else report, ensure_ascii=False, indent=2))
        return 0
    print("| set | pages | body sentences kept | furniture lines dropped | title/date/author correct | title | date | author | outlet |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, s in report.items():
        print(
            f"| {name} | {s['pages']} | {s['body_kept']:.1%} | {s['furniture_dropped']:.1%} | {s['title_date_author']:.1%} "
            f"| {s['title']:.0%} | {s['published']:.0%} | {s['author']:.0%} | {s['source']:.0%} |"
        )
    if args.details:
        for name, pages in details.items():
            for page in pages:
                for failure in page["failures"]:
                    print(f"{name}/{page['page']}: {failure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
