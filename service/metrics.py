"""Prometheus metrics of one app, in its own registry (several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from index.search import Searcher

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
NO_MODE = "none"  # the mode label of requests that are not searches (or failed before choosing one)
# The method label takes one of these or OTHER_METHOD: any string a client sends must not make a series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else OTHER_METHOD


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "aihub_qa_http_requests",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aihub_qa_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and search mode.",
            ["route", "mode"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.searches_skipped = Counter(
            "aihub_qa_searches_skipped",
            "Searches not computed because the client hung up while waiting for its turn.",
            registry=self.registry,
        )
        self.index_documents = Gauge("aihub_qa_index_documents", "Documents in the loaded index.", registry=self.registry)
        self.index_chunks = Gauge("aihub_qa_index_chunks", "Passages (chunks) in the loaded index.", registry=self.registry)
        self.ready = Gauge("aihub_qa_ready", "1 once the index is loaded and the model warm.", registry=self.registry)

    def observe(self, route: str, method: str, status: int, mode: str | None, seconds: float) -> None:
        self.requests.labels(route, method_label(method), str(status)).inc()
        self.latency.labels(route, mode or NO_MODE).observe(seconds)

    def index_loaded(self, searcher: Searcher) -> None:
        self.index_documents.set(searcher.index.records.n_documents)
        self.index_chunks.set(searcher.size)
        self.ready.set(1)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
