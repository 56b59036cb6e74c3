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
from rlvr_bench.metrics.diversity import answer_diversity, distinct_correct_traces, ngram_diversity
from rlvr_bench.metrics.passk import pass_at_k, pass_at_k_curve, sampling_efficiency_gap
from rlvr_bench.metrics.power import degenerate_spread, min_detectable_difference, seeds_needed
from rlvr_bench.metrics.stats import (
    ConfidenceInterval,
    MeanStd,
    PairedTestResult,
    bootstrap_ci,
    paired_test,
    seed_mean_std,
    sign_test,
)
from rlvr_bench.metrics.voting import Estimate, cons_at_k, pass_hat_k, pass_hat_k_curve

# ``maj_at_k`` above is the first-k vote of ``accuracy``; the expected vote over random k-subsets of
# arXiv 2504.07086's toolkit is ``rlvr_bench.metrics.voting.maj_at_k``, exported here as ``cons_at_k``.

__all__ = [
    "HISTOGRAM_LABELS",
    "AccuracyHistogram",
    "ConfidenceInterval",
    "Crossing",
    "Estimate",
    "MeanStd",
    "PairedTestResult",
    "accuracy_histogram",
    "answer_diversity",
    "bootstrap_ci",
    "cons_at_k",
    "coverage",
    "degenerate_spread",
    "distinct_correct_traces",
    "find_crossing",
    "maj_at_k",
    "mean_at_n",
    "min_detectable_difference",
    "ngram_diversity",
    "paired_test",
    "pass_at_k",
    "pass_at_k_curve",
    "pass_hat_k",
    "pass_hat_k_curve",
    "per_problem_rates",
    "sampling_efficiency_gap",
    "seed_mean_std",
    "seeds_needed",
    "sign_test",
]
