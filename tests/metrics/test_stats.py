import itertools
import math

import numpy as np
import pytest

from rlvr_bench.metrics import bootstrap_ci, paired_test, seed_mean_std, sign_test


def test_seed_mean_std_uses_sample_std():
    result = seed_mean_std([0.2, 0.3, 0.4])
    assert result.mean == pytest.approx(0.3) and result.std == pytest.approx(0.1) and result.n == 3
    one = seed_mean_std([0.5])
    assert one.mean == 0.5 and math.isnan(one.std)
    with pytest.raises(ValueError):
        seed_mean_std([])


def test_bootstrap_constant_values_and_reproducibility():
    assert bootstrap_ci([0.7] * 20)[:3] == pytest.approx((0.7, 0.7, 0.7))
    values = np.random.default_rng(1).random(50)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)


def test_bootstrap_matches_normal_approximation():
    values = np.array([0.0, 1.0] * 200)  # mean 0.5, standard error sqrt(0.25 / 400) = 0.025
    ci = bootstrap_ci(values, n_resamples=20_000)
    assert ci.estimate == 0.5 and ci.confidence == 0.95
    assert ci.low == pytest.approx(0.5 - 1.96 * 0.025, abs=0.005)
    assert ci.high == pytest.approx(0.5 + 1.96 * 0.025, abs=0.005)


def test_bootstrap_matches_exhaustive_resampling_for_three_problems():
    values = np.array([0.0, 0.3, 1.0])
    exhaustive = [np.mean(values[list(i)]) for i in itertools.product(range(3), repeat=3)]
    low, high = np.quantile(exhaustive, [0.1, 0.9])
    ci = bootstrap_ci(values, confidence=0.8, n_resamples=100_000)
    assert ci.low == pytest.approx(low, abs=0.02) and ci.high == pytest.approx(high, abs=0.02)


def test_paired_test_exact_sign_flip_p_values():
    # all differences +1: only the all-plus and all-minus sign vectors are as extreme -> 2 / 2^P
    assert paired_test([1, 1, 1], [0, 0, 0]).p_value == pytest.approx(2 / 8)
    assert paired_test([1] * 6, [0] * 6).p_value == pytest.approx(2 / 64)
    assert paired_test([1, 0], [0, 1]).p_value == 1.0  # differences +1, -1: sum 0
    # differences (1, 2): sums of +-1 +-2 are 3, -1, 1, -3 -> two of four reach |3|
    assert paired_test([1, 2], [0, 0]).p_value == pytest.approx(0.5)


def test_paired_test_fields():
    result = paired_test([0.5, 0.7, 0.9], [0.25, 0.45, 0.65])
    assert result.mean_diff == pytest.approx(0.25)
    assert result.ci_low == pytest.approx(0.25) and result.ci_high == pytest.approx(0.25)
    assert result.n_problems == 3


def test_paired_test_monte_carlo_agrees_with_exact():
    rng = np.random.default_rng(5)
    a, b = rng.random(12), rng.random(12)
    exact = paired_test(a, b, n_resamples=4096).p_value  # 2^12 = 4096: enumerated
    sampled = paired_test(a, b, n_resamples=4095).p_value  # Monte Carlo
    assert sampled == pytest.approx(exact, abs=0.03)


def test_paired_test_monte_carlo_add_one_correction():
    assert paired_test([1.0] * 30, [0.0] * 30, n_resamples=999).p_value == pytest.approx(1 / 1000)


def test_paired_test_errors():
    with pytest.raises(ValueError):
        paired_test([1, 2], [1])
    with pytest.raises(ValueError):
        paired_test([1], [1], confidence=1.5)
    with pytest.raises(ValueError):
        bootstrap_ci([1, 2], n_resamples=0)


@pytest.mark.parametrize("below,above", [(16, 0), (5, 1), (3, 3), (0, 7), (9, 4), (0, 0)])
def test_sign_test_equals_enumerating_every_sign_assignment(below, above):
    """Readable reference: the share of all 2^n direction vectors at least as uneven as the one seen."""
    n = below + above
    seen = abs(below - above)
    extreme = sum(1 for signs in itertools.product((1, -1), repeat=n) if abs(sum(signs)) >= seen)
    assert sign_test(below, above) == pytest.approx(extreme / 2**n if n else 1.0)
    assert sign_test(16, 0) == 2 / 2**16 and sign_test(5, 1) == pytest.approx(14 / 64)  # by hand


def test_sign_test_rejects_negative_counts():
    with pytest.raises(ValueError, match=">= 0"):
        sign_test(-1, 2)
