"""The boundary study's report sections (issue #19), in every report: ``boundary`` (the table of pass@1 gain,
pass@k_max minus the base's and the reference's, newly solved / lost problems and compute, with the controls'
distances) and ``training_curves`` (entropy and pass@k over training). Numbers from ``boundary`` and
``boundary_curves``, sentences from ``boundary_findings``, figures from ``boundary_plots``.

A study without controls, without a reference run, with one seed or without RL runs gets the same sections;
they say what is missing instead of leaving it out. The reference is ``report.reference`` (the report
context's ``reference``) when set, else the default of ``boundary.find_reference``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlvr_bench.analysis.boundary import REFERENCE_PRESET, boundary_numbers, find_reference
from rlvr_bench.analysis.boundary_curves import training_curve_numbers
from rlvr_bench.analysis.boundary_findings import boundary_findings, curve_findings
from rlvr_bench.analysis.findings import kind_name
from rlvr_bench.analysis.report_section import ReportContext, ReportSection
from rlvr_bench.analysis.runs import StudyData
from rlvr_bench.analysis.tables import (
    format_ci,
    format_mean_std,
    format_p_value,
    format_signed,
    markdown_table,
)
from rlvr_bench.metrics import seed_mean_std
from rlvr_bench.utils.rundir import RunDir, read_jsonl

__all__ = ["BOUNDARY_SECTION", "TRAINING_CURVES_SECTION"]

Numbers = Mapping[str, Any]


def _requested_reference(ctx: ReportContext) -> str | None:
    """``report.reference`` (``ctx.reference``), or None for the default."""
    return ctx.reference or None


def _kind(kind: str) -> str:
    return "control" if kind == "control" else kind_name(kind)


def _mean_std(values: list[float]) -> str:
    stats = seed_mean_std(values)
    return format_mean_std(stats.mean, stats.std)


def _diff_cell(test: Numbers | None) -> str:
    if test is None:
        return ""
    return f"{format_signed(test['diff'])} {format_ci(test['ci_low'], test['ci_high'], signed=True)}"


def _p_cell(test: Numbers | None) -> str:
    if test is None:
        return ""
    return format_p_value(test["p_value"]) + (" *" if test["significant"] else "")


def _sign_cell(sign: Numbers | None) -> str:
    if sign is None:
        return ""
    ties = f", {sign['ties']} level" if sign["ties"] else ""
    return f"{sign['below']} / {sign['above']}{ties} (p={format_p_value(sign['p_value'])})"


def _count(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


# ------------------------------------------------------------------------------------------------ boundary


def _boundary_compute(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    k = ctx.numbers["settings"]["k_max"]
    return {"boundary": boundary_numbers(data, k, reference=_requested_reference(ctx), n_resamples=ctx.n_resamples,
                                         seed=ctx.seed)}


def _boundary_row(row: Numbers, k: int, ref: str | None) -> dict[str, str]:
    p1, pk = row["pass_at_1"], row["pass_at_k"]
    compute = row["compute"] or {}
    out = {"method": row["label"], "kind": _kind(row["kind"]), "runs": str(row["runs"]),
           "pass@1": _mean_std(p1["per_run"]), "Δpass@1 [95% CI]": _diff_cell(p1["versus_base"]),
           "p (pass@1)": _p_cell(p1["versus_base"]), f"pass@{k}": _mean_std(pk["per_run"]),
           f"Δpass@{k} vs base [95% CI]": _diff_cell(pk["versus_base"]), "p (vs base)": _p_cell(pk["versus_base"]),
           "runs below / above base (sign test)": _sign_cell(pk["sign_versus_base"]),
           "new": _count(row["solved"]["new"]), "lost": _count(row["solved"]["lost"]),
           "tokens": "n/a" if compute.get("tokens") is None else f"{compute['tokens']:,.0f}"}
    if ref is not None:
        versus = pk["versus_reference"]
        out[f"Δpass@{k} vs {ref} [95% CI]"] = _diff_cell(versus) if versus else "reference"
        out[f"p (vs {ref})"] = _p_cell(versus)
        out[f"runs below / above {ref} (sign test)"] = _sign_cell(versus["sign"] if versus else None)
        ratio = compute.get("tokens_versus_reference")
        out[f"tokens / {ref}'s"] = "n/a" if ratio is None else f"{ratio:.2f}"
    return out


def boundary_table(b: Numbers) -> str:
    """The boundary table: the base first, then every method (report.json ``boundary``)."""
    k, ref = b["k"], b["reference"]["label"]
    base = {"method": "base", "kind": "base", "runs": "1", "pass@1": f"{b['base']['pass_at_1']:.3f}",
            f"pass@{k}": f"{b['base']['pass_at_k']:.3f}"}
    rows = [base, *(_boundary_row(row, k, ref) for row in b["methods"].values())]
    columns = ["method", "kind", "runs", "pass@1", "Δpass@1 [95% CI]", "p (pass@1)", f"pass@{k}",
               f"Δpass@{k} vs base [95% CI]", "p (vs base)", "runs below / above base (sign test)"]
    if ref is not None:
        columns += [f"Δpass@{k} vs {ref} [95% CI]", f"p (vs {ref})", f"runs below / above {ref} (sign test)"]
    columns += ["new", "lost", "tokens"] + ([f"tokens / {ref}'s"] if ref is not None else [])
    return markdown_table(rows, columns)


def control_table(b: Numbers) -> str:
    """Each method's distance from the best control (only with controls)."""
    k, best = b["k"], b["best_control"]
    rows = []
    for row in b["methods"].values():
        versus = row["versus_best_control"]
        if versus is None:
            continue
        rows.append({"method": row["label"], "kind": _kind(row["kind"]),
                     f"Δpass@1 vs {best['pass_at_1']} [95% CI]": _diff_cell(versus["pass_at_1"]),
                     "p (pass@1)": _p_cell(versus["pass_at_1"]),
                     f"Δpass@{k} vs {best['pass_at_k']} [95% CI]": _diff_cell(versus["pass_at_k"]),
                     f"p (pass@{k})": _p_cell(versus["pass_at_k"])})
    columns = ["method", "kind", f"Δpass@1 vs {best['pass_at_1']} [95% CI]", "p (pass@1)",
               f"Δpass@{k} vs {best['pass_at_k']} [95% CI]", f"p (pass@{k})"]
    return markdown_table(rows, list(dict.fromkeys(columns)))


