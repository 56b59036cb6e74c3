"""The boundary numbers of a study (issue #19): does a method keep the base's pass@k_max, at what compute,
and how far is it from the controls? Pure functions of a ``StudyData`` (numpy only, no file is read).

One row per method (run group; the base is the comparison, the teacher is left out: it is not trained from
the base). Definitions:

- pass@1 gain: the paired test over problems (``rlvr_bench.metrics.paired_test`` through ``report_stats``:
  percentile bootstrap CI, sign-flip p-value) on per-problem accuracy pooled over the method's runs, minus the
  base's; the same test as the pass@k table's "Δpass@1 vs base".
- pass@k_max minus the base's / the reference's: the same paired test on per-problem pass@k_max (the unbiased
  estimator per run, averaged over the method's runs); k_max is the largest k every run supports.
- the sign test over runs: every run's own pass@k (or pass@1) against the base's value (against the
  reference's seed mean for "minus the reference's"), ties dropped, exact two-sided binomial test
  (``rlvr_bench.metrics.sign_test``). With 2 runs its smallest possible p-value is 0.5.
- newly solved / lost: per run against the base, a problem is solved when at least one of its final-step
  samples is correct (c > 0); "new" = solved by the run and not by the base, "lost" = the reverse; the mean
  over the method's runs (the coverage section's numbers). When a run and the base have different samples per
  problem, expected counts at k = the smaller of the two (pass@k as the chance of solving).
- compute: the mean per run of the ``compute/*`` totals (complete.json, else the last metrics row), and
  "tokens": every token generated or passed through a model (gen + forward + backward + teacher tokens), the
  budget measure used for "equal compute": within ``EQUAL_COMPUTE_RATIO`` of the reference's tokens.
- kind: the methods registry's kind of the run's recorded method (``RunData.kind``), or ``control`` when every
  reward of the run's ``config.yaml`` (``reward.name``, or the names in ``reward.weights``) is one of
  the reward registry's controls (``rlvr_bench.rewards.control_rewards()``: rewards that do not measure
  correctness).
- reference: ``report.reference`` when given, else the run group of the ``grpo`` preset with a reward that is
  not a control (the group labelled ``grpo`` first).
- verdicts: "up" / "down" when the paired test is significant (p < 0.05) in that direction, else "flat";
  Holm-adjusted p-values over the methods are kept alongside (``p_holm``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlvr_bench.analysis.report_stats import (
    SIGNIFICANCE_LEVEL,
    _compute,
    _coverage,
    _pooled_rate,
    _problem_pass_at_k,
    _test,
    holm_adjust,
)
from rlvr_bench.analysis.runs import RunData, StudyData
from rlvr_bench.metrics import sign_test
from rlvr_bench.rewards import control_rewards

__all__ = [
    "EQUAL_COMPUTE_RATIO",
    "REFERENCE_PRESET",
    "TOKEN_KEYS",
    "boundary_numbers",
    "direction",
    "find_reference",
    "group_kind",
    "is_control",
    "reward_name",
    "run_tokens",
    "sign_counts",
]


REFERENCE_PRESET = "grpo"
"""The preset of the default reference (``report.reference`` unset)."""

EQUAL_COMPUTE_RATIO = 1.25
"""Two runs are at equal compute when their token totals differ by at most this factor."""

TOKEN_KEYS = ("gen_tokens", "forward_tokens", "backward_tokens", "teacher_tokens")
"""The ``compute/*`` totals summed into a run's "tokens"."""

_TIE = 1e-12


def _reward_names(run: RunData) -> list[str]:
    """The rewards a run trained on: ``reward.weights``' names with a non-zero weight when set (they replace
    ``reward.name``), else ``reward.name``; empty when the run recorded no config."""
    reward = run.config.get("reward")
    if not isinstance(reward, Mapping):
        return [str(reward)] if reward else []
    weights = reward.get("weights")
    if isinstance(weights, Mapping) and weights:
        return [str(name) for name, weight in weights.items() if weight]
    return [str(reward["name"])] if reward.get("name") else []


def reward_name(run: RunData) -> str | None:
    """The reward recorded in the run's ``config.yaml`` (names of a weighted sum joined by ``+``); None when
    not recorded."""
    return "+".join(_reward_names(run)) or None


def is_control(run: RunData) -> bool:
    """Whether every reward the run trained on is a control reward (registered with ``control=True``)."""
    names = _reward_names(run)
    controls = set(control_rewards())
    return bool(names) and all(name in controls for name in names)


def group_kind(runs: Sequence[RunData]) -> str:
    """The kind of a run group: ``control`` when a run used a control reward, else its ``RunData.kind``."""
    kind = runs[0].kind
    if kind not in ("base", "teacher") and any(is_control(r) for r in runs):
        return "control"
    return kind


def _preset(label: str, run: RunData) -> str | None:
    algorithm = run.config.get("algorithm")
    if isinstance(algorithm, Mapping) and algorithm.get("preset"):
        return str(algorithm["preset"])
    return label if not run.config else None  # imported runs: the label names the preset (runs.method_kind)


def find_reference(data: StudyData, requested: str | None = None) -> dict[str, Any]:
    """``{"label", "source", "note"}``: the method that "minus the reference's" compares with.

    ``requested`` (``report.reference``) wins when it names a trained method of the study; otherwise (or when
    missing) the default: an RL group of preset ``REFERENCE_PRESET`` whose reward is not a control, the one
    labelled ``grpo`` first. ``label`` is None when there is none; ``note`` then says why.
    """
    trained = {label: runs for label, runs in data.methods.items() if runs[0].kind != "teacher"}
    if requested:
        if requested in trained:
            return {"label": requested, "source": "report.reference", "note": None}
        return {"label": None, "source": "report.reference",
                "note": f"the reference {requested!r} (report.reference) is not among the runs"}
    candidates = [label for label, runs in trained.items() if group_kind(runs) == "rl"
                  and _preset(label, runs[0]) == REFERENCE_PRESET]
    if not candidates:
        return {"label": None, "source": None,
                "note": f"no run of the {REFERENCE_PRESET} preset with a verifiable reward"}
    label = REFERENCE_PRESET if REFERENCE_PRESET in candidates else candidates[0]
    return {"label": label, "source": "default", "note": None}


def direction(test: Mapping[str, Any] | None) -> str | None:
    """``"up"``, ``"down"`` (significant, p < 0.05) or ``"flat"`` (within noise); None without a test."""
    if test is None:
        return None
    if not test["p_value"] < SIGNIFICANCE_LEVEL:
        return "flat"
    return "up" if test["diff"] > 0 else "down"


def sign_counts(values: Sequence[float], reference: float) -> dict[str, Any]:
    """Runs below / above / level with ``reference``, and the exact sign test over them (ties dropped)."""
    below = sum(v < reference - _TIE for v in values)
    above = sum(v > reference + _TIE for v in values)
    return {"below": int(below), "above": int(above), "ties": len(values) - below - above,
            "p_value": sign_test(below, above)}


def run_tokens(compute: Mapping[str, float]) -> float | None:
    """A run's "tokens" (the sum of ``TOKEN_KEYS`` in its compute totals); None when it recorded none."""
    values = [float(compute[k]) for k in TOKEN_KEYS if k in compute]
    return sum(values) if values else None


def _pass1(run: RunData) -> float:
    return float(np.mean(run.correct / run.samples_per_problem))


def _pass_k(run: RunData, k: int) -> float:
    return float(np.mean(_problem_pass_at_k([run], k)))


def _solved(base: RunData, runs: Sequence[RunData], ids: Sequence[str]) -> dict[str, Any]:
    """New and lost problems against the base, mean over runs, with the ids new (lost) in every run."""
    cov = _coverage(base, runs)
    out: dict[str, Any] = {"k": cov["k"], "new": cov["method_only"], "lost": cov["base_only"],
                           "new_per_run": [c["method_only"] for c in cov["per_run"]],
                           "lost_per_run": [c["base_only"] for c in cov["per_run"]],
                           "new_in_every_run": None, "lost_in_every_run": None}
    if all(r.samples_per_problem == base.samples_per_problem for r in runs):
        solved = np.array([r.correct > 0 for r in runs])
        by_base = base.correct > 0
        out["new_in_every_run"] = [ids[i] for i in np.flatnonzero(solved.all(axis=0) & ~by_base)]
        out["lost_in_every_run"] = [ids[i] for i in np.flatnonzero(~solved.any(axis=0) & by_base)]
    return out


def _compute_block(runs: Sequence[RunData]) -> dict[str, Any] | None:
    """Mean compute per run (``report_stats``' columns) plus the mean "tokens"; None when none recorded."""
    block = _compute(runs)
    if block is None:
        return None
    tokens = [t for t in (run_tokens(r.compute) for r in runs) if t is not None]
    block["tokens"] = float(np.mean(tokens)) if tokens else None
    return block


def _row(data: StudyData, label: str, runs: Sequence[RunData], k: int, n_resamples: int,
         seed: int) -> dict[str, Any]:
    """One method against the base: pass@1 and pass@k with their tests, solved problems, compute."""
    base = data.base
    p1, pk = [_pass1(r) for r in runs], [_pass_k(r, k) for r in runs]
    p1_test = _test(_pooled_rate(runs), _pooled_rate([base]), n_resamples, seed)
    pk_test = _test(_problem_pass_at_k(runs, k), _problem_pass_at_k([base], k), n_resamples, seed)
    return {
        "label": label,
        "kind": group_kind(runs),
        "reward": reward_name(runs[0]),
        "runs": len(runs),
        "seeds": [r.seed for r in runs],
        "steps": [r.step for r in runs],
        "pass_at_1": {"mean": float(np.mean(p1)), "per_run": p1, "versus_base": p1_test,
                      "sign_versus_base": sign_counts(p1, _pass1(base))},
        "pass_at_k": {"mean": float(np.mean(pk)), "per_run": pk, "versus_base": pk_test,
                      "sign_versus_base": sign_counts(pk, _pass_k(base, k)), "versus_reference": None},
        "solved": _solved(base, runs, data.ids),
        "compute": _compute_block(runs),
        "versus_best_control": None,
        "verdict": {"pass_at_1": direction(p1_test), "pass_at_k": direction(pk_test)},
    }


def _versus_reference(rows: dict[str, dict[str, Any]], data: StudyData, ref: str, k: int, n_resamples: int,
                      seed: int) -> None:
    """Add pass@k minus the reference's (paired test, sign test over runs) and the compute ratio to ``rows``."""
    ref_runs = data.methods[ref]
    ref_problems = _problem_pass_at_k(ref_runs, k)
    ref_mean = rows[ref]["pass_at_k"]["mean"]
    ref_tokens = (rows[ref]["compute"] or {}).get("tokens")
    for label, row in rows.items():
        compute = row["compute"]
        if compute is not None:
            ratio = compute["tokens"] / ref_tokens if ref_tokens and compute.get("tokens") is not None else None
            compute["tokens_versus_reference"] = ratio
            compute["equal_compute"] = (None if ratio is None
                                        else bool(1 / EQUAL_COMPUTE_RATIO <= ratio <= EQUAL_COMPUTE_RATIO))
        if label == ref:
            continue
        test = _test(_problem_pass_at_k(data.methods[label], k), ref_problems, n_resamples, seed)
        row["pass_at_k"]["versus_reference"] = {
            **test, "sign": sign_counts(row["pass_at_k"]["per_run"], ref_mean)}
        row["verdict"]["pass_at_k_versus_reference"] = direction(test)


def _best_controls(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, str] | None:
    """The control with the highest mean pass@1 and the one with the highest mean pass@k; None without one."""
    controls = [label for label, row in rows.items() if row["kind"] == "control"]
    if not controls:
        return None
    return {metric: max(controls, key=lambda c: rows[c][metric]["mean"]) for metric in ("pass_at_1", "pass_at_k")}


def _versus_controls(rows: dict[str, dict[str, Any]], data: StudyData, best: Mapping[str, str], k: int,
                     n_resamples: int, seed: int) -> None:
    """Add each method's distance from the best control (pass@1 and pass@k, paired tests) to ``rows``."""
    p1_ref = _pooled_rate(data.methods[best["pass_at_1"]])
    pk_ref = _problem_pass_at_k(data.methods[best["pass_at_k"]], k)
    for label, row in rows.items():
        if row["kind"] == "control":
            continue
        runs = data.methods[label]
        row["versus_best_control"] = {
            "pass_at_1": {"control": best["pass_at_1"], **_test(_pooled_rate(runs), p1_ref, n_resamples, seed)},
            "pass_at_k": {"control": best["pass_at_k"],
                          **_test(_problem_pass_at_k(runs, k), pk_ref, n_resamples, seed)},
        }


def _add_holm(rows: Mapping[str, dict[str, Any]]) -> None:
    """Holm-adjusted p-values over the methods for pass@k against the base and against the reference."""
    for key in ("versus_base", "versus_reference"):
        tests = [row["pass_at_k"][key] for row in rows.values() if row["pass_at_k"][key] is not None]
        for test, adjusted in zip(tests, holm_adjust([t["p_value"] for t in tests])):
            test["p_holm"] = adjusted


def boundary_numbers(data: StudyData, k: int, *, reference: str | None = None, n_resamples: int = 10_000,
                     seed: int = 0) -> dict[str, Any]:
    """The boundary table's numbers (``report.json`` ``boundary``).

    Args:
        data: the runs.
        k: the k of "pass@k_max" (the report's ``settings.k_max``: the largest k every run supports).
        reference: ``report.reference`` (a method label), or None for the default (``find_reference``).
        n_resamples, seed: of the paired tests.

    Returns:
        ``{"k", "base": {"pass_at_1", "pass_at_k", "samples_per_problem"}, "reference": {"label", "source",
        "note"}, "controls", "best_control", "control_rewards", "equal_compute_ratio", "methods": {label:
        row}}``; see the module docstring for each row's entries.
    """
    ref = find_reference(data, reference)
    rows = {label: _row(data, label, runs, k, n_resamples, seed)
            for label, runs in data.methods.items() if runs[0].kind != "teacher"}
    if ref["label"] is not None:
        _versus_reference(rows, data, ref["label"], k, n_resamples, seed)
    best = _best_controls(rows)
    if best is not None:
        _versus_controls(rows, data, best, k, n_resamples, seed)
    _add_holm(rows)
    base = data.base
    return {"k": k,
            "base": {"pass_at_1": _pass1(base), "pass_at_k": _pass_k(base, k),
                     "samples_per_problem": base.samples_per_problem},
            "reference": ref,
            "controls": [label for label, row in rows.items() if row["kind"] == "control"],
            "best_control": best,
            "control_rewards": control_rewards(),
            "equal_compute_ratio": EQUAL_COMPUTE_RATIO,
            "methods": rows}
