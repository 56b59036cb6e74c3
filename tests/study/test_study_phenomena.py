"""Phenomenon checks: their logic on hand-made report numbers (fast), and on the default study's cached
results (slow; skipped when the study has not been run on this machine: `make study` first)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rlvr_bench.study.phenomena import (
    calibration_rows,
    check_phenomena,
    expand_check,
    narrow_check,
    narrow_per_run_check,
    sharpen_check,
)


def _block(p1: list[float], curve: dict[int, float], kind: str = "rl", cov: tuple = (100, 10, 5, 45),
           crossing: float | None = None, run_tests: tuple = ((-0.03, 0.01),)) -> dict:
    mean = sum(p1) / len(p1)
    std = (sum((v - mean) ** 2 for v in p1) / (len(p1) - 1)) ** 0.5 if len(p1) > 1 else None
    both, base_only, method_only, neither = cov
    return {"kind": kind, "runs": len(p1), "pass_at_k": {"1": {"mean": mean, "std": std, "per_run": p1}},
            "curve": {str(k): {"mean": v} for k, v in curve.items()}, "curve_k_max": max(curve),
            "coverage": {"k": max(curve), "both": both, "base_only": base_only, "method_only": method_only,
                         "neither": neither, "base_unsolved": method_only + neither,
                         "method_only_share_of_base_unsolved": method_only / (method_only + neither)},
            "crossing": None if crossing is None else {"k": crossing, "value": 0.7},
            "versus_base": {"p_value": 0.001},
            "versus_base_per_run": [{"seed": i, "k": max(curve), "diff": d, "p_value": p}
                                    for i, (d, p) in enumerate(run_tests)]}


BASE = _block([0.20], {1: 0.20, 64: 0.80}, kind="base")


def test_sharpen_needs_gain_and_three_sigmas():
    assert sharpen_check("grpo", _block([0.40, 0.42], {1: 0.41, 64: 0.7}), BASE).passed  # +0.21, sd 0.014
    assert not sharpen_check("grpo", _block([0.25, 0.27], {1: 0.26, 64: 0.7}), BASE).passed  # +0.06 < 0.10
    noisy = sharpen_check("grpo", _block([0.20, 0.60], {1: 0.40, 64: 0.7}), BASE)  # +0.20 but sd 0.28
    assert not noisy.passed and "0.7 sd" in noisy.detail
    assert not sharpen_check("grpo", _block([0.5], {1: 0.5, 64: 0.7}), BASE).passed  # one seed: spread unknown


def test_narrow_and_expand():
    crossed = narrow_check("grpo", _block([0.4, 0.41], {1: 0.4, 64: 0.7}, crossing=8.0), BASE)
    assert crossed.passed and "k≈8" in crossed.detail
    assert not narrow_check("sft", _block([0.6], {1: 0.6, 64: 0.9}), BASE).passed
    assert expand_check("sft", _block([0.6], {1: 0.6, 64: 0.9}, cov=(150, 5, 20, 25))).passed  # 20 of 45
    assert not expand_check("rft", _block([0.4], {1: 0.4, 64: 0.7}, cov=(150, 5, 2, 43))).passed  # 2 of 45


def test_narrow_per_run_needs_every_run_below_the_base_significantly():
    assert narrow_per_run_check("grpo", _block([0.4, 0.41], {1: 0.4, 64: 0.7},
                                               run_tests=((-0.03, 0.01), (-0.04, 0.002)))).passed
    one_noisy = narrow_per_run_check("grpo", _block([0.4, 0.41], {1: 0.4, 64: 0.7},
                                                    run_tests=((-0.03, 0.01), (-0.02, 0.2))))
    assert not one_noisy.passed and "s1: -0.020 p=0.200" in one_noisy.detail and "pass@64" in one_noisy.detail
    assert not narrow_per_run_check("grpo", _block([0.4], {1: 0.4, 64: 0.7}, run_tests=((0.03, 0.01),))).passed
    old = _block([0.4], {1: 0.4, 64: 0.7})
    del old["versus_base_per_run"]
    assert not narrow_per_run_check("grpo", old).passed  # a report made before the per-run tests


def test_check_phenomena_and_rows_on_a_report():
    methods = {"base": BASE, "grpo": _block([0.40, 0.42], {1: 0.41, 64: 0.7}, crossing=8.0),
               "rloo": _block([0.38, 0.40], {1: 0.39, 64: 0.72}, crossing=10.0),
               "sft": _block([0.6], {1: 0.6, 64: 0.9}, kind="sft", cov=(150, 5, 20, 25)),
               "distill_seq": _block([0.6], {1: 0.6, 64: 0.9}, kind="distill", cov=(150, 5, 20, 25))}
    report = {"methods": methods, "pairwise": [{"a": "grpo", "b": "rloo", "ci_low": -0.02, "ci_high": 0.06}]}
    checks = check_phenomena(report, sharpen=("grpo", "rloo", "dapo"))
    by = {(c.phenomenon, c.method): c.passed for c in checks}
    assert by == {("sharpen", "grpo"): True, ("sharpen", "rloo"): True, ("sharpen", "dapo"): False,
                  ("narrow", "grpo"): True, ("narrow/run", "grpo"): True, ("expand", "sft"): True, ("expand", "distill_seq"): True,
                  ("significance", "all"): True}
    rows = calibration_rows(report, {"grpo": 1.5})
    assert rows[1][:3] == ["grpo", "0.410 ± 0.014", "+0.210"] and rows[1][-1] == "1.5"


def _study_report() -> dict:
    path = Path(os.environ.get("RLVR_BENCH_STUDY_DIR", "runs/toy-study")) / "report.json"
    if not path.exists():
        pytest.skip(f"{path} not found: run the default study first (make study)")
    return json.loads(path.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("phenomenon", ["sharpen", "narrow", "narrow/run", "expand", "significance"])
def test_default_study_shows_the_phenomenon(phenomenon):
    checks = [c for c in check_phenomena(_study_report()) if c.phenomenon == phenomenon]
    missed = [f"{c.method}: {c.detail}" for c in checks if not c.passed]
    assert checks and not missed, "; ".join(missed)
