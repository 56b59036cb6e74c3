"""Every section of the comparison report, in render order (``SECTIONS``).

Each ``ReportSection`` (``report_section``) computes the ``report.json`` entries it owns from the runs, then
renders its markdown lines, figures and "What this run shows" sentences from the numbers alone. Adding a
section is one entry in ``SECTIONS`` (and, when it has sentences that belong in the middle of "What this run
shows", its name in ``FINDINGS_ORDER``; otherwise they come last). docs/study.md, "Reading the report",
explains each section.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_bench.analysis.boundary_sections import BOUNDARY_SECTION, TRAINING_CURVES_SECTION
from rlvr_bench.analysis.breakdown import (
    ALL_SOURCES,
    FORMAT_REASONS,
    count_failures,
    failure_columns,
    source_kind,
)
from rlvr_bench.analysis.diversity_sections import DIVERSITY_SECTION
from rlvr_bench.analysis.env_diff import ENVIRONMENT_SECTION
from rlvr_bench.analysis.findings import (
    coverage_findings,
    family_findings,
    pairwise_findings,
    pass_findings,
    perplexity_findings,
    progress_findings,
)
from rlvr_bench.analysis.length_sections import LENGTH_SECTION
from rlvr_bench.analysis.power_sections import POWER_SECTION
from rlvr_bench.analysis.report_section import ReportContext, ReportSection, gather_findings
from rlvr_bench.analysis.report_setup import (
    environment_summary,
    evaluation_summary,
    report_notes,
    runs_rows,
    summarize_perplexity,
)
from rlvr_bench.analysis.report_stats import (
    by_source_numbers,
    core_numbers,
    curves_for_plot,
    pairwise_numbers,
    progress_numbers,
)
from rlvr_bench.analysis.report_tables import (
    by_source_table,
    coverage_compute_table,
    failure_row,
    pairwise_table,
    pass_table,
    perplexity_table,
)
from rlvr_bench.analysis.runs import BASE_LABEL, StudyData
from rlvr_bench.analysis.tables import markdown_table
from rlvr_bench.analysis.validity_sections import VALIDITY_SECTION

__all__ = ["FINDINGS_ORDER", "SECTIONS"]

Numbers = Mapping[str, Any]


def _plots() -> Any:
    from rlvr_bench.analysis import plots  # matplotlib: imported when figures are drawn

    return plots


# ------------------------------------------------------------------------------------------------- header


def _header_numbers(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    numbers = core_numbers(data, ks=ctx.ks, gap_k=ctx.gap_k, n_resamples=ctx.n_resamples, seed=ctx.seed)
    return {"title": ctx.title, **numbers}


def _header_md(r: Numbers, ctx: ReportContext) -> list[str]:
    return [f"# {r['title']}", "",
            f"Benchmark `{r['benchmark']}`, {r['num_problems']} problems; "
            f"{len(r['methods']) - 1} methods against the base. Numbers: `report.json`.", ""]


# ------------------------------------------------------------------------------------------------ findings


def _findings_numbers(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    return {"findings": gather_findings(ctx, FINDINGS_ORDER)}


def _findings_md(r: Numbers, ctx: ReportContext) -> list[str]:
    return ["## What this run shows", "", *(f"- {sentence}" for sentence in r["findings"]), ""]


# -------------------------------------------------------------------------------------- pass@k, coverage


def _pass_md(r: Numbers, ctx: ReportContext) -> list[str]:
    gap_k = r["settings"]["gap_k"]
    return ["## pass@k", "",
            "pass@k: mean ± std over training seeds (one value per run; a run's evaluation seeds pooled). "
            f"ΔSE@{gap_k}: base pass@{gap_k} minus the method's pass@1, in points "
            "(lower is better). The test: paired over problems, accuracy pooled over seeds.", "",
            pass_table(r), f"![pass@k curves]({r['figures']['pass_at_k']})", ""]


def _pass_figures(r: Numbers, ctx: ReportContext, out: Path) -> dict[str, str]:
    _plots().plot_pass_at_k_curves(curves_for_plot(r), out / "pass_at_k.png", title=f"{r['title']}: {r['benchmark']}",
                                   base_name=BASE_LABEL)
    return {"pass_at_k": "pass_at_k.png"}


def _coverage_md(r: Numbers, ctx: ReportContext) -> list[str]:
    return ["## Coverage and compute", "",
            f"Problems solved (any correct sample among k={r['settings']['k_max']}) by both, the base only, the "
            "method only, or neither; mean over a method's runs. Compute: mean per run, from metrics.jsonl / "
            "complete.json.", "",
            coverage_compute_table(r), f"![coverage]({r['figures']['coverage']})", ""]


def _coverage_figures(r: Numbers, ctx: ReportContext, out: Path) -> dict[str, str]:
    cov = {label: b["coverage"] for label, b in r["methods"].items() if b.get("coverage") is not None}
    _plots().plot_coverage(cov, out / "coverage.png")
    return {"coverage": "coverage.png"}


# ---------------------------------------------------------------------------------------------- by source


def _by_source_numbers(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    k_max = ctx.numbers["settings"]["k_max"]
    return {"by_source": by_source_numbers(data, k_max, n_resamples=ctx.n_resamples, seed=ctx.seed)}


def _by_source_md(r: Numbers, ctx: ReportContext) -> list[str]:
    """One table per data source and the side-by-side pass@k figure; nothing with a single source."""
    by_source = r.get("by_source")
    if not by_source:
        return []
    kinds = {source_kind(s) for s in by_source}
    named = [k for k in ("math", "code", "visual") if k in kinds] + sorted(kinds - {"math", "code", "visual"})
    heading = f"## By task family ({' and '.join(named)} side by side)" if len(kinds) > 1 else "## By task family"
    k = r["settings"]["k_max"]
    lines = [heading, "",
             f"The numbers above on each data source's problems alone. pass@1 and pass@{k}: mean ± std over "
             f"training seeds. ΔSE@{k}: base pass@{k} minus the method's pass@1, in points. Δpass@{k} vs base: "
             "paired test over that source's problems. Coverage: problems solved (any correct sample among "
             f"k={k}) by both, the base only, the method only or neither, mean over runs.", ""]
    if r["settings"]["gap_k"] != k:
        lines += [f"ΔSE here is at k={k} (the largest k every run supports); the pass@k table above uses "
                  f"k={r['settings']['gap_k']}.", ""]
    for source, part in by_source.items():
        lines += [f"### {source} ({source_kind(source)}, {part['num_problems']} problems)", "", by_source_table(part)]
    return lines + [f"![pass@k by task family]({r['figures']['curves_by_source']})", ""]


def _by_source_figures(r: Numbers, ctx: ReportContext, out: Path) -> dict[str, str]:
    if not r.get("by_source"):
        return {}
    _plots().plot_pass_at_k_by_source({source: curves_for_plot(part) for source, part in r["by_source"].items()},
                                      out / "curves_by_source.png", base_name=BASE_LABEL)
    return {"curves_by_source": "curves_by_source.png"}


# ----------------------------------------------------------------------------------------------- failures


def _failures_md(r: Numbers, ctx: ReportContext) -> list[str]:
    """The reason of every incorrect final-step sample, per method."""
    failures = r["failures"]
    columns = failure_columns(failures["reasons"])
    split = len(failures["sources"]) > 1
    rows = [{"family": family, "method": label, **failure_row(block, family, columns)}
            for family in failures["sources"] for label, block in failures["methods"].items()]
    head = (["family"] if split else []) + ["method", "runs read", "samples", "correct", *columns]
    formats = ", ".join(f"`{reason}`" for reason in FORMAT_REASONS)
    lines = ["## Failures by kind", "",
             "Share of **all** final-step samples (a method's runs pooled) that were correct or failed for "
             f"each reason; a row sums to 1. {formats} are formatting failures (no gradable answer), "
             "`wrong_answer` a stated but wrong answer, `truncated` a completion cut at the token limit"
             + (", `exception` any exception raised by the program (types in report.json)"
                if "exception" in columns else "") + "."
             + (f" Family `{ALL_SOURCES}` pools every data source." if split else ""), "",
             markdown_table(rows, head)]
    skipped = [f"{label}: {', '.join(b['missing'])}" for label, b in failures["methods"].items() if b["missing"]]
    if skipped:
        lines.append("No samples file (skipped): " + "; ".join(skipped) + ".")
    short = [f"{label}: {', '.join(b['incomplete'])}" for label, b in failures["methods"].items() if b["incomplete"]]
    if short:
        lines.append("Samples files that disagree with their summary: " + "; ".join(short) + ".")
    return lines + [""] if skipped or short else lines


# --------------------------------------------------------------------------------- pairwise, progress


def _pairwise_md(r: Numbers, ctx: ReportContext) -> list[str]:
    lines = ["## Differences between RL presets", ""]
    if r["pairwise"]:
        return lines + ["Paired over problems, seeds pooled; significant = Holm-adjusted p < 0.05.", "",
                        pairwise_table(r["pairwise"])]
    return lines + ["Fewer than two RL presets: nothing to compare.", ""]


def _progress_md(r: Numbers, ctx: ReportContext) -> list[str]:
    return ["## Training progress", "",
            f"pass@1 and pass@{r['settings']['k_max']} at each evaluated step (step 0 is the base unless the run "
            "evaluated it).", "", f"![training progress]({r['figures']['training_progress']})", ""]


def _progress_figures(r: Numbers, ctx: ReportContext, out: Path) -> dict[str, str]:
    progress = {label: {int(step): point for step, point in steps.items()} for label, steps in r["progress"].items()}
    _plots().plot_training_progress(progress, out / "training_progress.png", base_name=BASE_LABEL)
    return {"training_progress": "training_progress.png"}


# --------------------------------------------------------------------------------- per-problem accuracy


def _accuracy_numbers(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    """Per-problem accuracy of every method, its runs' samples pooled (for the histograms only)."""
    rates = {BASE_LABEL: data.base.correct / data.base.samples_per_problem}
    for label, runs in data.methods.items():
        rates[label] = np.sum([r.correct for r in runs], axis=0) / sum(r.samples_per_problem for r in runs)
    return {"_accuracy_rates": rates}


