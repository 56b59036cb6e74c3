"""Evaluation metrics on stored per-problem correct counts (numpy only; no torch import).

See docs/evaluation.md for the definitions, their papers and worked examples.
"""

from rlvr_bench.metrics.accuracy import (
    HISTOGRAM_LABELS,
    AccuracyHistogram,
    accuracy_histogram,
    maj_at_k,
    mean_at_n,
    per_problem_rates,
)
from rlvr_bench.metrics.coverage import coverage
from rlvr_bench.metrics.curves import Crossing, find_crossing
from rlvr_bench.metrics.passk import pass_at_k, pass_at_k_curve, sampling_efficiency_gap
from rlvr_bench.metrics.stats import (
    ConfidenceInterval,
    MeanStd,
    PairedTestResult,
    bootstrap_ci,
    paired_test,
    seed_mean_std,
    sign_test,
)

__all__ = [
    "HISTOGRAM_LABELS",
    "AccuracyHistogram",
    "ConfidenceInterval",
    "Crossing",
    "MeanStd",
    "PairedTestResult",
    "accuracy_histogram",
    "bootstrap_ci",
    "coverage",
    "find_crossing",
    "maj_at_k",
    "mean_at_n",
    "paired_test",
    "pass_at_k",
    "pass_at_k_curve",
    "per_problem_rates",
    "sampling_efficiency_gap",
    "seed_mean_std",
    "sign_test",
]
