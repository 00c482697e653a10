"""Chunk-record storage at scale: jsonl (today) vs SQLite vs Arrow IPC (memory-mapped) vs Parquet.

    python -m eval.bench_records [--chunks 1000000] [--chunks-per-doc 5] [--dir var/bench-records]

Writes N chunk records (id, doc_id, seq, start, end, content_hash) and their documents (metadata
and text; a chunk's text is a slice of its document's text, stored once) in each format, then, in
a fresh process per format: load time, RSS after load (anonymous and file-backed), and the p50 / p95
of fetching 50 random rows with their text (the passages fusion and citations need per query).
The jsonl variant is today's layout: chunks.jsonl repeats each chunk's text, documents.jsonl the
articles, and everything is parsed into dataclasses at load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("jsonl", "sqlite", "sqlite-mmap", "arrow", "parquet")
FETCH_ROWS = 50
FETCHES = 200
CHUNK_CHARS = 450  # a 256-token chunk of Korean news is ~300-550 characters
OVERLAP_CHARS = 80


def _korean_text(rng: random.Random, chars: int, pool: list[str]) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        sentence = pool[rng.randrange(len(pool))]
        out.append(sentence)
        size += len(sentence) + 1
    return " ".join(out)[:chars]


def _sentence_pool() -> list[str]:
    from eval.synthetic import CORPUS, split_sentences
    from ingest.reader import read_corpus

    return [s for doc in read_corpus(CORPUS) for s in split_sentences(doc.text)]


def records(chunks: int, per_doc: int, seed: int = 7) -> Iterator[tuple[dict, list[dict]]]:
    """(document, its chunks) pairs; chunk text = document text[start:end]."""
    rng = random.Random(seed)
    pool = _sentence_pool()
    step = CHUNK_CHARS - OVERLAP_CHARS
    made = 0
    d = 0
    while made < chunks:
        n = min(per_doc, chunks - made)
        text = _korean_text(rng, step * (n - 1) + CHUNK_CHARS, pool)
        doc_id = f"d{d:07d}"
        doc = {"id": doc_id, "title": f"기사 {d}", "source": "광주일보", "published": "2024-01-01",
               "author": "기자", "url": f"https://example.org/{d}", "text": text}
        rows = []
        for seq in range(n):
            start = seq * step
            end = min(start + CHUNK_CHARS, len(text))
            rows.append({"id": f"{doc_id}#{seq:04d}", "doc_id": doc_id, "seq": seq, "start": start, "end": end,
                         "content_hash": f"{hash((d, seq)) & 0xFFFFFFFFFFFFFFFF:016x}"})
        made += n
        d += 1
        yield doc, rows


def write_all(directory: Path, chunks: int, per_doc: int) -> None:
    import sqlite3

    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    docs_cols: dict[str, list] = {k: [] for k in ("id", "title", "source", "published", "author", "url", "text")}
    chunk_cols: dict[str, list] = {k: [] for k in ("id", "doc_row", "seq", "start", "end", "content_hash")}
    db_path = directory / "records.sqlite"
    db_path.unlink(missing_ok=True)
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE documents (row INTEGER PRIMARY KEY, id TEXT UNIQUE, title TEXT, source TEXT, "
               "published TEXT, author TEXT, url TEXT, text TEXT)")
    db.execute('CREATE TABLE chunks (row INTEGER PRIMARY KEY, id TEXT, doc_row INTEGER, seq INTEGER, '
               '"start" INTEGER, "end" INTEGER, content_hash TEXT)')
    with (directory / "chunks.jsonl").open("w", encoding="utf-8") as cf, \
            (directory / "documents.jsonl").open("w", encoding="utf-8") as df:
        for d, (doc, rows) in enumerate(records(chunks, per_doc)):
            df.write(json.dumps(doc, ensure_ascii=False) + "\n")
            db.execute("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?)", (d, *doc.values()))
            for k in docs_cols:
                docs_cols[k].append(doc[k])
            for r in rows:
                cf.write(json.dumps({**r, "text": doc["text"][r["start"] : r["end"]]}, ensure_ascii=False) + "\n")
                chunk_cols["id"].append(r["id"])
                chunk_cols["doc_row"].append(d)
                for k in ("seq", "start", "end", "content_hash"):
                    chunk_cols[k].append(r[k])
            db.executemany("INSERT INTO chunks VALUES (NULL,?,?,?,?,?,?)",
                           [(r["id"], d, r["seq"], r["start"], r["end"], r["content_hash"]) for r in rows])
    db.commit()
    db.close()
    docs = pa.table(docs_cols)
    chunk_table = pa.table({**chunk_cols, "doc_row": pa.array(chunk_cols["doc_row"], pa.int32()),
                            "seq": pa.array(chunk_cols["seq"], pa.int32()),
                            "start": pa.array(chunk_cols["start"], pa.int32()),
                            "end": pa.array(chunk_cols["end"], pa.int32())})
    for name, table in (("documents", docs), ("chunks", chunk_table)):
        with pa.OSFile(str(directory / f"{name}.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=65536)
        pq.write_table(table, directory / f"{name}.parquet", compression="zstd")


def _rss() -> tuple[float, float]:
    """(RSS MB, anonymous RSS MB) of this process."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["RssAnon"].split()[0]) / 1024