def _accuracy_md(r: Numbers, ctx: ReportContext) -> list[str]:
    return ["## Per-problem accuracy", "", f"![accuracy histograms]({r['figures']['accuracy_histograms']})", ""]


def _accuracy_figures(r: Numbers, ctx: ReportContext, out: Path) -> dict[str, str]:
    _plots().plot_accuracy_histograms(r["_accuracy_rates"], out / "accuracy_histograms.png", base_name=BASE_LABEL)
    return {"accuracy_histograms": "accuracy_histograms.png"}


# ------------------------------------------------------------------------------------------- perplexity


def _perplexity_numbers(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    ppl = ctx.perplexity
    return {"perplexity": summarize_perplexity(ppl) if ppl else None, "_perplexity_values": ppl}


def _perplexity_md(r: Numbers, ctx: ReportContext) -> list[str]:
    if not r.get("perplexity"):
        return []
    return ["## Perplexity under the base model", "", perplexity_table(r["perplexity"]),
            f"![perplexity]({r['figures']['perplexity']})", ""]


def _perplexity_figures(r: Numbers, ctx: ReportContext, out: Path) -> dict[str, str]:
    if not r.get("_perplexity_values"):
        return {}
    _plots().plot_perplexity(r["_perplexity_values"], out / "perplexity.png",
                             title="perplexity of each source's responses under the base model")
    return {"perplexity": "perplexity.png"}


# ------------------------------------------------------------------------------------------ setup, notes


def _setup_numbers(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    return {"evaluation": evaluation_summary(data), "environment": environment_summary(data), "runs": runs_rows(data)}


def _setup_md(r: Numbers, ctx: ReportContext) -> list[str]:
    ev, env = r["evaluation"], r["environment"]
    decoding = ev.get("decoding") or {}
    lines = ["## Setup", "",
             f"- benchmark: `{r['benchmark']}`, {r['num_problems']} problems (aligned by id across runs)",
             f"- evaluation: n={ev.get('n')} samples per problem per seed, seeds {ev.get('seeds')}, template "
             f"`{ev.get('template')}`, reward `{ev.get('reward')}`",
             "- decoding: " + (", ".join(f"{k}={v}" for k, v in decoding.items()) or "not recorded"),
             f"- engine: {json.dumps(ev.get('engine'))}"]
    lines += [f"- **evaluation differs** — {diff}" for diff in ev["differences"]]
    if env["fields"]:
        fields = ", ".join(f"{k} {v}" for k, v in env["fields"].items() if v is not None)
        lines.append(f"- environment (from `{env['source']}`): {fields}")
    else:
        lines.append("- environment: no env.json recorded")
    lines += [f"- **environment differs** — {diff}" for diff in env["differences"]]
    return lines + ["", markdown_table(r["runs"], ["method", "run", "seed", "final step", "complete", "path"])]


def _notes_md(r: Numbers, ctx: ReportContext) -> list[str]:
    return ["## Notes", "", *(f"- {note}" for note in r["notes"]), ""] if r["notes"] else []


SECTIONS: list[ReportSection] = [
    ReportSection("header", _header_md, _header_numbers,
                  keys=("title", "benchmark", "num_problems", "ids", "settings", "methods")),
    ReportSection("findings", _findings_md, _findings_numbers, keys=("findings",), last=True),
    ReportSection("pass_at_k", _pass_md, figures=_pass_figures, findings=lambda r, ctx: pass_findings(r)),
    ReportSection("coverage", _coverage_md, figures=_coverage_figures, findings=lambda r, ctx: coverage_findings(r)),
    BOUNDARY_SECTION,
    ReportSection("by_source", _by_source_md, _by_source_numbers, keys=("by_source",), figures=_by_source_figures,
                  findings=lambda r, ctx: family_findings(r)),
    ReportSection("failures", _failures_md, lambda data, ctx: {"failures": count_failures(data)}, keys=("failures",)),
    LENGTH_SECTION,
    DIVERSITY_SECTION,
    VALIDITY_SECTION,
    ReportSection("pairwise", _pairwise_md,
                  lambda data, ctx: {"pairwise": pairwise_numbers(data, n_resamples=ctx.n_resamples, seed=ctx.seed)},
                  keys=("pairwise",), findings=lambda r, ctx: pairwise_findings(r)),
    POWER_SECTION,
    ReportSection("progress", _progress_md,
                  lambda data, ctx: {"progress": progress_numbers(data, ctx.numbers["settings"]["k_max"])},
                  keys=("progress",), figures=_progress_figures, findings=lambda r, ctx: progress_findings(r)),
    TRAINING_CURVES_SECTION,
    ReportSection("accuracy", _accuracy_md, _accuracy_numbers, figures=_accuracy_figures),
    ReportSection("perplexity", _perplexity_md, _perplexity_numbers, keys=("perplexity",),
                  figures=_perplexity_figures, findings=lambda r, ctx: perplexity_findings(r["perplexity"])),
    ReportSection("setup", _setup_md, _setup_numbers, keys=("evaluation", "environment", "runs")),
    ENVIRONMENT_SECTION,
    ReportSection("notes", _notes_md, lambda data, ctx: {"notes": report_notes(data, ctx.numbers)}, keys=("notes",)),
]
"""Every section, in the order of report.md."""

FINDINGS_ORDER = ("pass_at_k", "coverage", "pairwise", "progress", "boundary", "training_curves", "by_source",
                  "perplexity")
"""The order of the sections' sentences in "What this run shows" (a narrative order, not the page order)."""
