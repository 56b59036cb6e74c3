"""Every number of the comparison report, computed once from a ``StudyData`` (numpy only).

The result is a plain JSON-able dict (``report.json``); the markdown tables, the plots and the "What this run
shows" sentences are all rendered from it, so the three never disagree. Definitions (papers.md):

- pass@k: the unbiased estimator of Chen et al. 2021 on each run's per-problem counts, the evaluation seeds of
  a run pooled (n x seeds samples per problem); a method's value is the mean ± sample std over its runs
  (training seeds, arXiv 2504.07086). The std is ``None`` for a single run.
- Delta_SE@k: base pass@k minus the method's mean pass@1, in points (arXiv 2504.13837).
- coverage: per run against the base at k = min(samples per problem of the two); integer problem counts
  when both have exactly k samples, expected counts otherwise (``rlvr_bench.metrics.coverage``); a method's
  value is the mean over its runs, so extra training seeds never inflate "method only".
- tests against the base: ``paired_test`` on per-problem accuracy pooled over runs and seeds (method minus
  base), and on per-problem pass@k_max; "significant" means p < 0.05. Each run alone is tested too, on
  per-problem pass@k at the largest k it and the base both support (``versus_base_per_run``): whether one
  training run, not only the pool of seeds, moved the boundary.
- RL presets against each other: the same paired test for every pair, with Holm's step-down adjustment of
  the p-values over the pairs; "significant" means adjusted p < 0.05.
- by data source (when the base's summary names two or more): the same numbers on each source's problems
  alone, with Delta_SE taken at k_max (the largest k every run supports).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlvr_bench.analysis.runs import BASE_LABEL, RunData, StudyData
from rlvr_bench.metrics import (
    accuracy_histogram,
    coverage,
    find_crossing,
    paired_test,
    pass_at_k,
    pass_at_k_curve,
    seed_mean_std,
)

__all__ = [
    "SIGNIFICANCE_LEVEL",
    "by_source_numbers",
    "compute_report_numbers",
    "core_numbers",
    "curves_for_plot",
    "default_table_ks",
    "holm_adjust",
    "pairwise_numbers",
    "progress_numbers",
]

SIGNIFICANCE_LEVEL = 0.05
COMPUTE_KEYS = ("samples", "gen_tokens", "backward_tokens", "teacher_samples", "teacher_tokens", "wall_seconds")


def _clean(value: float) -> float | None:
    """NaN -> None (JSON has no NaN)."""
    return None if value is None or math.isnan(value) else float(value)


def _powers(limit: int, base: int) -> list[int]:
    ks, k = [], 1
    while k <= limit:
        ks.append(k)
        k *= base
    return ks if ks[-1] == limit else ks + [limit]


def default_table_ks(k_max: int) -> list[int]:
    """Table columns: 1, 4, 16, 64, ... up to ``k_max``, and ``k_max`` itself."""
    return _powers(k_max, 4)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979): controls the family-wise error over the tests."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _n_eff(runs: Sequence[RunData]) -> int:
    return min(run.samples_per_problem for run in runs)


def _stat(values: Sequence[float]) -> dict[str, Any]:
    stats = seed_mean_std(values)
    return {"mean": stats.mean, "std": _clean(stats.std), "per_run": [float(v) for v in values]}


def _test(a: np.ndarray, b: np.ndarray, n_resamples: int, seed: int) -> dict[str, Any]:
    result = paired_test(a, b, n_resamples=n_resamples, seed=seed)
    return {
        "diff": result.mean_diff,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "p_value": result.p_value,
        "n_problems": result.n_problems,
        "significant": bool(result.p_value < SIGNIFICANCE_LEVEL),
    }


def _pooled_rate(runs: Sequence[RunData]) -> np.ndarray:
    """Per-problem accuracy with every run's samples pooled."""
    return np.sum([r.correct for r in runs], axis=0) / sum(r.samples_per_problem for r in runs)


def _problem_pass_at_k(runs: Sequence[RunData], k: int) -> np.ndarray:
    """Per-problem pass@k, the mean over runs."""
    return np.mean([pass_at_k(r.samples_per_problem, r.correct, k) for r in runs], axis=0)


def _run_test(run: RunData, base: RunData, n_resamples: int, seed: int) -> dict[str, Any]:
    """One run against the base: the paired test on per-problem pass@k, at the largest k both support."""
    k = min(run.samples_per_problem, base.samples_per_problem)
    return {"seed": run.seed, "path": str(run.path), "k": k,
            **_test(_problem_pass_at_k([run], k), _problem_pass_at_k([base], k), n_resamples, seed)}


