"""The ``power`` report section (arXiv 2504.07086): what differences in pass@1 this study's design could detect.

For every method against the base (and against the boundary sections' reference run group, when there is
one), at 80% power and a two-sided 5% level (``rlvr_bench.metrics.power``):

- **over seeds**: sd = the seed std of the method's pass@1 (one value per training run). Against the base,
  which is one fixed model, the method's seed mean is tested against a constant: a one-sample design, i.e.
  ``min_detectable_difference(sd, runs, paired=True)``. Against the reference (seeds on both sides):
  two-sample, ``min_detectable_difference(sd, runs, reference runs)`` with sd pooled over both groups. With
  one run, or seeds that agree (``degenerate_spread``), the spread cannot be estimated and nothing is computed.
  ``seeds_needed(sd, delta)`` gives the seeds to detect 2 and 5 points.
- **over problems**: paired, sd = the std of the per-problem differences in accuracy (a method's runs pooled),
  ``min_detectable_difference(sd, problems, paired=True)``.

A reported difference smaller than what the design can detect gets a sentence: failing to find it is
expected, whatever it is. Without ``rlvr_bench.metrics.power`` the section says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from rlvr_bench.analysis.report_section import ReportContext, ReportSection
from rlvr_bench.analysis.runs import BASE_LABEL, RunData, StudyData
from rlvr_bench.analysis.tables import markdown_table

__all__ = ["POWER_SECTION", "power_findings", "power_numbers"]

Numbers = Mapping[str, Any]
DELTAS = (0.02, 0.05)
ALPHA, POWER = 0.05, 0.8


def _power_api() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]] | None:
    """(degenerate_spread, min_detectable_difference, seeds_needed), or None when not installed."""
    try:
        from rlvr_bench.metrics import degenerate_spread, min_detectable_difference, seeds_needed
    except ImportError:
        return None
    return degenerate_spread, min_detectable_difference, seeds_needed


def _per_problem(runs: Sequence[RunData]) -> np.ndarray:
    return np.sum([r.correct for r in runs], axis=0) / sum(r.samples_per_problem for r in runs)


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _seed_block(values: Sequence[float], other: Sequence[float] | None, api: tuple) -> dict[str, Any]:
    """Over seeds: sd, the minimum detectable difference and the seeds needed (None when degenerate)."""
    degenerate, mdd, needed = api
    if degenerate(values) or (other is not None and len(other) > 1 and degenerate(other)):
        return {"sd": None, "degenerate": True, "runs": len(values), "mdd": None,
                "seeds_needed": {str(d): None for d in DELTAS}}
    if other is None or len(other) < 2:  # against a fixed model: one-sample
        sd = float(np.std(values, ddof=1))
        detectable = mdd(sd, len(values), alpha=ALPHA, power=POWER, paired=True)
    else:
        a, b = np.asarray(values), np.asarray(other)
        pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
        sd = float(math.sqrt(pooled))
        detectable = mdd(sd, a.size, b.size, alpha=ALPHA, power=POWER)
    return {"sd": sd, "degenerate": False, "runs": len(values), "mdd": _finite(detectable),
            "seeds_needed": {str(d): int(needed(sd, d, alpha=ALPHA, power=POWER)) for d in DELTAS}}


def _problem_block(diffs: np.ndarray, api: tuple) -> dict[str, Any]:
    """Over problems, paired: sd of the per-problem differences and the minimum detectable difference."""
    _, mdd, _ = api
    if diffs.size < 2:
        return {"sd": None, "problems": int(diffs.size), "mdd": None}
    sd = float(np.std(diffs, ddof=1))
    value = mdd(sd, int(diffs.size), alpha=ALPHA, power=POWER, paired=True) if sd > 0 else 0.0
    return {"sd": sd, "problems": int(diffs.size), "mdd": _finite(value)}


def _comparison(runs: Sequence[RunData], other: Sequence[RunData], methods: Numbers, label: str,
                against: str, api: tuple) -> dict[str, Any]:
    mine = [float(v) for v in methods[label]["pass_at_k"]["1"]["per_run"]]
    theirs = [float(v) for v in methods[against]["pass_at_k"]["1"]["per_run"]]
    diff = methods[label]["pass_at_k"]["1"]["mean"] - methods[against]["pass_at_k"]["1"]["mean"]
    fixed = against == BASE_LABEL
    return {"against": against, "diff": float(diff),
            "seeds": _seed_block(mine, None if fixed else theirs, api),
            "problems": _problem_block(_per_problem(runs) - _per_problem(other), api)}


def _reference_label(numbers: Numbers) -> str | None:
    boundary = numbers.get("boundary") or {}
    return (boundary.get("reference") or {}).get("label")


def power_numbers(data: StudyData, numbers: Numbers) -> dict[str, Any] | None:
    """The ``power`` entry of report.json: ``{"alpha", "power", "deltas", "reference", "methods": {label:
    {"versus_base": comparison, "versus_reference": comparison or None}}}``; a comparison has ``against``,
    ``diff`` (pass@1, method minus the other), ``seeds`` (``sd``, ``degenerate``, ``runs``, ``mdd``,
    ``seeds_needed`` per delta) and ``problems`` (``sd``, ``problems``, ``mdd``). None without
    ``rlvr_bench.metrics.power``."""
    api = _power_api()
    if api is None:
        return None
    methods = numbers["methods"]
    reference = _reference_label(numbers)
    groups = {BASE_LABEL: [data.base], **data.methods}
    out = {}
    for label, runs in data.methods.items():
        block = {"versus_base": _comparison(runs, groups[BASE_LABEL], methods, label, BASE_LABEL, api),
                 "versus_reference": None}
        if reference and reference in groups and reference != label:
            block["versus_reference"] = _comparison(runs, groups[reference], methods, label, reference, api)
        out[label] = block
    return {"alpha": ALPHA, "power": POWER, "deltas": list(DELTAS), "reference": reference, "methods": out}


def _pts(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _seed_cell(seeds: Numbers) -> str:
    if seeds["degenerate"]:
        return "spread unknown" if seeds["runs"] < 2 else "seeds agree: spread unknown"
    return _pts(seeds["mdd"])


def _rows(p: Numbers) -> list[dict[str, str]]:
    rows = []
    for label, block in p["methods"].items():
        for comp in (block["versus_base"], block["versus_reference"]):
            if comp is None:
                continue
            seeds = comp["seeds"]
            row = {"method": label, "vs": comp["against"], "Δpass@1 (pts)": f"{100 * comp['diff']:+.1f}",
                   "runs": str(seeds["runs"]), "seed sd (pts)": _pts(seeds["sd"]),
                   "detectable over seeds (pts)": _seed_cell(seeds),
                   "detectable over problems (pts)": _pts(comp["problems"]["mdd"])}
            for d in p["deltas"]:
                n = seeds["seeds_needed"][str(d)]
                row[f"seeds for {100 * d:.0f} pts"] = "n/a" if n is None else str(n)
            rows.append(row)
    return rows


def _markdown(r: Numbers, ctx: ReportContext) -> list[str]:
    p = r["power"]
    lines = ["## Statistical power", ""]
    if p is None:
        return lines + ["Not computed: `rlvr_bench.metrics.power` is not available.", ""]
    ref = f" and against the reference `{p['reference']}`" if p["reference"] else ""
    return lines + [
        f"The smallest difference in pass@1 this design could detect with {p['power']:.0%} power at the "
        f"{p['alpha']:.0%} level (two-sided), for every method against the base{ref} (arXiv 2504.07086). Over "
        "seeds: from the seed std of the method's pass@1 (against the base, a fixed model: one-sample; against "
        "the reference: two-sample, sd pooled); with one run or seeds that agree the spread, and so the "
        "detectable difference, is unknown. Over problems: paired, from the std of the per-problem "
        "differences in accuracy. Seeds for 2 / 5 pts: training seeds needed to detect that difference at "
        "the observed seed sd.", "", markdown_table(_rows(p))]


def power_findings(r: Numbers) -> list[str]:
    """One sentence listing the reported differences below what the design can detect."""
    p = r.get("power")
    if not p:
        return []
    below, unknown = [], []
    for label, block in p["methods"].items():
        for comp in (block["versus_base"], block["versus_reference"]):
            if comp is None:
                continue
            seeds, diff = comp["seeds"], abs(comp["diff"])
            if seeds["mdd"] is not None and diff < seeds["mdd"]:
                below.append(f"**{label}** vs {comp['against']} ({_pts(diff)} < {_pts(seeds['mdd'])} over "
                             f"{seeds['runs']} seeds)")
            elif comp["problems"]["mdd"] is not None and diff < comp["problems"]["mdd"]:
                below.append(f"**{label}** vs {comp['against']} ({_pts(diff)} < {_pts(comp['problems']['mdd'])} "
                             f"over {comp['problems']['problems']} problems)")
            elif seeds["degenerate"] and seeds["runs"] >= 2:
                unknown.append(label)
    sentences = []
    if below:
        sentences.append(f"Below what this design can detect ({p['power']:.0%} power, {p['alpha']:.0%} level; "
                         "points of pass@1): " + "; ".join(below) + ": not finding these differences says "
                         "nothing about whether they exist.")
    if unknown:
        sentences.append("The seeds of " + ", ".join(f"**{u}**" for u in dict.fromkeys(unknown))
                         + " agree, so the detectable difference over seeds is unknown.")
    return sentences


POWER_SECTION = ReportSection("power", _markdown, lambda data, ctx: {"power": power_numbers(data, ctx.numbers)},
                              keys=("power",), findings=lambda r, ctx: power_findings(r))
"""The smallest detectable pass@1 differences over seeds and problems, and the seeds needed."""
