"""Show an evaluation: a rich table for the terminal; report.md, results.json and a chart on disk."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.table import Table

from eval.relevance import DOCUMENT, PASSAGE
from eval.runner import EvalRun, ModeResult, QueryOutcome, summary_json
from index.store import LoadedIndex

REPORT_MD = "report.md"
RESULTS_JSON = "results.json"
CHART_PNG = "metrics.png"
WORST_PER_MODE = 10
TOP_SHOWN = 3
SNIPPET_CHARS = 160


@dataclass(frozen=True)
class ReportContext:
    """What the run was asked to do, for the report's settings section."""

    dataset_path: str
    command_line: str
    embedder: str
    tokenizer: str
    index: dict[str, Any]  # runner.index_summary()
    cache: str | None = None  # e.g. "reused var/eval-cache/…" for external datasets
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def unit_label(run: EvalRun) -> str:
    return {PASSAGE: "index passages (chunks)", DOCUMENT: "corpus entries (one passage each)"}[run.unit_kind]


def index_summary(index: LoadedIndex) -> dict[str, Any]:
    """The manifest facts a report shows about the index that was searched."""
    m = index.manifest
    return {
        "directory": str(Path(index.directory)),
        "embedder": m.embedder.model or m.embedder.spec,
        "tokenizer": m.tokenizer,
        "chunking": m.chunking.model_dump(),
        "title_context": m.title_context,
        "ann": m.ann.model_dump(),
        "documents": m.counts.documents,
        "chunks": m.counts.chunks,
        "corpus_hash": m.corpus.hash[:16],
        "created": m.created,
    }


# --------------------------------------------------------------------------- terminal


def results_table(run: EvalRun) -> Table:
    """Modes as rows, metrics as columns (then latency and the number of questions)."""
    return _table(run, _columns(run), title=True)


def results_tables(run: EvalRun, width: int) -> list[Table]:
    """The results table, split by columns into tables that each fit `width` (mode repeated)."""
    columns = _columns(run)
    if _width(_table(run, columns, title=True)) <= width:
        return [_table(run, columns, title=True)]
    groups: list[list[str]] = [[]]
    for column in columns:
        if groups[-1] and _width(_table(run, groups[-1] + [column], title=False)) > width:
            groups.append([])
        groups[-1].append(column)
    return [_table(run, group, title=i == 0) for i, group in enumerate(groups)]


def _columns(run: EvalRun) -> list[str]:
    return [*run.metric_names, "p50 ms", "p95 ms", "n"]


def _cell(mode: ModeResult, column: str) -> str:
    if column == "n":
        return str(len(mode.outcomes))
    if column.endswith(" ms"):
        return f"{mode.latency_ms[column.split()[0]]:.1f}"
    return f"{mode.metrics[column]:.3f}"


def _table(run: EvalRun, columns: list[str], title: bool) -> Table:
    caption = f"{run.dataset.name} ({run.dataset.format}, {len(run.dataset.queries)} questions)"
    table = Table(title=caption if title else None, title_justify="left")
    table.add_column("mode", style="bold", no_wrap=True)
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for mode in run.modes:
        table.add_row(mode.spec.name, *(_cell(mode, c) for c in columns))
    return table


def _width(table: Table) -> int:
    from rich.console import Console

    return Console(width=10_000).measure(table).maximum


# --------------------------------------------------------------------------- files