def _reference_line(b: Numbers) -> str:
    ref = b["reference"]
    if ref["label"] is None:
        return f"Reference: none ({ref['note']}); the reference columns are left out."
    how = "set by `report.reference`" if ref["source"] == "report.reference" else (
        f"the default: the {REFERENCE_PRESET} preset with a verifiable reward")
    return f"Reference: **{ref['label']}** ({how})."


def _boundary_md(r: Numbers, ctx: ReportContext) -> list[str]:
    b = r["boundary"]
    k = b["k"]
    lines = ["## Boundary: pass@1 gain and pass@k at large k", "",
             f"One row per method (the teacher is left out), seeds pooled: pass@1 and pass@{k} are mean ± std over "
             f"runs. Δ columns: method minus the base (or the reference), paired test over the {r['num_problems']} "
             f"problems (95% bootstrap CI, sign-flip p-value; * = p < 0.05). Sign test: the method's runs with "
             f"pass@{k} below / above the base's (the reference's seed mean), exact two-sided, ties dropped; with 2 "
             "runs its smallest p is 0.5. new / lost: problems solved (at least one correct sample at the final "
             "step) by a run and not by the base / by the base and not by the run, mean over runs. tokens: mean per "
             "run of generated + forward + backward + teacher tokens (`compute/*`); equal compute means within "
             f"{b['equal_compute_ratio']:g}x of the reference's. Controls: runs whose reward is "
             f"{', '.join(f'`{c}`' for c in b['control_rewards'])}.", "", _reference_line(b), ""]
    if not b["methods"]:
        return lines + ["No trained method: nothing to compare with the base.", ""]
    lines += [boundary_table(b)]
    if "boundary" in r.get("figures", {}):
        lines += [f"![boundary]({r['figures']['boundary']})", ""]
    if b["best_control"] is None:
        lines += ["No control run: the distance from a control is not measured.", ""]
    else:
        lines += ["### Distance from the best control", "",
                  f"Method minus the control with the highest pass@1 ({b['best_control']['pass_at_1']}) and the one "
                  f"with the highest pass@{k} ({b['best_control']['pass_at_k']}); paired tests over problems.", "",
                  control_table(b)]
    return lines


