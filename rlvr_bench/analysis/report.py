"""The comparison report: ``report.md`` + PNG figures + ``report.json`` for a set of runs against a base.

``write_report(collect_runs(...), out_dir)`` runs the report's sections (``report_sections.SECTIONS``, each a
``report_section.ReportSection``) in three phases: every number is computed first (samples files included),
then the figures are drawn and the markdown rendered from those numbers alone, with a "What this run shows"
section gathered from every section's sentences. docs/study.md, "Reading the report", explains each section.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_bench.analysis.report_section import (
    ReportContext,
    ReportSection,
    check_sections,
    compute_sections,
    draw_sections,
    render_sections,
)
from rlvr_bench.analysis.report_sections import SECTIONS
from rlvr_bench.analysis.report_setup import environment_summary, evaluation_summary, summarize_perplexity
from rlvr_bench.analysis.runs import StudyData

__all__ = ["DEFAULT_TITLE", "environment_summary", "evaluation_summary", "summarize_perplexity", "write_report"]

DEFAULT_TITLE = "rlvr_bench comparison report"

# report.json's key order (kept from earlier versions so the file is unchanged); keys of new sections follow
_JSON_ORDER = ("title", "benchmark", "num_problems", "ids", "settings", "methods", "pairwise", "progress",
               "by_source", "perplexity", "findings", "evaluation", "environment", "runs", "failures", "notes")
_FIGURE_ORDER = ("pass_at_k", "training_progress", "accuracy_histograms", "coverage", "curves_by_source",
                 "perplexity")


def _ordered(values: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any]:
    """``values`` with the keys of ``order`` first, in that order, then the others as they came."""
    return {**{k: values[k] for k in order if k in values}, **{k: v for k, v in values.items() if k not in order}}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def write_report(
    data: StudyData,
    out_dir: str | Path,
    *,
    ks: Sequence[int] | None = None,
    gap_k: int | None = None,
    perplexity: Mapping[str, Sequence[float]] | None = None,
    title: str = DEFAULT_TITLE,
    n_resamples: int = 10_000,
    seed: int = 0,
    sections: Sequence[ReportSection] = SECTIONS,
    reference: str | None = None,
) -> Path:
    """Write ``out_dir/report.md``, its PNG figures and ``out_dir/report.json``; returns the report.md path.

    Args:
        data: the runs (``rlvr_bench.analysis.collect_runs``).
        ks: pass@k table columns (default 1, 4, 16, ... up to the smallest samples-per-problem of any run).
        gap_k: k of Delta_SE (default 256, lowered to the base's samples per problem when fewer).
        perplexity: source -> per-response perplexity under the base model (``perplexity_from_runs``);
            adds a box plot, a table and a sentence.
        title: the report's heading.
        n_resamples, seed: of the bootstrap CIs and the sign-flip tests.
        sections: the report's sections, in page order (default ``report_sections.SECTIONS``).
        reference: the run group the boundary sections compare every method with (default: the ``grpo``
            preset's group trained on a reward that is not a control, when there is one).

    When the base's summary names two or more data sources (task families), the report adds a section per
    family (``report.json`` ``by_source``) and ``curves_by_source.png``. Every report counts the reasons of
    the incorrect final-step samples (``failures``), read from the samples files of the runs that have one.
    """
    check_sections(sections)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = ReportContext(data=data, title=title, ks=ks, gap_k=gap_k, n_resamples=n_resamples, seed=seed,
                        perplexity=perplexity, sections=sections, reference=reference)
    numbers = compute_sections(data, ctx)
    numbers["figures"] = _ordered(draw_sections(ctx, out), _FIGURE_ORDER)
    report = _ordered({k: v for k, v in numbers.items() if not k.startswith("_")}, _JSON_ORDER)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=_json_default, allow_nan=False))
    path = out / "report.md"
    path.write_text(render_sections(numbers, ctx))
    return path