def _coverage_run(base: RunData, run: RunData) -> dict[str, float]:
    k = min(base.samples_per_problem, run.samples_per_problem)
    if base.samples_per_problem == run.samples_per_problem:
        cov = coverage(base.correct, run.correct)
    else:
        cov = coverage(base.correct, run.correct, k=k, base_n=base.samples_per_problem,
                       rl_n=run.samples_per_problem)
    return {"k": k, "both": cov["both"], "base_only": cov["base_only"], "method_only": cov["rl_only"],
            "neither": cov["neither"]}


def _coverage(base: RunData, runs: Sequence[RunData]) -> dict[str, Any]:
    """Coverage against the base, per run and averaged over runs, with the share of base-unsolved problems."""
    per_run = [_coverage_run(base, run) for run in runs]
    out: dict[str, Any] = {"k": min(c["k"] for c in per_run)}
    for key in ("both", "base_only", "method_only", "neither"):
        out[key] = float(np.mean([c[key] for c in per_run]))
    unsolved = out["method_only"] + out["neither"]
    out["base_unsolved"] = unsolved
    out["method_only_share_of_base_unsolved"] = out["method_only"] / unsolved if unsolved > 0 else None
    out["per_run"] = per_run
    union = np.sum([r.correct for r in runs], axis=0)
    cov = coverage(base.correct, union)
    out["union_over_runs"] = {"both": cov["both"], "base_only": cov["base_only"], "method_only": cov["rl_only"],
                              "neither": cov["neither"]}
    return out


def _compute(runs: Sequence[RunData]) -> dict[str, Any] | None:
    """Mean compute per run over the runs that recorded it; None when none did."""
    recorded = [r.compute for r in runs if r.compute]
    if not recorded:
        return None
    out: dict[str, Any] = {"runs_with_compute": len(recorded)}
    for key in COMPUTE_KEYS:
        values = [c[key] for c in recorded if key in c]
        out[key] = float(np.mean(values)) if values else None
    if out.get("wall_seconds") is not None:
        out["wall_minutes"] = out["wall_seconds"] / 60.0
    return out


def _curve(runs: Sequence[RunData], ks: Sequence[int]) -> dict[str, Any]:
    per_run = [pass_at_k_curve(r.samples_per_problem, r.correct, ks) for r in runs]
    return {str(k): {"mean": float(np.mean([c[k] for c in per_run])), "per_run": [c[k] for c in per_run]}
            for k in ks}


def _method_block(label: str, runs: Sequence[RunData], table_ks: Sequence[int]) -> dict[str, Any]:
    """Numbers of one method that need no comparison with the base."""
    n_eff = _n_eff(runs)
    curve_ks = _powers(n_eff, 2)
    rates = _pooled_rate(runs)
    return {
        "label": label,
        "kind": runs[0].kind,
        "runs": len(runs),
        "seeds": [r.seed for r in runs],
        "paths": [str(r.path) for r in runs],
        "final_steps": [r.step for r in runs],
        "complete": [r.complete for r in runs],
        "samples_per_problem": n_eff,
        "pass_at_k": {str(k): _stat([pass_at_k_curve(r.samples_per_problem, r.correct, [k])[k] for r in runs])
                      for k in table_ks if k <= n_eff},
        "curve": _curve(runs, curve_ks),
        "accuracy_histogram": accuracy_histogram(rates).counts.tolist(),
        "compute": _compute(runs),
    }


def _versus_base(block: dict[str, Any], base: RunData, base_block: dict[str, Any], runs: Sequence[RunData],
                 *, gap_k: int, k_max: int, n_resamples: int, seed: int) -> None:
    """Add the gap, coverage, crossing and paired tests against the base to ``block``."""
    base_gap = pass_at_k_curve(base.samples_per_problem, base.correct, [gap_k])[gap_k]
    pass1 = block["pass_at_k"]["1"]
    block["gap"] = {"k": gap_k, "value": 100.0 * (base_gap - pass1["mean"]),
                    "per_run": [100.0 * (base_gap - v) for v in pass1["per_run"]]}
    block["coverage"] = _coverage(base, runs)
    block["versus_base"] = _test(_pooled_rate(runs), _pooled_rate([base]), n_resamples, seed)
    block["versus_base_at_k_max"] = {"k": k_max, **_test(_problem_pass_at_k(runs, k_max),
                                                         _problem_pass_at_k([base], k_max), n_resamples, seed)}
    block["versus_base_per_run"] = [_run_test(run, base, n_resamples, seed) for run in runs]
    base_curve = {int(k): v["mean"] for k, v in base_block["curve"].items()}
    curve = {int(k): v["mean"] for k, v in block["curve"].items()}
    crossing = find_crossing(base_curve, curve)
    block["crossing"] = None if crossing is None else {"k": crossing.k, "value": crossing.value}
    common = sorted(set(base_curve) & set(curve))
    block["curve_k_max"] = common[-1]
    block["lead_at_k"] = {str(k): curve[k] - base_curve[k] for k in common}


