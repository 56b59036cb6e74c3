"""Statistics for comparing runs: seed mean ± std, bootstrap CIs over problems, paired tests.

arXiv 2504.07086 ("A Sober Look at Progress in LM Reasoning") shows seed-to-seed swings of several points
on small benchmarks and asks for mean ± std over seeds; the bootstrap (Efron 1979; percentile intervals,
Efron & Tibshirani 1993) and the paired randomisation test (Fisher 1935; sign-flip form) quantify the
uncertainty that comes from the finite set of problems.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from rlvr_bench.metrics._arrays import as_1d_float

# Rows of a resampling chunk times problems: bounds the temporary matrices to about 32 MB.
_CHUNK_CELLS = 4_000_000


class MeanStd(NamedTuple):
    """Mean and sample standard deviation (ddof=1) over ``n`` seeds."""

    mean: float
    std: float
    n: int


class ConfidenceInterval(NamedTuple):
    """Point estimate with a two-sided ``confidence`` interval ``[low, high]``."""

    estimate: float
    low: float
    high: float
    confidence: float


class PairedTestResult(NamedTuple):
    """Paired comparison of two runs on the same problems: mean of a - b, its CI, and a p-value."""

    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n_problems: int


def seed_mean_std(values: ArrayLike) -> MeanStd:
    """Mean ± sample standard deviation (ddof=1, Bessel-corrected) of one metric over seeds.

    This is the "mean ± std over seeds" of arXiv 2504.07086. With a single seed the std is undefined and
    returned as NaN (never as 0, which would claim no variance).
    """
    v = as_1d_float(values, "values")
    std = float(np.std(v, ddof=1)) if v.size > 1 else float("nan")
    return MeanStd(float(v.mean()), std, int(v.size))


def _chunks(total: int, width: int) -> list[int]:
    rows = max(1, _CHUNK_CELLS // max(width, 1))
    return [min(rows, total - start) for start in range(0, total, rows)]


def _bootstrap_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_resamples`` resamples of ``values`` drawn with replacement."""
    out = []
    for rows in _chunks(n_resamples, values.size):
        idx = rng.integers(0, values.size, size=(rows, values.size))
        out.append(values[idx].mean(axis=1))
    return np.concatenate(out)


def _percentiles(means: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def _check_args(confidence: float, n_resamples: int) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")


def bootstrap_ci(
    values: ArrayLike, *, confidence: float = 0.95, n_resamples: int = 10_000, seed: int = 0
) -> ConfidenceInterval:
    """Percentile bootstrap CI of the mean over problems (Efron & Tibshirani 1993, ch. 13).

    ``values`` holds one number per problem (for example c/n, or a per-problem pass@k). Problems are
    resampled with replacement ``n_resamples`` times with ``numpy.random.default_rng(seed)``; the interval
    is the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles of the resampled means.
    """
    _check_args(confidence, n_resamples)
    v = as_1d_float(values, "values")
    means = _bootstrap_means(v, n_resamples, np.random.default_rng(seed))
    low, high = _percentiles(means, confidence)
    return ConfidenceInterval(float(v.mean()), low, high, confidence)


def _sign_flip_p_value(diff: np.ndarray, n_resamples: int, rng: np.random.Generator) -> float:
    """Two-sided p-value of the paired sign-flip randomisation test for mean(diff) = 0.

    Exact (all 2^P sign vectors) when 2^P <= n_resamples, else Monte Carlo with the add-one correction
    p = (1 + #{|flipped sum| >= |observed sum|}) / (1 + n_resamples), which keeps the test valid.
    """
    observed = abs(diff.sum())
    tol = 1e-9 * max(1.0, float(np.abs(diff).sum()))
    if diff.size < 31 and 2**diff.size <= n_resamples:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=diff.size)))
        return float(np.mean(np.abs(signs @ diff) >= observed - tol))
    extreme = 0
    for rows in _chunks(n_resamples, diff.size):
        signs = rng.integers(0, 2, size=(rows, diff.size)) * 2.0 - 1.0
        extreme += int(np.sum(np.abs(signs @ diff) >= observed - tol))
    return (1 + extreme) / (1 + n_resamples)


def paired_test(
    a: ArrayLike,
    b: ArrayLike,
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> PairedTestResult:
    """Paired comparison of two runs scored on the same problems, in the same order.

    ``a`` and ``b`` hold one number per problem (typically accuracy c/n, pooled over seeds). Returns the
    mean of ``a - b``, a percentile paired-bootstrap CI of it (problems resampled jointly, see
    ``bootstrap_ci``) and the two-sided p-value of the sign-flip randomisation test (Fisher 1935): under
    the null, each problem's difference is equally likely to have either sign. The test is exact when
    2^P <= n_resamples (P problems), else Monte Carlo. Seeded: equal inputs give equal results.
    """
    _check_args(confidence, n_resamples)
    x, y = as_1d_float(a, "a"), as_1d_float(b, "b")
    if x.size != y.size:
        raise ValueError(f"paired test needs the same problems: got {x.size} and {y.size} values")
    diff = x - y
    boot_rng, perm_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    low, high = _percentiles(_bootstrap_means(diff, n_resamples, boot_rng), confidence)
    p = _sign_flip_p_value(diff, n_resamples, perm_rng)
    return PairedTestResult(float(diff.mean()), low, high, p, int(diff.size))


def sign_test(below: int, above: int) -> float:
    """Exact two-sided sign test (binomial, p = 1/2; ties are dropped before counting).

    Args:
        below, above: how many paired units moved each way (e.g. training runs whose pass@k_max ended
            below / above the base's).
    Returns:
        P(a split at least this uneven | no preferred direction) = min(1, 2 * P(X <= min(below, above)))
        for X ~ Binomial(below + above, 1/2); 1.0 when there is nothing to count.

    >>> sign_test(16, 0)  # 2 / 2**16
    3.0517578125e-05
    """
    if below < 0 or above < 0:
        raise ValueError(f"counts must be >= 0, got {below} and {above}")
    n = below + above
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(below, above) + 1)) / 2**n
    return min(1.0, 2 * tail)
