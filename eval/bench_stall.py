"""Stalls under long questions, on loopback: what one long question costs, whether /healthz waits
behind the model, and whether 16 clients see errors.

    python -m eval.bench_stall [--chars 2000] [--seconds 10] [--load-seconds 30] [--url http://127.0.0.1:8000/]

Without --url it starts `aihub-qa serve` on a free loopback port in a subprocess (as
eval/bench_http.py does) and stops it at the end. Three measurements, printed as tables:

1. the latency of a question of --chars characters (unique text, so no cache answers), sequentially;
2. /healthz latency (p50, p95, max) polled every 50 ms while four such questions run at once, all
   the time, for --seconds;
3. 16 clients asking ordinary seed questions for --load-seconds: requests, errors, percentiles.

Not a unit test: the figures depend on the machine and its neighbours.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from contextlib import nullcontext

import httpx
from rich.console import Console
from rich.table import Table

from eval.bench_http import Questions, require_loopback, run_level, started_server
from index.search import MODES

console = Console(highlight=False)
LONG_CLIENTS = 4
HEALTH_EVERY = 0.05


def long_question(chars: int, n: int) -> str:
    """A question of exactly `chars` characters made of seed questions, unique by `n`."""
    questions = Questions(cached=True)
    text = f"{n} "
    while len(text) < chars:
        text += questions.next() + " "
    return text[:chars]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def time_long_questions(url: str, chars: int, runs: int, mode: str) -> list[float]:
    timings = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for n in range(runs):
            started = time.perf_counter()
            response = client.post("/api/ask", json={"question": long_question(chars, 10_000 + n), "mode": mode})
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return timings


def health_under_long_questions(url: str, chars: int, seconds: float, mode: str) -> tuple[list[float], int, int]:
    """/healthz latencies (ms) while LONG_CLIENTS clients ask long questions back to back; (latencies, asks, errors)."""
    stop = threading.Event()
    counts = {"asks": 0, "errors": 0}
    lock = threading.Lock()

    def asker(worker: int) -> None:
        n = 0
        with httpx.Client(base_url=url, timeout=120) as client:
            while not stop.is_set():
                n += 1
                try:
                    ok = client.post("/api/ask", json={"question": long_question(chars, worker * 100_000 + n), "mode": mode}).is_success
                except httpx.HTTPError:
                    ok = False
                with lock:
                    counts["asks"] += 1
                    counts["errors"] += not ok

    threads = [threading.Thread(target=asker, args=(i + 1,), daemon=True) for i in range(LONG_CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # the four questions are being computed
    latencies = []
    with httpx.Client(base_url=url, timeout=60) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            client.get("/healthz").raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(HEALTH_EVERY)
    stop.set()
    for thread in threads:
        thread.join()
    return latencies, counts["asks"], counts["errors"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="Benchmark a running server (loopback only) instead of starting one.")
    parser.add_argument("--chars", type=int, default=2000, help="Length of the long question (default 2000).")
    parser.add_argument("--runs", type=int, default=5, help="Sequential long questions timed (default 5).")
    parser.add_argument("--seconds", type=float, default=10.0, help="Polling /healthz under load (default 10).")
    parser.add_argument("--load-seconds", type=float, default=30.0, help="16 clients for this long (default 30).")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--mode", default=MODES[0], choices=MODES)
    parser.add_argument("--index", help="Index directory (default: $AIHUB_QA_INDEX_DIR or var/index).")
    parser.add_argument("--embedder", help="Embedder spec (default: $AIHUB_QA_EMBEDDER or the default engine).")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = parse_args(argv)
    if args.url:
        require_loopback(args.url)
    server = nullcontext(args.url.rstrip("/") + "/") if args.url else started_server(args)
    with server as url:
        console.print(f"{args.runs} questions of {args.chars} characters, one at a time …", style="dim")
        long_ms = time_long_questions(url, args.chars, args.runs, args.mode)
        console.print(f"/healthz every {HEALTH_EVERY * 1000:.0f} ms for {args.seconds:g} s under {LONG_CLIENTS} long questions …", style="dim")
        health_ms, asks, ask_errors = health_under_long_questions(url, args.chars, args.seconds, args.mode)
        console.print(f"{args.clients} clients for {args.load_seconds:g} s …", style="dim")
        load = run_level(url, args.clients, args.load_seconds, 100_000, Questions(cached=False), 5, args.mode)

    table = Table(title=f"Stalls on {url} (mode {args.mode})")
    for name in ("measurement", "n", "p50 ms", "p95 ms", "max ms", "errors"):
        table.add_column(name, justify="right")
    table.add_row(f"{args.chars}-char question, alone", str(len(long_ms)), f"{statistics.median(long_ms):.0f}",
                  f"{percentile(long_ms, 95):.0f}", f"{max(long_ms):.0f}", "0")
    table.add_row(f"/healthz under {LONG_CLIENTS} long questions", str(len(health_ms)), f"{percentile(health_ms, 50):.1f}",
                  f"{percentile(health_ms, 95):.1f}", f"{max(health_ms):.1f}", "0")
    table.add_row(f"  (the {LONG_CLIENTS} long-question clients)", str(asks), "", "", "", str(ask_errors))
    table.add_row(f"{args.clients} clients × {args.load_seconds:g} s", str(load.requests), f"{load.percentile(50):.0f}",
                  f"{load.percentile(95):.0f}", f"{max(load.latencies_ms, default=0):.0f}", str(load.errors))
    console.print(table)
    if load.errors or ask_errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
