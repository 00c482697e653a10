"""Load test of `POST /api/ask` on loopback: latency percentiles and throughput at 1, 4 and 16 clients.

    python -m eval.bench_http [--seconds 30] [--clients 1,4,16] [--pairs 300 --block 20] [--url http://127.0.0.1:8000/]

Without --url it starts `aihub-qa serve` on a free loopback port in a subprocess (so the load
generator and the server do not share a GIL) and stops it at the end. It only ever talks to
loopback addresses. Each level runs for --seconds or --max-requests, whichever comes first.
Questions come from eval/data/seed_qa.jsonl; unless --cached, each request gets a unique suffix
so the query-vector cache never answers for the model (the worst case). It also times, in this
process on the same kind of questions, Searcher.search and the question's embedding alone
(`embed_query`, interleaved with the searches, before and after the load), and reports the
1-client HTTP p50 as a multiple of that embedding median: the share of a request that is not the
model. Last, --pairs requests alternate with as many embeddings in this process (in blocks of
--block), so that the two are timed side by side under the same neighbours (a shared machine
moves both by 10% within minutes): the steadier form of that multiple. Not a unit test.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.table import Table

from index.search import MODES
from ingest.errors import AihubQaError

SEED = Path(__file__).parent / "data" / "seed_qa.jsonl"
URL_LINE = re.compile(r"serving \d+ passages on (http://\S+/) ")
console = Console(highlight=False)


@dataclass(frozen=True)
class LevelResult:
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def seed_questions() -> list[str]:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


class Questions:
    """Thread-safe endless supply of questions (unique unless `cached`)."""

    def __init__(self, cached: bool) -> None:
        self.base = seed_questions()
        self.cached = cached
        self.n = 0
        self.lock = threading.Lock()

    def next(self) -> str:
        with self.lock:
            self.n += 1
            n = self.n
        question = self.base[n % len(self.base)]
        return question if self.cached else f"{question} {n}"


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        sys.exit(f"error: --url must point at this machine's loopback (127.0.0.0/8, ::1, localhost), got {url!r}")


@contextmanager
def started_server(args: argparse.Namespace) -> Iterator[str]:
    """`aihub-qa serve --port 0` in a subprocess; yields its URL once /readyz answers."""
    command = [sys.executable, "-c", "from service.cli import main; main()", "serve", "--host", "127.0.0.1", "--port", "0"]
    if args.index:
        command += ["--index", args.index]
    if args.embedder:
        command += ["--embedder", args.embedder]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=os.environ.copy())
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = URL_LINE.search(line)
        if not match:
            sys.exit(f"error: the server did not start (exit code {process.wait(timeout=30)}); run aihub-qa serve to see why")
        url = match.group(1)
        # Keep reading the server's stdout (its access log), or a full pipe would block it.
        threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
        deadline = time.monotonic() + 120
        while httpx.get(url + "readyz", timeout=10).status_code != 200:
            if time.monotonic() > deadline:
                sys.exit("error: the server did not become ready within 120 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _drain(stream: IO[str]) -> None:
    for _ in stream:
        pass


def timed_ask(client: httpx.Client, question: str, k: int, mode: str) -> tuple[bool, float]:
    """One POST /api/ask: whether it answered 200, and its time in ms."""
    started = time.perf_counter()
    ok = client.post("/api/ask", json={"question": question, "k": k, "mode": mode}).status_code == 200
    return ok, (time.perf_counter() - started) * 1000


def timed_ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def run_level(url: str, clients: int, seconds: float, max_requests: int, questions: Questions, k: int, mode: str) -> LevelResult:
    latencies: list[float] = []
    errors = 0
    issued = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client_loop() -> None:
        nonlocal errors, issued
        with httpx.Client(base_url=url, timeout=60) as client:
            while time.monotonic() < stop_at:
                with lock:
                    if issued >= max_requests:
                        return
                    issued += 1
                try:
                    ok, elapsed = timed_ask(client, questions.next(), k, mode)
                except httpx.HTTPError:
                    ok, elapsed = False, 0.0
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors += 1

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LevelResult(clients, len(latencies) + errors, errors, time.monotonic() - began, latencies)


@dataclass
class InProcess:
    """Timings in this process (no HTTP), same settings and kind of questions as the load."""

    searcher: Any
    search_ms: list[float] = field(default_factory=list)  # Searcher.search
    embed_ms: list[float] = field(default_factory=list)  # embedder.embed_query alone
    paired_http_ms: list[float] = field(default_factory=list)  # POST /api/ask, alternating with ...
    paired_embed_ms: list[float] = field(default_factory=list)  # ... embed_query here (see paired)

    def measure(self, questions: Questions, runs: int, k: int, mode: str) -> None:
        """`runs` searches and `runs` question embeddings, interleaved (each on its own question)."""
        embed, search = self.searcher.embedder.embed_query, self.searcher.search
        for _ in range(runs):
            self.embed_ms.append(timed_ms(partial(embed, questions.next())))
            self.search_ms.append(timed_ms(partial(search, questions.next(), k=k, mode=mode)))

    def paired(self, url: str, questions: Questions, pairs: int, k: int, mode: str, block: int) -> None:
        """`pairs` requests over HTTP (one client) and `pairs` embed_query calls here, each on its
        own question, alternating in blocks of `block`: the two are timed side by side, under the
        same neighbours, with the server idle while this process embeds. (Alternating one by one
        times each side right after the other's model pass, its data gone from the caches.)"""
        with httpx.Client(base_url=url, timeout=60) as client:
            for done in range(0, pairs, block):
                for _ in range(min(block, pairs - done)):
                    question = questions.next()
                    ok, elapsed = timed_ask(client, question, k, mode)
                    if not ok:
                        raise AihubQaError(f"POST /api/ask answered an error during the paired run: {question!r}")
                    self.paired_http_ms.append(elapsed)
                for _ in range(min(block, pairs - done)):
                    self.paired_embed_ms.append(timed_ms(partial(self.searcher.embedder.embed_query, questions.next())))

    @staticmethod
    def p95(timings: list[float]) -> float:
        ordered = sorted(timings)
        return ordered[round(0.95 * (len(ordered) - 1))] if ordered else float("nan")


def open_in_process(args: argparse.Namespace) -> InProcess:
    from service import runtime
    from service.settings import settings_with

    searcher = runtime.open_searcher(settings_with(index_dir=args.index, embedder=args.embedder))
    searcher.search("광주 인공지능 중심도시", k=args.k, mode=args.mode)  # warm-up
    return InProcess(searcher)


def report(results: list[LevelResult], in_process: InProcess, args: argparse.Namespace, url: str) -> None:
    questions = "cached" if args.cached else "unique"
    table = Table(title=f"POST /api/ask on {url} — mode {args.mode}, k {args.k}, {questions} questions")
    for name in ("clients", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(name, justify="right")
    for r in results:
        table.add_row(
            str(r.clients), str(r.requests), str(r.errors), f"{r.rps:.1f}",
            f"{r.percentile(50):.1f}", f"{r.percentile(95):.1f}", f"{r.percentile(99):.1f}",
        )
    console.print(table)
    search, embed = in_process.search_ms, in_process.embed_ms
    console.print(
        f"in-process Searcher.search: median {statistics.median(search):.1f} ms, p95 {in_process.p95(search):.1f} ms; "
        f"question embedding alone (embed_query): median {statistics.median(embed):.1f} ms, "
        f"p95 {in_process.p95(embed):.1f} ms ({len(search)} runs each, interleaved, before and after the load)"
    )
    single = next((r for r in results if r.clients == 1 and r.latencies_ms), None)
    if single is not None and not args.cached:
        console.print(
            f"HTTP 1-client p50 / question embedding median: {single.percentile(50):.1f} / "
            f"{statistics.median(embed):.1f} ms = {single.percentile(50) / statistics.median(embed):.2f}×"
        )
    if in_process.paired_http_ms:
        http, alone = statistics.median(in_process.paired_http_ms), statistics.median(in_process.paired_embed_ms)
        console.print(
            f"side by side ({len(in_process.paired_http_ms)} requests over HTTP and as many embed_query "
            f"here, alternating in blocks of {args.block}): p50 {http:.1f} / {alone:.1f} ms = {http / alone:.2f}×"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="Benchmark a running server (loopback only) instead of starting one.")
    parser.add_argument("--seconds", type=float, default=30.0, help="Duration of each concurrency level (default 30).")
    parser.add_argument("--clients", default="1,4,16", help="Concurrency levels, comma-separated (default 1,4,16).")
    parser.add_argument("--max-requests", type=int, default=5000, help="Request cap per level (default 5000).")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--mode", default=MODES[0], choices=MODES)
    parser.add_argument("--cached", action="store_true", help="Repeat the seed questions (query-vector cache hits).")
    parser.add_argument("--index", help="Index directory (default: $AIHUB_QA_INDEX_DIR or var/index).")
    parser.add_argument("--embedder", help="Embedder spec (default: $AIHUB_QA_EMBEDDER or the default engine).")
    parser.add_argument("--in-process-runs", type=int, default=50)
    parser.add_argument("--block", type=int, default=20, help="--pairs alternate in blocks of this many (default 20).")
    parser.add_argument(
        "--pairs", type=int, default=300,
        help="Requests timed side by side with as many embeddings in this process, alternating (default 300; 0: none).",
    )
    args = parser.parse_args(argv)
    try:
        args.levels = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--clients must be comma-separated integers, got {args.clients!r}")
    if not args.levels or min(args.levels) < 1 or args.seconds <= 0 or args.max_requests < 1:
        parser.error("--clients, --seconds and --max-requests must be positive")
    if args.pairs < 0 or args.block < 1:
        parser.error("--pairs must not be negative, --block must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    # The server runs with the CLI's OpenMP setting; measure the in-process baseline with the same one.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = parse_args(argv)
    questions = Questions(args.cached)
    if args.url:
        require_loopback(args.url)
    server = nullcontext(args.url.rstrip("/") + "/") if args.url else started_server(args)
    with server as url:  # the server builds the index first if it is missing
        try:
            in_process = open_in_process(args)
        except AihubQaError as exc:
            sys.exit(f"error: {exc}")
        half = max(1, args.in_process_runs // 2)
        in_process.measure(questions, half, args.k, args.mode)
        results = []
        for clients in args.levels:
            console.print(f"{clients} client(s) for {args.seconds:g} s …", style="dim")
            results.append(run_level(url, clients, args.seconds, args.max_requests, questions, args.k, args.mode))
        in_process.measure(questions, max(1, args.in_process_runs - half), args.k, args.mode)
        if not args.cached and args.pairs:
            console.print(f"{args.pairs} requests alternating with embeddings …", style="dim")
            try:
                in_process.paired(url, questions, args.pairs, args.k, args.mode, args.block)
            except (AihubQaError, httpx.HTTPError) as exc:
                sys.exit(f"error: {exc}")
    report(results, in_process, args, url)


if __name__ == "__main__":
    main()