def _pairwise(data: StudyData, n_resamples: int, seed: int) -> list[dict[str, Any]]:
    """Paired pass@1 differences between every two RL presets, Holm-adjusted."""
    rl = [label for label, runs in data.methods.items() if runs[0].kind == "rl"]
    rows = []
    for i, a in enumerate(rl):
        for b in rl[i + 1:]:
            test = _test(_pooled_rate(data.methods[a]), _pooled_rate(data.methods[b]), n_resamples, seed)
            rows.append({"a": a, "b": b, **test})
    for row, adjusted in zip(rows, holm_adjust([r["p_value"] for r in rows])):
        row["p_holm"] = adjusted
        row["significant"] = bool(adjusted < SIGNIFICANCE_LEVEL)
    return rows


def _progress(data: StudyData, k_max: int) -> dict[str, Any]:
    """label -> step -> {"pass@1": [per run], "pass@K": [per run]}, K = ``k_max``.

    Trained methods: every evaluated step, with step 0 taken from the base when a run did not evaluate it.
    The base and the teacher (models not trained in the study) are flat reference lines from step 0 to the
    last step of any method.
    """
    key = f"pass@{k_max}"

    def point(counts: np.ndarray, n: int) -> dict[str, float]:
        out = {"pass@1": float(np.mean(counts / n))}
        if k_max <= n:
            out[key] = pass_at_k_curve(n, counts, [k_max])[k_max]
        return out

    base_point = point(data.base.correct, data.base.samples_per_problem)
    progress: dict[str, dict[str, dict[str, list[float]]]] = {}
    references = {BASE_LABEL: [base_point]}
    last = 0
    for label, runs in data.methods.items():
        if runs[0].kind == "teacher":
            references[label] = [point(r.correct, r.samples_per_problem) for r in runs]
            continue
        steps: dict[str, dict[str, list[float]]] = {}
        for run in runs:
            for step, (counts, n) in sorted(run.history.items()):
                for name, value in point(counts, n).items():
                    steps.setdefault(str(step), {}).setdefault(name, []).append(value)
            if 0 not in run.history:
                for name, value in base_point.items():
                    steps.setdefault("0", {}).setdefault(name, []).append(value)
            last = max([last, *run.history])
        progress[label] = dict(sorted(steps.items(), key=lambda kv: int(kv[0])))
    for label, points in references.items():
        values = {name: [p[name] for p in points if name in p] for name in points[0]}
        progress[label] = {str(s): values for s in sorted({0, last})}
    return progress


def _settings(data: StudyData, ks: Sequence[int] | None, gap_k: int | None) -> dict[str, Any]:
    all_runs = data.all_runs()
    k_max = min(r.samples_per_problem for r in all_runs)
    largest = max(r.samples_per_problem for r in all_runs)
    base_n = data.base.samples_per_problem
    if ks is None:
        table_ks = default_table_ks(k_max)
        dropped: list[int] = []
    else:
        wanted = sorted({1, *(int(k) for k in ks)})
        if wanted[0] < 1:
            raise ValueError(f"every k must be >= 1, got {wanted[0]}")
        table_ks = [k for k in wanted if k <= largest]
        dropped = [k for k in wanted if k > largest]
    requested = 256 if gap_k is None else int(gap_k)
    if requested < 1:
        raise ValueError(f"gap_k must be >= 1, got {requested}")
    return {"ks": table_ks, "ks_dropped": dropped, "k_max": k_max, "gap_k": min(requested, base_n),
            "gap_k_requested": requested}


def _blocks(data: StudyData, table_ks: Sequence[int], *, gap_k: int, k_max: int, n_resamples: int,
            seed: int) -> dict[str, dict[str, Any]]:
    """label -> method block (``_method_block`` + ``_versus_base``), the base first with its own gap."""
    base_block = _method_block(BASE_LABEL, [data.base], table_ks)
    methods = {BASE_LABEL: base_block}
    for label, runs in data.methods.items():
        block = _method_block(label, runs, table_ks)
        _versus_base(block, data.base, base_block, runs, gap_k=gap_k, k_max=k_max, n_resamples=n_resamples,
                     seed=seed)
        methods[label] = block
    base_gap = pass_at_k_curve(data.base.samples_per_problem, data.base.correct, [gap_k])[gap_k]
    base_block["gap"] = {"k": gap_k, "value": 100.0 * (base_gap - base_block["pass_at_k"]["1"]["mean"])}
    return methods


