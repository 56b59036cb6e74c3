"""Training curves of a study: policy entropy and pass@k at every evaluated checkpoint (issue #19; the
asymptotic question of arXiv 2504.13837: does longer RL keep narrowing the boundary?). Pure functions of a
``StudyData`` and the runs' ``metrics.jsonl`` rows (read by the caller).

Definitions:

- entropy: ``actor/entropy`` (the RL trainer: mean token entropy of the policy on its own rollouts), else
  ``train/entropy`` (the TRL trainers: on the training targets, so not comparable with the RL value); per
  logged step, the mean over the method's runs that logged it.
- pass@k over training: intermediate checkpoints may be evaluated with fewer samples
  (``evaluation.intermediate_n``) than the final one, so the curve uses ``k`` = the largest k that every
  evaluated step of every trained run (and the base) supports; step 0 is the base's evaluation unless the run
  evaluated step 0 itself. Per step, the mean over the method's runs evaluated there.
- changes: the paired test over problems (``report_stats``) on per-problem pass@k (mean over runs) between
  step 0 and the last step every run of the method evaluated ("overall"), and between the last two such
  steps ("last interval"; only with an intermediate step).
- equal budget: for a method that used more than ``EQUAL_COMPUTE_RATIO`` times the reference's tokens, its
  last evaluated checkpoint whose cumulative tokens (``compute/*`` in metrics.jsonl, mean over runs) stay
  within that ratio of the reference's total, with pass@k there against the base's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlvr_bench.analysis.boundary import EQUAL_COMPUTE_RATIO, group_kind, run_tokens
from rlvr_bench.analysis.report_stats import _test
from rlvr_bench.analysis.runs import RunData, StudyData
from rlvr_bench.metrics import pass_at_k

__all__ = ["ENTROPY_KEYS", "curve_k", "entropy_series", "step_tokens", "training_curve_numbers"]

ENTROPY_KEYS = ("actor/entropy", "train/entropy")
"""metrics.jsonl keys of the policy entropy, in order of preference."""

Rows = Sequence[Mapping[str, Any]]


def _trained(data: StudyData) -> dict[str, list[RunData]]:
    return {label: runs for label, runs in data.methods.items() if runs[0].kind != "teacher"}


def curve_k(data: StudyData) -> int:
    """The largest k every evaluated step of every trained run (and the base's final step) supports."""
    sizes = [data.base.samples_per_problem]
    sizes += [n for runs in _trained(data).values() for run in runs for _, n in run.history.values()]
    return min(sizes)


def entropy_series(rows: Rows) -> tuple[str, dict[int, float]] | None:
    """(key, step -> entropy) from one run's metrics rows, the first key of ``ENTROPY_KEYS`` it logged."""
    for key in ENTROPY_KEYS:
        values = {int(r["step"]): float(r[key]) for r in rows
                  if "step" in r and isinstance(r.get(key), (int, float)) and math.isfinite(r[key])}
        if values:
            return key, values
    return None


def step_tokens(rows: Rows) -> dict[int, float]:
    """step -> cumulative tokens (``boundary.run_tokens`` of the row's ``compute/*`` columns)."""
    out = {}
    for row in rows:
        compute = {k.removeprefix("compute/"): v for k, v in row.items() if k.startswith("compute/")}
        tokens = run_tokens(compute)
        if tokens is not None and "step" in row:
            out[int(row["step"])] = tokens
    return out


def _tokens_at(table: Mapping[int, float], step: int) -> float | None:
    logged = [s for s in table if s <= step]
    return table[max(logged)] if logged else None


def _series(runs: Sequence[RunData], base: RunData, k: int) -> dict[int, list[np.ndarray]]:
    """step -> per-problem pass@k of each run evaluated there (step 0 from the base when a run lacks it)."""
    out: dict[int, list[np.ndarray]] = {}
    for run in runs:
        history = dict(run.history)
        history.setdefault(0, (base.correct, base.samples_per_problem))
        for step, (counts, n) in sorted(history.items()):
            out.setdefault(step, []).append(np.asarray(pass_at_k(n, counts, k), dtype=np.float64))
    return dict(sorted(out.items()))


def _change(series: Mapping[int, list[np.ndarray]], start: int, end: int, n_resamples: int,
            seed: int) -> dict[str, Any]:
    after, before = np.mean(series[end], axis=0), np.mean(series[start], axis=0)
    return {"from": start, "to": end, **_test(after, before, n_resamples, seed)}


def _equal_budget(series: Mapping[int, list[np.ndarray]], common: Sequence[int], rows: Sequence[Rows],
                  budget: float, base_problems: np.ndarray, n_resamples: int, seed: int) -> dict[str, Any]:
    """The last checkpoint whose mean cumulative tokens stay within ``EQUAL_COMPUTE_RATIO`` x ``budget``."""
    tables = [step_tokens(r) for r in rows]
    inside = {}
    for step in common:
        values = [_tokens_at(t, step) for t in tables]
        if step > 0 and values and all(v is not None for v in values):
            mean = float(np.mean(values))
            if mean <= budget * EQUAL_COMPUTE_RATIO:
                inside[step] = mean
    if not inside:
        return {"budget": budget, "step": None}
    step = max(inside)
    problems = np.mean(series[step], axis=0)
    return {"budget": budget, "step": step, "tokens": inside[step], "pass_at_k": float(problems.mean()),
            "versus_base": _test(problems, base_problems, n_resamples, seed)}


def _group_curve(runs: Sequence[RunData], base: RunData, k: int, n_resamples: int, seed: int) -> dict[str, Any]:
    """pass@k at every evaluated step of one method, with the overall and last-interval changes."""
    series = _series(runs, base, k)
    common = [s for s, values in series.items() if len(values) == len(runs)]
    out: dict[str, Any] = {
        "steps": {str(s): {"mean": float(np.mean([v.mean() for v in values])),
                           "per_run": [float(v.mean()) for v in values]} for s, values in series.items()},
        "common_steps": common, "overall": None, "last_interval": None, "equal_budget": None}
    if len(common) >= 2:
        out["overall"] = _change(series, common[0], common[-1], n_resamples, seed)
    if len(common) >= 3:
        out["last_interval"] = _change(series, common[-2], common[-1], n_resamples, seed)
    return out


def _group_entropy(rows: Sequence[Rows]) -> dict[str, Any] | None:
    """Entropy per logged step (mean over the runs that logged it), its first and last value; None if unlogged."""
    found = [s for s in (entropy_series(r) for r in rows) if s is not None]
    if not found:
        return None
    key = found[0][0]
    values = [v for name, v in found if name == key]
    steps = sorted({s for v in values for s in v})
    means = {s: float(np.mean([v[s] for v in values if s in v])) for s in steps}
    first, last = means[steps[0]], means[steps[-1]]
    return {"key": key, "runs": len(values), "steps": {str(s): m for s, m in means.items()},
            "first": {"step": steps[0], "value": first}, "last": {"step": steps[-1], "value": last},
            "change": last - first, "ratio": last / first if first else None}


def training_curve_numbers(data: StudyData, metrics: Mapping[str, Sequence[Rows]], *, k_max: int,
                           reference: str | None = None, n_resamples: int = 10_000,
                           seed: int = 0) -> dict[str, Any]:
    """Entropy and pass@k over training for every trained method (``report.json`` ``training_curves``).

    Args:
        data: the runs.
        metrics: label -> one list of metrics.jsonl rows per run, parallel to ``data.methods[label]``.
        k_max: the report's k_max (recorded, to say when the curve's k is smaller).
        reference: the reference method's label (``boundary.find_reference``), or None.
        n_resamples, seed: of the paired tests.
    """
    k = curve_k(data)
    base = data.base
    base_problems = np.asarray(pass_at_k(base.samples_per_problem, base.correct, k), dtype=np.float64)
    trained = _trained(data)
    ref_runs = trained.get(reference) if reference else None
    ref_tokens = [t for t in (run_tokens(r.compute) for r in ref_runs or []) if t is not None]
    budget = float(np.mean(ref_tokens)) if ref_tokens else None
    curves, entropy = {}, {}
    for label, runs in trained.items():
        curve = _group_curve(runs, base, k, n_resamples, seed)
        tokens = [t for t in (run_tokens(r.compute) for r in runs) if t is not None]
        if (budget and label != reference and len(tokens) == len(runs)
                and float(np.mean(tokens)) > budget * EQUAL_COMPUTE_RATIO):
            curve["equal_budget"] = _equal_budget(_series(runs, base, k), curve["common_steps"],
                                                  metrics.get(label, []), budget, base_problems, n_resamples,
                                                  seed)
        curves[label] = {"kind": group_kind(runs), **curve}
        entropy[label] = _group_entropy(metrics.get(label, []))
    sizes = sorted({n for runs in trained.values() for r in runs for _, n in r.history.values()})
    return {"k": k, "k_max": k_max, "samples_per_problem": sizes, "base_pass_at_k": float(base_problems.mean()),
            "reference": reference, "reference_tokens": budget, "equal_compute_ratio": EQUAL_COMPUTE_RATIO,
            "pass_at_k": curves, "entropy": entropy}