def write_report(run: EvalRun, directory: Path, context: ReportContext) -> list[Path]:
    """Write report.md, results.json and metrics.png into `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    md, results, chart = directory / REPORT_MD, directory / RESULTS_JSON, directory / CHART_PNG
    md.write_text(markdown(run, context), encoding="utf-8")
    results.write_text(_results_json(results_document(run)), encoding="utf-8")
    write_chart(run, chart)
    return [md, results, chart]


def markdown(run: EvalRun, context: ReportContext) -> str:
    ds = run.dataset
    lines = [
        f"# Retrieval evaluation: {ds.name}",
        "",
        f"{len(ds.queries)} questions, {ds.format} format, {context.created.strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        "## Results",
        "",
        *_markdown_table(run),
        "",
        f"Metrics are means over all questions; ranks are judged over {unit_label(run)}, "
        f"each question searched to depth {run.depth}. Latency is per question, in ms.",
        "",
        f"![metrics by mode]({CHART_PNG})",
        "",
        "## Settings",
        "",
        f"- command: `{context.command_line}`",
        f"- dataset: `{context.dataset_path}` ({ds.format}, content hash {ds.content_hash[:16]}, "
        f"{len(ds.queries)} questions" + (f", {len(ds.passages)} passages)" if ds.passages is not None else ")"),
        f"- embedder: `{context.embedder}`; tokenizer: `{context.tokenizer}`",
        *(f"- `{m.spec.name}`: {_mode_settings(m)}" for m in run.modes),
        f"- index: `{context.index.get('directory')}`: {context.index.get('documents')} documents, "
        f"{context.index.get('chunks')} passages, chunking {json.dumps(context.index.get('chunking'), ensure_ascii=False)}, "
        f"title context {context.index.get('title_context')}, embedder {context.index.get('embedder')}, "
        f"tokenizer {context.index.get('tokenizer')}, corpus hash {context.index.get('corpus_hash')}, "
        f"built {context.index.get('created')}",
        *([f"- cache: {context.cache}"] if context.cache else []),
        f"- wall time of the searches and scoring: {run.seconds:.1f} s",
        "",
        "## Relevance",
        "",
        _relevance_text(run),
        "",
    ]
    if run.unjudgeable:
        shown = ", ".join(run.unjudgeable[:10]) + (" …" if len(run.unjudgeable) > 10 else "")
        lines += [f"{len(run.unjudgeable)} questions have no relevant passage in the index and score 0: {shown}", ""]
    lines += ["## Worst questions", ""]
    for mode in run.modes:
        lines += _worst_section(run, mode)
    return "\n".join(lines).rstrip() + "\n"


def _markdown_table(run: EvalRun) -> list[str]:
    head = ["mode", *run.metric_names, "p50 ms", "p95 ms", "n"]
    rows = [
        [
            m.spec.name,
            *(f"{m.metrics[n]:.3f}" for n in run.metric_names),
            f"{m.latency_ms['p50']:.1f}",
            f"{m.latency_ms['p95']:.1f}",
            str(len(m.outcomes)),
        ]
        for m in run.modes
    ]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


def _mode_settings(mode: ModeResult) -> str:
    if mode.spec.search_mode != "hybrid":
        return f"{mode.spec.search_mode} only"
    f = mode.spec.fusion
    detail = f"bm25 weight {f.bm25_weight}" if f.method == "convex" else f"rrf k {f.rrf_k}"
    return f"hybrid, {f.method} fusion ({detail}, {f.candidates} candidates per retriever)"


def _relevance_text(run: EvalRun) -> str:
    if run.unit_kind == DOCUMENT:
        text = (
            "A retrieved passage is relevant when the dataset lists its id for the question "
            "(SQuAD/KorQuAD: the question's own paragraph; AutoRAG: retrieval_gt; BEIR: qrels score > 0). "
            "hit@k: a relevant passage is in the top k; recall@k: share of the listed ids in the top k."
        )
        if any(n.startswith("answer_hit@") for n in run.metric_names):
            text += " answer_hit@k: some top-k passage contains an answer text (NFKC, casefold, no whitespace)."
        return text
    return (
        "A retrieved passage (index chunk) is relevant when it contains one of the question's answers "
        "(NFKC, casefold, whitespace removed); a question without answers is judged by its doc_ids "
        "(any chunk of a listed document). hit@k: a relevant chunk is in the top k; recall@k: share of "
        "the question's relevant chunks in the top k. doc_hit@k: some top-k chunk comes from a listed document."
    )


def worst(mode: ModeResult, n: int = WORST_PER_MODE) -> list[QueryOutcome]:
    """Questions not answered at rank 1: no relevant passage first, then by rank, worst first."""
    missed = [o for o in mode.outcomes if o.first_relevant != 1]
    missed.sort(key=lambda o: (o.first_relevant is not None, -(o.first_relevant or 0)))
    return missed[:n]


def _worst_section(run: EvalRun, mode: ModeResult) -> list[str]:
    queries = {q.id: q for q in run.dataset.queries}
    missed = sum(o.first_relevant != 1 for o in mode.outcomes)
    chosen = worst(mode)
    lines = [f"### {mode.spec.name}", ""]
    if not chosen:
        return lines + ["Every question has a relevant passage at rank 1.", ""]
    lines += [f"{len(chosen)} worst of the {missed} questions without a relevant passage at rank 1.", ""]
    for o in chosen:
        q = queries[o.query_id]
        where = f"first relevant at rank {o.first_relevant}" if o.first_relevant else f"no relevant passage in the top {run.depth}"
        expected = ", ".join(f"«{a}»" for a in q.answers) or "—"
        lines += [
            f"- **{q.id}** {_one_line(q.question)} ({where})",
            f"  - expected: {expected}; relevant: {', '.join(f'`{r}`' for r in run.relevant[q.id][:5]) or '—'}",
        ]
        for p in o.passages[:TOP_SHOWN]:
            mark = " ✓" if p.relevant else ""
            shown = p.doc_id if run.unit_kind == DOCUMENT else p.chunk_id
            lines.append(f"  - [{p.rank}] `{shown}` ({p.score:.3f}){mark}: {_snippet(p.text)}")
    return lines + [""]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _snippet(text: str, n: int = SNIPPET_CHARS) -> str:
    flat = _one_line(text)
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def results_document(run: EvalRun) -> dict[str, Any]:
    """Per question and mode: ranks, latency, the ranked ids and the top passages (ids, scores)."""
    ds = run.dataset
    by_mode = {m.spec.name: {o.query_id: o for o in m.outcomes} for m in run.modes}
    queries = []
    for q in ds.queries:
        modes = {}
        for name, outcomes in by_mode.items():
            o = outcomes[q.id]
            modes[name] = {
                "first_relevant_rank": o.first_relevant,
                "first_answer_rank": o.first_answer,
                "first_doc_rank": o.first_doc,
                "latency_ms": round(o.latency_ms, 2),
                "ranked": list(o.ranked),
                "top": [
                    {
                        "rank": p.rank,
                        "doc_id": p.doc_id,
                        "chunk_id": p.chunk_id,
                        "score": round(p.score, 5),
                        "relevant": p.relevant,
                    }
                    for p in o.passages[:TOP_SHOWN]
                ],
            }
        queries.append(
            {"id": q.id, "question": q.question, "answers": list(q.answers), "relevant": list(run.relevant[q.id]), "modes": modes}
        )
    return {
        "summary": summary_json(run),
        "ks": list(run.ks),
        "depth": run.depth,
        "unit": run.unit_kind,
        "queries": queries,
    }


def _results_json(doc: dict[str, Any]) -> str:
    """Indented header, then one line per question (large datasets stay a few MB and greppable)."""
    head = json.dumps({**doc, "queries": []}, ensure_ascii=False, indent=1)
    body = ",\n".join("  " + json.dumps(q, ensure_ascii=False) for q in doc["queries"])
    return head[: head.rindex("[]")] + "[\n" + body + "\n ]\n}\n"


def write_chart(run: EvalRun, path: Path) -> None:
    """Grouped bars: one group per metric, one bar per mode (ASCII labels only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(run.metric_names)
    n_modes = len(run.modes)
    width = 0.8 / n_modes
    fig, ax = plt.subplots(figsize=(min(16.0, max(6.0, 1.0 + len(names) * (0.3 + 0.22 * n_modes))), 5.0))
    try:
        for i, mode in enumerate(run.modes):
            xs = [x + (i - (n_modes - 1) / 2) * width for x in range(len(names))]
            ax.bar(xs, [mode.metrics[n] for n in names], width, label=_ascii(mode.spec.name))
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([_ascii(n) for n in names], rotation=30, ha="right")
        ax.set_ylim(0, 1.15)
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.set_ylabel("score")
        ax.set_title(_ascii(f"{run.dataset.name} ({run.dataset.format}, {len(run.dataset.queries)} questions)"))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper center", ncol=n_modes, fontsize="small", frameon=False)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")
