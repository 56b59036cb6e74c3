"""Numbers of the ``validity`` report section: pass@k, CoT-pass@k, pass^k and maj@k per method.

Definitions (each method's runs at their final step, the evaluation seeds of a run pooled, n x seeds samples
per problem; a method's value is the mean over its runs, as in ``report_stats``):

- pass@k: the unbiased estimator of Chen et al. 2021 (arXiv 2107.03374) on the per-problem correct counts.
- CoT-pass@k (arXiv 2506.14245): the same estimator with c = correct samples whose trace the checker did not
  judge invalid (the summary's ``cot_correct``); never above pass@k. A run without ``cot_correct`` (written
  before trace checks, or real data without a checker) has none.
- lucky share: correct samples with an invalid trace over all correct samples (pooled over the method's runs
  with a check), the per-problem difference ``correct - cot_correct`` summed.
- pass^k (tau-bench, Yao et al. 2024, arXiv 2406.12045): all k of k samples drawn without replacement correct,
  ``C(c, k) / C(n, k)`` (``rlvr_bench.metrics.voting.pass_hat_k``).
- maj@k (self-consistency, Wang et al. 2022, arXiv 2203.11171; cons@k of DeepSeek-R1): the expected accuracy
  of a majority vote over a uniformly random k-subset of a problem's samples, from the samples' ``pred`` and
  ``correct`` (``rlvr_bench.metrics.voting.maj_at_k``): exact for n <= 1000, else a seeded Monte-Carlo mean
  with its standard error (propagated to the method's mean; ``exact`` says which).
- the test against the base: ``paired_test`` over problems of per-problem CoT-pass@k_max (a method's runs
  averaged per problem), method minus base; "significant" means p < 0.05.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlvr_bench.analysis.report_stats import SIGNIFICANCE_LEVEL
from rlvr_bench.analysis.runs import BASE_LABEL, RunData, StudyData
from rlvr_bench.metrics import paired_test, pass_at_k, pass_at_k_curve
from rlvr_bench.metrics.voting import maj_at_k, pass_hat_k_curve
from rlvr_bench.utils.rundir import RunDir, read_jsonl

__all__ = ["MAJ_KS", "RunValidity", "cot_counts", "read_validity", "validity_numbers"]

MAJ_KS = (1, 4, 16)
"""The ks of maj@k (capped at the samples per problem)."""


@dataclass
class RunValidity:
    """What one run contributes: its counts, CoT counts and, from its samples file, votes and check coverage.

    Attributes:
        run: the run.
        cot: per-problem correct-and-not-invalid counts aligned to ``StudyData.ids`` (None: not recorded).
        maj: k -> (per-problem maj@k values, per-problem standard errors, all exact); empty without samples.
        checked: per-problem number of samples with a trace verdict (None without a samples file).
    """

    run: RunData
    cot: np.ndarray | None
    maj: dict[int, tuple[np.ndarray, np.ndarray, bool]]
    checked: np.ndarray | None


def cot_counts(run: RunData, ids: Sequence[str]) -> np.ndarray | None:
    """The run's final-step ``cot_correct`` counts summed over its evaluation seeds, in the order of ``ids``;
    None when the summary has none or nothing was checked."""
    per_seed = run.summary.get("cot_correct") or {}
    checked = (run.summary.get("cot_samples") or {}).get("checked", 0)
    if not per_seed or not checked:
        return None
    seeds = {str(s) for s in run.eval_seeds}
    arrays = [np.asarray(c, dtype=np.int64) for s, c in per_seed.items() if not seeds or str(s) in seeds]
    if not arrays:
        return None
    pos = {str(pid): i for i, pid in enumerate(run.summary["ids"])}
    return np.sum(arrays, axis=0)[[pos[pid] for pid in ids]]


def _answer(line: dict[str, Any]) -> str | None:
    pred = line.get("pred")
    return None if pred is None or pred == "" else str(pred)


def _samples(run: RunData, benchmark: str, ids: Sequence[str], maj_ks: Sequence[int],
             seed: int) -> tuple[dict[int, tuple[np.ndarray, np.ndarray, bool]], np.ndarray | None]:
    """maj@k per problem and the number of checked samples per problem, from the final-step samples file."""
    path = RunDir(run.path).samples_path(run.step, benchmark)
    if not path.is_file():
        return {}, None
    seeds = set(run.eval_seeds)
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in read_jsonl(path):
        if not seeds or line.get("seed") in seeds:
            by_problem[str(line.get("id"))].append(line)
    checked = np.array([sum(line.get("cot_correct") is not None for line in by_problem.get(pid, []))
                        for pid in ids], dtype=np.int64)
    maj: dict[int, tuple[np.ndarray, np.ndarray, bool]] = {}
    for k in maj_ks:
        values, errors, exact = np.full(len(ids), np.nan), np.zeros(len(ids)), True
        for i, pid in enumerate(ids):
            lines = by_problem.get(pid, [])
            if len(lines) < k:
                continue
            est = maj_at_k([_answer(x) for x in lines], [bool(x.get("correct")) for x in lines], k, seed=seed)
            values[i], errors[i], exact = est.value, est.stderr, exact and est.exact
        maj[k] = (values, errors, exact)
    return maj, checked


def read_validity(data: StudyData, maj_ks: Sequence[int], seed: int = 0) -> dict[str, list[RunValidity]]:
    """label -> its runs' ``RunValidity`` (the base first): every file this section needs, read once."""
    groups = {BASE_LABEL: [data.base], **data.methods}
    out: dict[str, list[RunValidity]] = {}
    for label, runs in groups.items():
        out[label] = []
        for run in runs:
            ks = [k for k in maj_ks if k <= run.samples_per_problem]
            maj, checked = _samples(run, data.benchmark, data.ids, ks, seed)
            out[label].append(RunValidity(run, cot_counts(run, data.ids), maj, checked))
    return out


