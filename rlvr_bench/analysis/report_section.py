"""The report's building block: a ``ReportSection`` computes its numbers, then renders markdown, figures and
"What this run shows" sentences from them; the driver here runs a list of sections in phases.

1. compute: every section's ``compute(data, ctx)`` in list order (sections marked ``last`` after the others,
   since they summarise them); each returns the ``report.json`` entries it owns (its ``keys``), read by later
   sections through ``ctx.numbers``. Every file is read here (samples files, records), never later.
2. figures: every section draws its PNGs from the numbers (``figures``: figure name -> file name).
3. markdown: every section renders its lines from the numbers, in list order.

Entries whose key starts with ``_`` are numbers kept for rendering only (per-problem rates, raw perplexities):
they are not written to ``report.json``. ``check_sections`` is the completeness check: names are unique, every
section owns distinct keys, and a computed report holds every section's keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlvr_bench.analysis.runs import StudyData

__all__ = [
    "ReportContext",
    "ReportSection",
    "check_sections",
    "compute_sections",
    "draw_sections",
    "gather_findings",
    "no_figures",
    "no_findings",
    "render_sections",
]


@dataclass
class ReportContext:
    """What every section may read: the report's settings and the numbers computed so far.

    Attributes:
        data: the runs.
        title: the report's heading.
        ks, gap_k, n_resamples, seed: the arguments of ``write_report``.
        perplexity: source -> per-response perplexity under the base model, or None.
        sections: the sections of this report, in render order.
        reference: the run group the boundary sections compare with (``report.reference``), or None.
        numbers: every computed entry so far (after the compute phase: the whole report, ``_`` keys included).
    """

    data: StudyData
    title: str
    ks: Sequence[int] | None = None
    gap_k: int | None = None
    n_resamples: int = 10_000
    seed: int = 0
    perplexity: Mapping[str, Sequence[float]] | None = None
    sections: Sequence[ReportSection] = ()
    reference: str | None = None
    numbers: dict[str, Any] = field(default_factory=dict)


def no_figures(numbers: Mapping[str, Any], ctx: ReportContext, out_dir: Path) -> dict[str, str]:
    """A section without figures."""
    return {}


def no_findings(numbers: Mapping[str, Any], ctx: ReportContext) -> list[str]:
    """A section without sentences in "What this run shows"."""
    return []


def _no_numbers(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ReportSection:
    """One section of the report.

    Attributes:
        name: the section's name (unique in a report).
        markdown: ``(numbers, ctx) -> lines`` of report.md; ``numbers`` is the whole computed report with
            ``figures`` (name -> file).
        compute: ``(data, ctx) -> {key: value}``, the ``report.json`` entries of ``keys`` (plus ``_`` keys for
            rendering only).
        keys: the top-level ``report.json`` keys this section owns.
        figures: ``(numbers, ctx, out_dir) -> {figure name: file name}``, the PNGs it drew into ``out_dir``.
        findings: ``(numbers, ctx) -> sentences`` for "What this run shows".
        last: compute after every other section (a summary of the others).
    """

    name: str
    markdown: Callable[[Mapping[str, Any], ReportContext], list[str]]
    compute: Callable[[StudyData, ReportContext], dict[str, Any]] = _no_numbers
    keys: tuple[str, ...] = ()
    figures: Callable[[Mapping[str, Any], ReportContext, Path], dict[str, str]] = no_figures
    findings: Callable[[Mapping[str, Any], ReportContext], list[str]] = no_findings
    last: bool = False


def check_sections(sections: Sequence[ReportSection], numbers: Mapping[str, Any] | None = None) -> None:
    """Raise ``ValueError`` unless names are unique, keys are owned once, and ``numbers`` (a computed report,
    when given) holds every section's keys."""
    names = [s.name for s in sections]
    if len(set(names)) != len(names):
        raise ValueError(f"report sections share a name: {names}")
    owners: dict[str, str] = {}
    for section in sections:
        for key in section.keys:
            if key in owners:
                raise ValueError(f"report key {key!r} is owned by sections {owners[key]!r} and {section.name!r}")
            owners[key] = section.name
    if numbers is not None:
        missing = [key for key in owners if key not in numbers]
        if missing:
            raise ValueError(f"report is missing the numbers of {', '.join(f'{owners[k]}.{k}' for k in missing)}")


def compute_sections(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    """Phase 1: every section's numbers, into ``ctx.numbers`` (returned); a section returning a key it does not
    own is an error."""
    order = [s for s in ctx.sections if not s.last] + [s for s in ctx.sections if s.last]
    for section in order:
        values = section.compute(data, ctx)
        foreign = [k for k in values if not k.startswith("_") and k not in section.keys]
        if foreign:
            raise ValueError(f"report section {section.name!r} returned keys it does not own: {foreign}")
        ctx.numbers.update(values)
    check_sections(ctx.sections, ctx.numbers)
    return ctx.numbers


def gather_findings(ctx: ReportContext, order: Sequence[str] = ()) -> list[str]:
    """Every section's sentences: the sections named in ``order`` first (in that order), then the others in
    list order."""
    by_name = {s.name: s for s in ctx.sections}
    unknown = [name for name in order if name not in by_name]
    if unknown:
        raise ValueError(f"findings order names unknown sections: {unknown}")
    ranked = [by_name[name] for name in order] + [s for s in ctx.sections if s.name not in order]
    return [sentence for s in ranked for sentence in s.findings(ctx.numbers, ctx)]


def draw_sections(ctx: ReportContext, out_dir: Path) -> dict[str, str]:
    """Phase 2: every section's figures; figure name -> file name (relative to ``out_dir``)."""
    files: dict[str, str] = {}
    for section in ctx.sections:
        files.update(section.figures(ctx.numbers, ctx, out_dir))
    return files


def render_sections(numbers: Mapping[str, Any], ctx: ReportContext) -> str:
    """Phase 3: report.md, every section's lines in list order."""
    return "\n".join(line for section in ctx.sections for line in section.markdown(numbers, ctx))