# keys of a method block that describe the run, not the problems: left out of the per-source blocks
_RUN_KEYS = ("seeds", "paths", "final_steps", "complete", "compute")


def _by_source(data: StudyData, k_max: int, n_resamples: int, seed: int) -> dict[str, Any] | None:
    """source -> the numbers of ``_blocks`` on that source's problems only, with pass@1, pass@k_max and
    Delta_SE at k_max; None when the study has fewer than two data sources."""
    names = data.source_names()
    if len(names) < 2:
        return None
    out = {}
    for name in names:
        part = data.subset(name)
        methods = _blocks(part, [1, k_max], gap_k=k_max, k_max=k_max, n_resamples=n_resamples, seed=seed)
        for block in methods.values():
            for key in _RUN_KEYS:
                block.pop(key, None)
        out[name] = {"source": name, "num_problems": len(part.ids), "k_max": k_max, "gap_k": k_max,
                     "methods": methods}
    return out


def core_numbers(
    data: StudyData,
    *,
    ks: Sequence[int] | None = None,
    gap_k: int | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"benchmark", "num_problems", "ids", "settings", "methods"}``: the numbers every report section
    reads (arguments as in ``compute_report_numbers``)."""
    settings = _settings(data, ks, gap_k)
    methods = _blocks(data, settings["ks"], gap_k=settings["gap_k"], k_max=settings["k_max"],
                      n_resamples=n_resamples, seed=seed)
    return {"benchmark": data.benchmark, "num_problems": len(data.ids), "ids": list(data.ids),
            "settings": settings, "methods": methods}


def pairwise_numbers(data: StudyData, *, n_resamples: int = 10_000, seed: int = 0) -> list[dict[str, Any]]:
    """Paired pass@1 differences between every two RL presets, Holm-adjusted (``report.json`` ``pairwise``)."""
    return _pairwise(data, n_resamples, seed)


def progress_numbers(data: StudyData, k_max: int) -> dict[str, Any]:
    """label -> step -> pass@1 and pass@k_max per run (``report.json`` ``progress``)."""
    return _progress(data, k_max)


def by_source_numbers(data: StudyData, k_max: int, *, n_resamples: int = 10_000,
                      seed: int = 0) -> dict[str, Any] | None:
    """The numbers per data source (``report.json`` ``by_source``); None with fewer than two sources."""
    return _by_source(data, k_max, n_resamples, seed)


def compute_report_numbers(
    data: StudyData,
    *,
    ks: Sequence[int] | None = None,
    gap_k: int | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """All numbers of the report as a JSON-able dict (the content of ``report.json`` before the text).

    Args:
        data: the runs (``collect_runs``).
        ks: pass@k table columns (1 is always added; values above every run's samples per problem are
            dropped and listed in ``settings.ks_dropped``). Default: 1, 4, 16, ... up to ``k_max``, the
            smallest samples-per-problem over all runs (the largest k every run supports).
        gap_k: k of Delta_SE; default 256; lowered to the base's samples per problem when that is smaller
            (``settings.gap_k`` is the one used, ``settings.gap_k_requested`` the one asked for).
        n_resamples, seed: of the bootstrap CIs and sign-flip tests (``rlvr_bench.metrics.paired_test``).

    Returns:
        ``{"benchmark", "num_problems", "ids", "settings", "methods": {label: block}, "pairwise": [...],
        "progress": {...}, "by_source": {...} or None}``; ``methods`` starts with ``"base"``. ``by_source``
        maps each data source to ``{"source", "num_problems", "k_max", "gap_k", "methods"}`` computed the
        same way on that source's problems (pass@1 and pass@k_max, Delta_SE at k_max, coverage, tests
        against the base); it is None unless the base's summary names two or more sources. See
        docs/study.md, "Reading the report".
    """
    numbers = core_numbers(data, ks=ks, gap_k=gap_k, n_resamples=n_resamples, seed=seed)
    k_max = numbers["settings"]["k_max"]
    return {
        **numbers,
        "pairwise": pairwise_numbers(data, n_resamples=n_resamples, seed=seed),
        "progress": progress_numbers(data, k_max),
        "by_source": by_source_numbers(data, k_max, n_resamples=n_resamples, seed=seed),
    }


def curves_for_plot(numbers: Mapping[str, Any]) -> dict[str, dict[int, list[float]]]:
    """label -> k -> per-run pass@k, the input of ``plot_pass_at_k_curves``."""
    return {label: {int(k): v["per_run"] for k, v in block["curve"].items()}
            for label, block in numbers["methods"].items()}