def _mean_curve(pairs: Sequence[tuple[int, np.ndarray]], ks: Sequence[int], hat: bool = False) -> dict[str, float]:
    """Mean over runs of the mean over problems of pass@k (or pass^k with ``hat``)."""
    curve = pass_hat_k_curve if hat else pass_at_k_curve
    per_run = [curve(n, c.tolist() if hat else c, ks) for n, c in pairs]
    return {str(k): float(np.mean([c[k] for c in per_run])) for k in ks}


def _maj(items: Sequence[RunValidity], ks: Sequence[int]) -> dict[str, Any] | None:
    """k -> {"value", "stderr", "exact"}: mean over runs of the mean over problems of maj@k."""
    read = [v for v in items if v.maj]
    if not read:
        return None
    out: dict[str, Any] = {}
    for k in ks:
        got = [v.maj[k] for v in read if k in v.maj and np.isfinite(v.maj[k][0]).any()]
        if not got:
            continue
        means = [float(np.nanmean(vals)) for vals, _, _ in got]
        # standard error of a mean of independent Monte-Carlo estimates: sqrt(sum se^2) / count, twice
        ses = [math.sqrt(float(np.sum(err[np.isfinite(vals)] ** 2))) / int(np.isfinite(vals).sum())
               for vals, err, _ in got]
        out[str(k)] = {"value": float(np.mean(means)), "stderr": math.sqrt(sum(s * s for s in ses)) / len(ses),
                       "exact": all(e for _, _, e in got)}
    return out


def _lucky(items: Sequence[RunValidity], keep: np.ndarray | None = None) -> dict[str, Any]:
    """Correct samples, those with an invalid trace, their share (None: not checked, or no correct sample),
    samples checked (None: no samples file) and whether any check was recorded on these problems."""
    with_cot = [v for v in items if v.cot is not None]
    sel = (lambda a: a) if keep is None else (lambda a: a[keep])
    correct = int(sum(sel(v.run.correct).sum() for v in with_cot))
    invalid = int(sum((sel(v.run.correct) - sel(v.cot)).sum() for v in with_cot))
    checked = None if not with_cot or any(v.checked is None for v in with_cot) else \
        int(sum(sel(v.checked).sum() for v in with_cot))
    recorded = bool(with_cot) and checked != 0
    return {"recorded": recorded, "correct": correct, "correct_invalid": invalid, "checked": checked,
            "share": invalid / correct if recorded and correct else None}


