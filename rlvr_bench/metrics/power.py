"""Statistical power for comparing runs: the smallest difference a seed budget can detect, and back.

arXiv 2504.07086 ("A Sober Look at Progress in LM Reasoning") finds seed-to-seed standard deviations of
several points on small benchmarks and gains from RL that are often within that noise. Before reading a
difference as progress, ask what difference the design *could* detect:

    delta_min = (q_{1 - alpha/2} + q_{power}) * SE,

the textbook sample-size relation for a two-sided test of a difference of means (Cohen 1988, Statistical
Power Analysis, ch. 2; Chow, Shao & Wang 2008, Sample Size Calculations in Clinical Research, sec. 3.2),
where SE is the standard error of the difference and q the quantile of the test statistic's distribution:

- normal quantiles z (``use_t=False``), exact when the standard deviation is known;
- Student-t quantiles with the test's degrees of freedom (``use_t=True``, the default), the usual
  small-sample correction that replaces the noncentral t by a shifted central t. With few seeds it is
  much larger than the normal answer (two seeds per arm: df = 2, t_{0.975} = 4.30 against z = 1.96); the
  simulation in ``tests/metrics/test_power.py`` checks that it gives the stated power.

Only stdlib maths is used (scipy is not a dependency): ``statistics.NormalDist`` for z and a
continued-fraction regularised incomplete beta function (Press et al., Numerical Recipes, 3rd ed.,
sec. 6.4) for the t distribution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

_NORMAL = NormalDist()


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes 6.4)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def _regularized_beta(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution with ``df`` > 0 degrees of freedom (via I_x(df/2, 1/2))."""
    if df <= 0:
        raise ValueError(f"df must be > 0, got {df}")
    tail = 0.5 * _regularized_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t with ``df`` > 0 degrees of freedom, by bisection on ``t_cdf`` (to ~1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie in (0, 1), got {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, max(1.0, _NORMAL.inv_cdf(p))
    while t_cdf(high, df) < p:
        low, high = high, 2.0 * high
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low <= 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


def _check_level(alpha: float, power: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power}")


def _check_sd(sd: float) -> None:
    if not math.isfinite(sd) or sd <= 0.0:
        raise ValueError(
            f"sd must be finite and > 0, got {sd}; check degenerate_spread() first: values that agree "
            "say nothing about the spread"
        )


def min_detectable_difference(
    sd: float,
    n_a: int,
    n_b: int | None = None,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    paired: bool = False,
    use_t: bool = True,
) -> float:
    """Smallest true difference of means that a two-sided level-``alpha`` test detects with ``power``.

    ``delta_min = (q_{1-alpha/2} + q_{power}) * SE`` (Cohen 1988; see the module docstring), with
    ``q`` the normal quantile (``use_t=False``) or the Student-t quantile (``use_t=True``, default).

    - Unpaired (``paired=False``, the over-seeds comparison of two methods): ``sd`` is the per-seed
      standard deviation of each arm (assumed equal), ``n_a`` and ``n_b`` the seeds per arm (``n_b``
      defaults to ``n_a``); ``SE = sd * sqrt(1/n_a + 1/n_b)``, ``df = n_a + n_b - 2`` (pooled t-test).
    - Paired (``paired=True``, the over-problems comparison on the same problems): ``sd`` is the standard
      deviation of the per-problem *differences*, ``n_a`` the number of problems (``n_b`` must be None or
      equal ``n_a``); ``SE = sd / sqrt(n_a)``, ``df = n_a - 1`` (paired t-test).

    The normal answer is what a z-test with known sd achieves; it is optimistic with few units. The t
    answer shifts a central t by the effect (it ignores the noncentral t's skew): by simulation the
    achieved power is within about half a point of the target for df >= 8, about 0.79 at df = 4 and
    0.77 at df = 2 for a stated 0.80, so with two or three seeds per arm even this answer is slightly
    optimistic. Raises ``ValueError`` for
    ``sd <= 0`` (see ``degenerate_spread``), fewer than one unit, ``df < 1`` with ``use_t``, or levels
    outside (0, 1).
    """
    _check_sd(sd)
    _check_level(alpha, power)
    if paired:
        if n_b is not None and n_b != n_a:
            raise ValueError(f"a paired design has one count: n_b must be None or {n_a}, got {n_b}")
        if n_a < 1:
            raise ValueError(f"n_a must be >= 1, got {n_a}")
        se, df = sd / math.sqrt(n_a), n_a - 1
    else:
        n_b = n_a if n_b is None else n_b
        if n_a < 1 or n_b < 1:
            raise ValueError(f"each arm needs >= 1 unit, got n_a={n_a}, n_b={n_b}")
        se, df = sd * math.sqrt(1.0 / n_a + 1.0 / n_b), n_a + n_b - 2
    if use_t:
        if df < 1:
            raise ValueError(f"the t-based answer needs >= 1 degree of freedom, got df={df}")
        q = t_quantile(1.0 - alpha / 2.0, df) + t_quantile(power, df)
    else:
        q = _NORMAL.inv_cdf(1.0 - alpha / 2.0) + _NORMAL.inv_cdf(power)
    return q * se


def seeds_needed(sd: float, delta: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Seeds per arm for a two-sided unpaired t-test at level ``alpha`` to detect ``delta`` with ``power``.

    The smallest n >= 2 with ``min_detectable_difference(sd, n, n, use_t=True) <= delta``; the search
    starts at the normal-approximation answer ``ceil(2 (z_{1-alpha/2} + z_{power})^2 sd^2 / delta^2)``,
    which the t answer never undercuts. ``sd`` is the per-seed standard deviation (for instance from
    earlier runs; see ``degenerate_spread``). Example: sd = 4.8 points (arXiv 2504.07086's AIME24 spread)
    and delta = 3 points need 42 seeds per arm.
    """
    _check_sd(sd)
    _check_level(alpha, power)
    if not math.isfinite(delta) or delta <= 0.0:
        raise ValueError(f"delta must be finite and > 0, got {delta}")
    z = _NORMAL.inv_cdf(1.0 - alpha / 2.0) + _NORMAL.inv_cdf(power)
    n = max(2, math.ceil(2.0 * (z * sd / delta) ** 2))
    while min_detectable_difference(sd, n, n, alpha=alpha, power=power) > delta:
        n += 1
    return n


def degenerate_spread(values: Sequence[float]) -> bool:
    """True when a spread cannot be estimated from ``values``: fewer than 2, or all equal up to 1e-12.

    Non-finite entries (NaN for a missing seed) are dropped first. When this is True a report must say
    "two seeds that agree say nothing about the spread" rather than divide by a zero standard deviation
    or call the difference significant.
    """
    finite = [float(v) for v in values if math.isfinite(float(v))]
    if len(finite) < 2:
        return True
    return max(finite) - min(finite) <= 1e-12