def _boundary_figures(r: Numbers, ctx: ReportContext, out: Path) -> dict[str, str]:
    b = r["boundary"]
    if not b["methods"]:
        return {}
    points = {}
    for label, row in b["methods"].items():
        x, y = row["pass_at_1"]["versus_base"], row["pass_at_k"]["versus_base"]
        points[label] = {"kind": row["kind"], "x": x["diff"], "x_low": x["ci_low"], "x_high": x["ci_high"],
                         "y": y["diff"], "y_low": y["ci_low"], "y_high": y["ci_high"]}
    from rlvr_bench.analysis.boundary_plots import plot_boundary  # matplotlib: imported when drawn

    plot_boundary(points, b["k"], out / "boundary.png", reference=b["reference"]["label"])
    return {"boundary": "boundary.png"}


# ---------------------------------------------------------------------------------------- training curves


def _curves_compute(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    boundary = ctx.numbers.get("boundary")
    ref = (boundary["reference"]["label"] if boundary is not None
           else find_reference(data, _requested_reference(ctx))["label"])
    metrics = {label: [list(read_jsonl(RunDir(run.path).metrics_path)) for run in runs]
               for label, runs in data.methods.items()}
    return {"training_curves": training_curve_numbers(data, metrics, k_max=ctx.numbers["settings"]["k_max"],
                                                      reference=ref, n_resamples=ctx.n_resamples, seed=ctx.seed)}


def _entropy_table(c: Numbers) -> str:
    rows = []
    for label, e in c["entropy"].items():
        kind = _kind(c["pass_at_k"][label]["kind"])
        if e is None:
            rows.append({"method": label, "kind": kind, "logged as": "not logged"})
            continue
        rows.append({"method": label, "kind": kind, "logged as": f"`{e['key']}`", "runs": str(e["runs"]),
                     "first step": str(e["first"]["step"]), "entropy (first)": f"{e['first']['value']:.4f}",
                     "last step": str(e["last"]["step"]), "entropy (last)": f"{e['last']['value']:.4f}",
                     "change": f"{e['change']:+.4f}"})
    return markdown_table(rows, ["method", "kind", "logged as", "runs", "first step", "entropy (first)", "last step",
                                 "entropy (last)", "change"])


def _change_cells(test: Numbers | None) -> tuple[str, str, str]:
    if test is None:
        return "", "", ""
    return f"{test['from']} -> {test['to']}", _diff_cell(test), _p_cell(test)


def _budget_cell(eq: Numbers | None, k: int) -> str:
    if not eq:
        return ""
    if eq["step"] is None:
        return "no checkpoint within it"
    return f"step {eq['step']}: pass@{k} {eq['pass_at_k']:.3f} ({format_signed(eq['versus_base']['diff'])} vs base)"


def _curve_table(c: Numbers) -> str:
    k = c["k"]
    rows = []
    for label, cur in c["pass_at_k"].items():
        steps, common = cur["steps"], cur["common_steps"]
        overall, last = _change_cells(cur["overall"]), _change_cells(cur["last_interval"])
        rows.append({"method": label, "kind": _kind(cur["kind"]), "steps evaluated": ", ".join(map(str, common)),
                     f"pass@{k} (first)": f"{steps[str(common[0])]['mean']:.3f}" if common else "",
                     f"pass@{k} (last)": f"{steps[str(common[-1])]['mean']:.3f}" if common else "",
                     "Δ first -> last [95% CI]": overall[1], "p (overall)": overall[2],
                     "last interval": last[0], "Δ last interval [95% CI]": last[1], "p (last interval)": last[2],
                     "at the reference's budget": _budget_cell(cur["equal_budget"], k)})
    columns = ["method", "kind", "steps evaluated", f"pass@{k} (first)", f"pass@{k} (last)", "Δ first -> last [95% CI]",
               "p (overall)", "last interval", "Δ last interval [95% CI]", "p (last interval)"]
    if any(cur["equal_budget"] for cur in c["pass_at_k"].values()):
        columns.append("at the reference's budget")
    return markdown_table(rows, columns)


def _curves_md(r: Numbers, ctx: ReportContext) -> list[str]:
    c = r["training_curves"]
    figures = r.get("figures", {})
    lines = ["## Training curves: entropy and pass@k over training", ""]
    if not c["pass_at_k"]:
        return lines + ["No trained method: no training curves.", ""]
    lines += ["Entropy per logged step, mean over a method's runs: `actor/entropy` is the RL policy's mean token "
              "entropy on its own rollouts; `train/entropy` (SFT, RFT, distillation, from TRL) is measured on the "
              "training targets and is not comparable with it.", "", _entropy_table(c)]
    if "entropy" in figures:
        lines += [f"![entropy]({figures['entropy']})", ""]
    k = c["k"]
    note = (f" (below the report's k={c['k_max']}: intermediate checkpoints were evaluated with fewer samples)"
            if k < c["k_max"] else "")
    lines += [f"pass@{k} at every evaluated checkpoint, k={k} being the largest k every checkpoint supports{note}; "
              f"samples per problem at the checkpoints: {', '.join(map(str, c['samples_per_problem']))}. Step 0 is "
              "the base unless a run evaluated it. Δ: paired test over problems between the two steps (per-problem "
              "pass@k, mean over the method's runs). At the reference's budget: for methods that used more than "
              f"{c['equal_compute_ratio']:g}x the reference's tokens, the last checkpoint within that budget.", "",
              _curve_table(c)]
    if "pass_over_training" in figures:
        lines += [f"![pass@k over training]({figures['pass_over_training']})", ""]
    return lines


def _curves_figures(r: Numbers, ctx: ReportContext, out: Path) -> dict[str, str]:
    c = r["training_curves"]
    if not c["pass_at_k"]:
        return {}
    from rlvr_bench.analysis import boundary_plots  # matplotlib: imported when figures are drawn

    files = {}
    entropy = {label: e for label, e in c["entropy"].items() if e is not None}
    if entropy:
        boundary_plots.plot_entropy(entropy, out / "entropy.png")
        files["entropy"] = "entropy.png"
    panels: dict[str, dict[str, Any]] = {}
    for label, cur in c["pass_at_k"].items():
        title = "RL (controls dashed)" if cur["kind"] in ("rl", "control") else "SFT, RFT, distillation, other"
        panels.setdefault(title, {})[label] = {step: point["per_run"] for step, point in cur["steps"].items()}
    controls = [label for label, cur in c["pass_at_k"].items() if cur["kind"] == "control"]
    boundary_plots.plot_pass_over_training(panels, c["k"], c["base_pass_at_k"], out / "pass_over_training.png",
                                           dashed=controls)
    files["pass_over_training"] = "pass_over_training.png"
    return files


BOUNDARY_SECTION = ReportSection("boundary", _boundary_md, _boundary_compute, keys=("boundary",),
                                 figures=_boundary_figures, findings=lambda r, ctx: boundary_findings(r))
"""pass@1 gain, pass@k_max against the base and the reference, new / lost problems, compute, controls."""

TRAINING_CURVES_SECTION = ReportSection("training_curves", _curves_md, _curves_compute, keys=("training_curves",),
                                        figures=_curves_figures, findings=lambda r, ctx: curve_findings(r))
"""Entropy and pass@k over training steps."""