def _method(items: Sequence[RunValidity], ks: Sequence[int], maj_ks: Sequence[int]) -> dict[str, Any]:
    """One method's block (runs pooled as mean over runs)."""
    n_min = min(v.run.samples_per_problem for v in items)
    ks = [k for k in ks if k <= n_min]
    pairs = [(v.run.samples_per_problem, v.run.correct) for v in items]
    with_cot = [v for v in items if v.cot is not None]
    cot_pairs = [(v.run.samples_per_problem, v.cot) for v in with_cot]
    return {
        "kind": items[0].run.kind, "runs": len(items), "cot_runs": len(with_cot),
        "samples_runs": sum(bool(v.maj) for v in items),
        "missing_samples": [v.run.path.name for v in items if not v.maj],
        "trace_checker": next((v.run.summary.get("trace_checker") for v in with_cot), None),
        "pass_at_k": _mean_curve(pairs, ks), "cot_pass_at_k": _mean_curve(cot_pairs, ks) if with_cot else None,
        "pass_hat_k": _mean_curve(pairs, ks, hat=True), "maj_at_k": _maj(items, maj_ks),
        "lucky": _lucky(items), "versus_base": None,
    }


def _problem_cot(items: Sequence[RunValidity], k: int) -> np.ndarray:
    """Per-problem CoT-pass@k, mean over the runs with CoT counts."""
    return np.mean([pass_at_k(v.run.samples_per_problem, v.cot, k) for v in items if v.cot is not None], axis=0)


def _test(a: np.ndarray, b: np.ndarray, k: int, n_resamples: int, seed: int) -> dict[str, Any]:
    t = paired_test(a, b, n_resamples=n_resamples, seed=seed)
    return {"k": k, "diff": t.mean_diff, "ci_low": t.ci_low, "ci_high": t.ci_high, "p_value": t.p_value,
            "n_problems": t.n_problems, "significant": bool(t.p_value < SIGNIFICANCE_LEVEL)}


def _by_source(data: StudyData, runs: dict[str, list[RunValidity]], k_max: int) -> dict[str, Any] | None:
    """source -> label -> pass@1, CoT-pass@1, pass@k_max, CoT-pass@k_max and the lucky share on its problems."""
    sources = data.source_names()
    if len(sources) < 2:
        return None
    out: dict[str, Any] = {}
    for source in sources:
        keep = np.array([s == source for s in data.sources or []], dtype=bool)
        block = {}
        for label, items in runs.items():
            k = min(k_max, min(v.run.samples_per_problem for v in items))
            pairs = [(v.run.samples_per_problem, v.run.correct[keep]) for v in items]
            cot = [(v.run.samples_per_problem, v.cot[keep]) for v in items if v.cot is not None]
            lucky = _lucky(items, keep)
            block[label] = {"k": k, "pass_at_k": _mean_curve(pairs, sorted({1, k})),
                            "cot_pass_at_k": _mean_curve(cot, sorted({1, k})) if cot and lucky["recorded"]
                            else None, "lucky": lucky}
        out[source] = {"num_problems": int(keep.sum()), "methods": block}
    return out


def validity_numbers(data: StudyData, ks: Sequence[int], k_max: int, *, maj_ks: Sequence[int] = MAJ_KS,
                     n_resamples: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """``{"ks", "maj_ks", "k_max", "cot_recorded", "methods": {label: block}, "by_source"}``; see the module
    docstring for the definitions. ``ks`` are the report's table ks (each method keeps those <= its n)."""
    maj_ks = sorted({k for k in maj_ks if k <= k_max} | {1})
    runs = read_validity(data, maj_ks, seed)
    methods = {label: _method(items, ks, maj_ks) for label, items in runs.items()}
    base_items = runs[BASE_LABEL]
    base_cot = any(v.cot is not None for v in base_items)
    for label, items in runs.items():
        block = methods[label]
        if label == BASE_LABEL:
            continue
        block["pass1_gain"] = block["pass_at_k"]["1"] - methods[BASE_LABEL]["pass_at_k"]["1"]
        if base_cot and block["cot_pass_at_k"] is not None:
            block["cot_pass1_gain"] = block["cot_pass_at_k"]["1"] - methods[BASE_LABEL]["cot_pass_at_k"]["1"]
            block["versus_base"] = _test(_problem_cot(items, k_max), _problem_cot(base_items, k_max), k_max,
                                         n_resamples, seed)
    return {"ks": [int(k) for k in ks], "maj_ks": maj_ks, "k_max": int(k_max),
            "cot_recorded": any(b["cot_runs"] for b in methods.values()),
            "methods": methods, "by_source": _by_source(data, runs, k_max)}
