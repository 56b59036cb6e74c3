"""The report's markdown tables, rendered from the numbers of ``report.json`` (pure string formatting)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rlvr_bench.analysis.breakdown import reason_column
from rlvr_bench.analysis.findings import kind_name
from rlvr_bench.analysis.runs import BASE_LABEL
from rlvr_bench.analysis.tables import (
    format_ci,
    format_mean_std,
    format_p_value,
    format_signed,
    markdown_table,
)

__all__ = ["by_source_table", "cell", "coverage_compute_table", "failure_row", "pairwise_table", "pass_table",
           "perplexity_table"]


def cell(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def pass_table(numbers: Mapping[str, Any]) -> str:
    settings = numbers["settings"]
    gap_col = f"ΔSE@{settings['gap_k']} (pts)"
    rows = []
    for label, b in numbers["methods"].items():
        row = {"method": label, "kind": kind_name(b["kind"]) if label != BASE_LABEL else "base",
               "runs": str(b["runs"]), "samples/problem": str(b["samples_per_problem"])}
        for k in settings["ks"]:
            stat = b["pass_at_k"].get(str(k))
            row[f"pass@{k}"] = "n/a" if stat is None else format_mean_std(
                stat["mean"], math.nan if stat["std"] is None else stat["std"])
        row[gap_col] = f"{b['gap']['value']:.1f}"
        test = b.get("versus_base")
        if test is not None:
            row["Δpass@1 vs base"] = format_signed(test["diff"])
            row["95% CI"] = format_ci(test["ci_low"], test["ci_high"], signed=True)
            row["p"] = format_p_value(test["p_value"])
            row["significant"] = "significant" if test["significant"] else ""
        rows.append(row)
    columns = ["method", "kind", "runs", "samples/problem", *(f"pass@{k}" for k in settings["ks"]), gap_col,
               "Δpass@1 vs base", "95% CI", "p", "significant"]
    return markdown_table(rows, columns)


def coverage_compute_table(numbers: Mapping[str, Any]) -> str:
    rows = []
    for label, b in numbers["methods"].items():
        row: dict[str, str] = {"method": label}
        cov = b.get("coverage")
        if cov is not None:
            row["k"] = str(cov["k"])
            for key, name in (("both", "both"), ("base_only", "base only"), ("method_only", "method only"),
                              ("neither", "neither")):
                row[name] = cell(cov[key], 0 if float(cov[key]).is_integer() else 1)
        compute = b.get("compute") or {}
        for key, name in (("samples", "samples"), ("gen_tokens", "gen tokens"), ("backward_tokens", "trained tokens"),
                          ("teacher_samples", "teacher samples"), ("teacher_tokens", "teacher tokens")):
            row[name] = cell(compute.get(key))
        row["wall min"] = cell(compute.get("wall_minutes"), 1)
        rows.append(row)
    columns = ["method", "k", "both", "base only", "method only", "neither", "samples", "gen tokens",
               "trained tokens", "teacher samples", "teacher tokens", "wall min"]
    return markdown_table(rows, columns)


def pairwise_table(pairwise: Sequence[Mapping[str, Any]]) -> str:
    rows = [{"a": r["a"], "b": r["b"], "Δpass@1 (a - b)": format_signed(r["diff"]),
             "95% CI": format_ci(r["ci_low"], r["ci_high"], signed=True), "p": format_p_value(r["p_value"]),
             "p (Holm)": format_p_value(r["p_holm"]), "significant": "significant" if r["significant"] else ""}
            for r in pairwise]
    return markdown_table(rows, ["a", "b", "Δpass@1 (a - b)", "95% CI", "p", "p (Holm)", "significant"])


def perplexity_table(ppl: Mapping[str, Mapping[str, float]]) -> str:
    rows = [{"responses of": source, "n": str(s["n"]), "median": f"{s['median']:.3f}", "mean": f"{s['mean']:.3f}",
             "IQR": f"{s['q25']:.3f} - {s['q75']:.3f}"} for source, s in ppl.items()]
    return markdown_table(rows, ["responses of", "n", "median", "mean", "IQR"])


def by_source_table(part: Mapping[str, Any]) -> str:
    """One data source: pass@1, pass@k_max, Delta_SE at k_max, the test at k_max and coverage per method."""
    k = part["k_max"]
    rows = []
    for label, b in part["methods"].items():
        row = {"method": label}
        for key in ("1", str(k)):
            stat = b["pass_at_k"][key]
            row[f"pass@{key}"] = format_mean_std(stat["mean"], math.nan if stat["std"] is None else stat["std"])
        row[f"ΔSE@{k} (pts)"] = f"{b['gap']['value']:.1f}"
        test, cov = b.get("versus_base_at_k_max"), b.get("coverage")
        if test is not None:
            row[f"Δpass@{k} vs base"] = format_signed(test["diff"])
            row["p"] = format_p_value(test["p_value"])
            row["significant"] = "significant" if test["significant"] else ""
        if cov is not None:
            for key, name in (("both", "both"), ("base_only", "base only"), ("method_only", "method only"),
                              ("neither", "neither")):
                row[name] = cell(cov[key], 0 if float(cov[key]).is_integer() else 1)
        rows.append(row)
    columns = ["method", "pass@1", f"pass@{k}", f"ΔSE@{k} (pts)", f"Δpass@{k} vs base", "p", "significant",
               "both", "base only", "method only", "neither"]
    return markdown_table(rows, list(dict.fromkeys(columns)))


def failure_row(block: Mapping[str, Any], family: str, columns: Sequence[str]) -> dict[str, str]:
    """One (method, family) row: runs read, samples, and each kind's share of all samples."""
    read = f"{block['runs_read']} of {block['runs']}"
    counts = block["by_source"].get(family)
    if not counts or not counts["samples"]:
        return {"runs read": read + (" (no samples file)" if block["runs_read"] == 0 else ""), "samples": "0"}
    total = counts["samples"]
    grouped: dict[str, int] = {}
    for reason, count in counts["reasons"].items():
        grouped[reason_column(reason)] = grouped.get(reason_column(reason), 0) + count
    row = {"runs read": read, "samples": str(total), "correct": f"{counts['correct'] / total:.3f}"}
    row.update({c: f"{grouped.get(c, 0) / total:.3f}" for c in columns})
    return row