def measure(fmt: str, directory: Path, seed: int = 11) -> dict:
    """Run in a fresh process: load one format, then fetch random rows with text.
    Libraries are imported before the baseline (a service imports them at start anyway)."""
    import sqlite3

    import pyarrow as pa
    import pyarrow.parquet as pq

    from ingest.documents import Chunk, Document

    base_rss, base_anon = _rss()
    started = time.perf_counter()
    if fmt == "jsonl":
        chunks = [Chunk(**json.loads(line)) for line in (directory / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
        documents = {d.id: d for d in (Document(**json.loads(line)) for line in
                                       (directory / "documents.jsonl").read_text(encoding="utf-8").splitlines())}
        n = len(chunks)

        def fetch(rows: list[int]) -> list[tuple[str, str]]:
            return [(chunks[r].text, documents[chunks[r].doc_id].title) for r in rows]
    elif fmt in ("sqlite", "sqlite-mmap"):
        db = sqlite3.connect(f"file:{directory / 'records.sqlite'}?mode=ro", uri=True, check_same_thread=False)
        if fmt == "sqlite-mmap":  # SQLite reads pages through a memory map instead of read() calls
            db.execute(f"PRAGMA mmap_size = {1 << 34}")
        n = db.execute("SELECT max(row) FROM chunks").fetchone()[0]
        sql = ('SELECT c.row, substr(d.text, c."start" + 1, c."end" - c."start"), d.title FROM chunks c '
               "JOIN documents d ON d.row = c.doc_row WHERE c.row IN ({})")

        def fetch(rows: list[int]) -> list[tuple[str, str]]:
            got = {r: (t, title) for r, t, title in db.execute(sql.format(",".join("?" * len(rows))), [r + 1 for r in rows])}
            return [got[r + 1] for r in rows]
    else:
        if fmt == "arrow":
            chunks_t = pa.ipc.open_file(pa.memory_map(str(directory / "chunks.arrow"))).read_all()
            docs_t = pa.ipc.open_file(pa.memory_map(str(directory / "documents.arrow"))).read_all()
        else:
            chunks_t = pq.read_table(directory / "chunks.parquet", memory_map=True)
            docs_t = pq.read_table(directory / "documents.parquet", memory_map=True)
        n = chunks_t.num_rows
        # Table.take on a chunked column concatenates its chunks first (a copy of the column per
        # call); rows are read from their own record batch instead, which copies nothing.
        chunk_cols = {name: chunks_t.column(name) for name in ("doc_row", "start", "end")}
        doc_cols = {name: docs_t.column(name) for name in ("text", "title")}

        def _locator(column: Any) -> tuple[np.ndarray, list[Any]]:
            return np.cumsum([0] + [len(c) for c in column.chunks]), column.chunks

        locate = {name: _locator(col) for name, col in {**chunk_cols, **doc_cols}.items()}

        def value(name: str, row: int) -> Any:
            starts, chunks = locate[name]
            b = int(np.searchsorted(starts, row, side="right")) - 1
            return chunks[b][row - int(starts[b])].as_py()

        def fetch(rows: list[int]) -> list[tuple[str, str]]:
            out = []
            for r in rows:
                d = value("doc_row", r)
                out.append((value("text", d)[value("start", r) : value("end", r)], value("title", d)))
            return out
    load_s = time.perf_counter() - started
    rss, anon = _rss()
    rng = random.Random(seed)
    times, cpu = [], []
    for _ in range(FETCHES):
        rows = [rng.randrange(n) for _ in range(FETCH_ROWS)]
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = fetch(rows)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        if len(out) != FETCH_ROWS or not all(text for text, _ in out):
            raise RuntimeError(f"{fmt}: a fetch returned {len(out)} rows or an empty text")
    times.sort()
    cpu.sort()
    rss_after, anon_after = _rss()
    return {"format": fmt, "rows": n, "load_s": round(load_s, 2), "rss_mb": round(rss - base_rss), "anon_mb": round(anon - base_anon),
            "rss_after_fetch_mb": round(rss_after - base_rss), "fetch50_p50_ms": round(times[len(times) // 2], 2),
            "fetch50_p95_ms": round(times[int(len(times) * 0.95)], 2),
            "fetch50_cpu_p50_ms": round(cpu[len(cpu) // 2], 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def disk_mb(directory: Path, fmt: str) -> float:
    names = {"jsonl": ["chunks.jsonl", "documents.jsonl"], "sqlite": ["records.sqlite"], "sqlite-mmap": ["records.sqlite"],
             "arrow": ["chunks.arrow", "documents.arrow"], "parquet": ["chunks.parquet", "documents.parquet"]}[fmt]
    return sum((directory / n).stat().st_size for n in names) / 2**20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--chunks-per-doc", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench-records")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--reuse", action="store_true", help="measure files written by an earlier run")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: child process measuring one format
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.dir)))
        return
    if not args.reuse:
        started = time.perf_counter()
        print(f"writing {args.chunks:,} chunk records to {args.dir}", file=sys.stderr, flush=True)
        write_all(args.dir, args.chunks, args.chunks_per_doc)
        print(f"written in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    rows = []
    for fmt in args.formats.split(","):
        out = subprocess.run([sys.executable, "-m", "eval.bench_records", "--dir", str(args.dir), "--measure", fmt],
                             capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["disk_mb"] = round(disk_mb(args.dir, fmt))
        print(f"{fmt}: {row}", file=sys.stderr, flush=True)
        rows.append(row)
    print("| format | load s | RSS after load MB (anon) | fetch 50 rows p50 / p95 ms | CPU p50 ms | RSS after fetches MB | disk MB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['format']} | {r['load_s']} | {r['rss_mb']} ({r['anon_mb']}) | {r['fetch50_p50_ms']} / {r['fetch50_p95_ms']} | "
              f"{r['fetch50_cpu_p50_ms']} | {r['rss_after_fetch_mb']} | {r['disk_mb']} |")


if __name__ == "__main__":
    main()
