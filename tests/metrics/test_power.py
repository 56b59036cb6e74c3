import math

import numpy as np
import pytest

from rlvr_bench.metrics import degenerate_spread, min_detectable_difference, seeds_needed
from rlvr_bench.metrics.power import t_cdf, t_quantile

Z = 1.959963984540054 + 0.8416212335729143  # z_{0.975} + z_{0.8}


def test_t_quantiles_match_tables():
    # Student-t table values t_{0.975, df}
    for df, expected in [
        (1, 12.706204736),
        (2, 4.302652730),
        (4, 2.776445105),
        (10, 2.228138852),
        (30, 2.042272456),
    ]:
        assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-8)
    assert t_quantile(0.5, 3) == pytest.approx(0.0, abs=1e-10)
    assert t_quantile(0.025, 4) == pytest.approx(-2.776445105, abs=1e-8)
    assert t_quantile(0.975, 1e6) == pytest.approx(1.959966, abs=1e-5)
    assert t_cdf(1.0, 1) == pytest.approx(0.75)  # Cauchy: 1/2 + atan(1)/pi
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)


def test_normal_formula_values():
    assert min_detectable_difference(1.0, 10, use_t=False) == pytest.approx(Z * math.sqrt(0.2))
    assert min_detectable_difference(2.0, 4, 16, use_t=False) == pytest.approx(
        Z * 2 * math.sqrt(1 / 4 + 1 / 16)
    )
    assert min_detectable_difference(1.0, 25, paired=True, use_t=False) == pytest.approx(Z / 5)
    expected = (1.959963984540054 + 1.2815515655446004) * math.sqrt(2 / 10)  # power 0.9
    assert min_detectable_difference(1.0, 10, power=0.9, use_t=False) == pytest.approx(expected)


def test_t_answer_is_larger_with_few_seeds_and_converges():
    two = min_detectable_difference(1.0, 2)
    assert two == pytest.approx((4.302652730 + t_quantile(0.8, 2)) * 1.0)  # SE = sqrt(1/2 + 1/2) = 1
    assert two > 1.9 * min_detectable_difference(1.0, 2, use_t=False)  # 5.36 against 2.80
    big = min_detectable_difference(1.0, 5000)
    assert big == pytest.approx(min_detectable_difference(1.0, 5000, use_t=False), rel=1e-3)


def test_argument_checks():
    for kwargs in [
        {"sd": 0.0, "n_a": 5},
        {"sd": float("nan"), "n_a": 5},
        {"sd": 1.0, "n_a": 0},
        {"sd": 1.0, "n_a": 1},  # unpaired 1 + 1 seeds: df = 0
        {"sd": 1.0, "n_a": 1, "paired": True},
        {"sd": 1.0, "n_a": 5, "n_b": 6, "paired": True},
        {"sd": 1.0, "n_a": 5, "alpha": 0.0},
        {"sd": 1.0, "n_a": 5, "power": 1.0},
    ]:
        with pytest.raises(ValueError):
            min_detectable_difference(**kwargs)
    assert min_detectable_difference(1.0, 1, use_t=False) == pytest.approx(Z * math.sqrt(2))


def test_seeds_needed_inverts_min_detectable_difference():
    n = seeds_needed(4.8, 3.0)
    assert n == 42
    assert min_detectable_difference(4.8, n) <= 3.0 < min_detectable_difference(4.8, n - 1)
    assert seeds_needed(1.0, 100.0) == 2
    assert seeds_needed(1.0, 0.5) >= math.ceil(2 * (Z / 0.5) ** 2)
    with pytest.raises(ValueError):
        seeds_needed(1.0, 0.0)
    with pytest.raises(ValueError):
        seeds_needed(0.0, 1.0)


def _rejection_rate(rng, n, paired, use_t, reps=20_000):
    """Share of simulated two-sided level-0.05 tests that reject when the true difference is delta_min."""
    delta = min_detectable_difference(1.0, n, paired=paired, use_t=use_t)
    if paired:  # per-problem differences with sd 1
        diffs = rng.normal(delta, 1.0, (reps, n))
        se = diffs.std(axis=1, ddof=1) / math.sqrt(n) if use_t else 1 / math.sqrt(n)
        stat, df = diffs.mean(axis=1) / se, n - 1
    else:  # two arms of n seeds, sd 1 each, pooled t-test (or z-test with known sd)
        a, b = rng.normal(0.0, 1.0, (reps, n)), rng.normal(delta, 1.0, (reps, n))
        pooled = np.sqrt((a.var(axis=1, ddof=1) + b.var(axis=1, ddof=1)) / 2) if use_t else 1.0
        stat, df = (b.mean(axis=1) - a.mean(axis=1)) / (pooled * math.sqrt(2 / n)), 2 * n - 2
    critical = t_quantile(0.975, df) if use_t else 1.959963984540054
    return float(np.mean(np.abs(stat) > critical))


@pytest.mark.parametrize(
    ("n", "paired", "use_t"), [(3, False, False), (5, False, True), (10, True, True), (30, False, True)]
)
def test_power_matches_simulation(n, paired, use_t):
    # 20000 tests: binomial standard error sqrt(0.8 * 0.2 / 20000) = 0.0028; the t formula's own error is
    # below 0.006 for df >= 8 (see power.py), so +-0.025 is over 6 standard errors beyond it
    rate = _rejection_rate(np.random.default_rng(12345), n, paired, use_t)
    assert rate == pytest.approx(0.8, abs=0.025)


def test_degenerate_spread():
    assert degenerate_spread([]) and degenerate_spread([0.4])
    assert degenerate_spread([0.4, 0.4]) and degenerate_spread([0.3, 0.3 + 1e-13, 0.3])
    assert degenerate_spread([0.4, float("nan")])
    assert not degenerate_spread([0.4, 0.5]) and not degenerate_spread([0.4, 0.4, float("nan"), 0.41])
