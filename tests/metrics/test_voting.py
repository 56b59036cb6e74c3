import itertools
import math
import random
from fractions import Fraction

import pytest

from rlvr_bench.metrics import Estimate, cons_at_k, pass_at_k, pass_hat_k, pass_hat_k_curve
from rlvr_bench.metrics import maj_at_k as first_k_maj_at_k
from rlvr_bench.metrics.voting import _answer_table, _maj_monte_carlo, maj_at_k

ANSWERS = ["a", "a", "b", None]
CORRECT = [True, True, False, False]


def _brute_force(answers, correct, k):
    """Exact expected majority vote by enumerating every k-subset, ties averaged, in rationals."""
    verdict = {}
    for answer, ok in zip(answers, correct):
        if answer is not None:
            verdict.setdefault(answer, bool(ok))
    total, subsets = Fraction(0), 0
    for subset in itertools.combinations(range(len(answers)), k):
        subsets += 1
        votes = {}
        for i in subset:
            if answers[i] is not None:
                votes[answers[i]] = votes.get(answers[i], 0) + 1
        if votes:
            top = max(votes.values())
            tied = [a for a, v in votes.items() if v == top]
            total += Fraction(sum(verdict[a] for a in tied), len(tied))
    return total / subsets


def test_pass_hat_k_values():
    assert pass_hat_k(4, 2, 1) == 0.5
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)  # C(2,2)/C(4,2)
    assert pass_hat_k(10, 7, 3) == pytest.approx(35 / 120)  # C(7,3)/C(10,3)
    assert pass_hat_k(5, 1, 2) == 0.0 and pass_hat_k(5, 5, 5) == 1.0 and pass_hat_k(5, 0, 1) == 0.0
    # huge n: exact big-integer ratio, no overflow; C(1000,3)/C(2000,3)
    assert pass_hat_k(2000, 1000, 3) == pytest.approx(1000 * 999 * 998 / (2000 * 1999 * 1998), rel=1e-15)
    for bad in [(4, 5, 1), (4, 2, 0), (4, 2, 5), (0, 0, 1), (4, -1, 1), (4.0, 2, 1)]:
        with pytest.raises(ValueError):
            pass_hat_k(*bad)


def test_pass_hat_k_is_below_pass_at_k_and_curve_means_problems():
    for c in range(9):
        for k in range(1, 9):
            assert pass_hat_k(8, c, k) <= pass_at_k(8, c, k) + 1e-15
    curve = pass_hat_k_curve(4, [4, 2, 0, 2], [1, 2, 4])
    assert list(curve) == [1, 2, 4]
    assert curve[1] == pytest.approx(0.5)
    assert curve[2] == pytest.approx((1 + 1 / 6 + 0 + 1 / 6) / 4)
    assert curve[4] == pytest.approx(0.25)
    with pytest.raises(ValueError):
        pass_hat_k_curve(4, [], [1])
    with pytest.raises(ValueError):
        pass_hat_k_curve(4, [1], [])


def test_maj_at_k_hand_enumeration():
    # samples a1, a2 (answer a, correct), b (wrong), N (no answer)
    # k=2, C(4,2)=6 subsets: {a1,a2}: a wins -> 1; {a1,b}: tie a-b -> 1/2; {a1,N}: a -> 1;
    #   {a2,b}: 1/2; {a2,N}: 1; {b,N}: b -> 0.  Sum 4 -> 4/6 = 2/3
    # k=3, C(4,3)=4 subsets: {a1,a2,b}: a 2-1 -> 1; {a1,a2,N}: 1; {a1,b,N}: tie -> 1/2; {a2,b,N}: 1/2.
    #   Sum 3 -> 3/4
    # k=1: a in 2 of 4 single draws -> 1/2 (= pass@1); k=4: a wins 2-1 -> 1
    assert maj_at_k(ANSWERS, CORRECT, 2) == Estimate(pytest.approx(2 / 3), 0.0, True)
    assert maj_at_k(ANSWERS, CORRECT, 3).value == pytest.approx(3 / 4)
    assert maj_at_k(ANSWERS, CORRECT, 1).value == pytest.approx(1 / 2)
    assert maj_at_k(ANSWERS, CORRECT, 4).value == pytest.approx(1.0)
    result = maj_at_k(ANSWERS, CORRECT, 2)
    assert isinstance(result.value, float) and result.exact and result.stderr == 0.0


def test_maj_at_k_edge_cases():
    assert maj_at_k([None, None], [False, False], 2) == Estimate(0.0, 0.0, True)
    assert maj_at_k(["x", "y"], [False, False], 1) == Estimate(0.0, 0.0, True)
    assert maj_at_k(["x"] * 5, [True] * 5, 3).value == pytest.approx(1.0)
    # None never votes: with one answered sample in the subset, it wins alone
    assert maj_at_k([None, None, "x"], [False, False, True], 3).value == pytest.approx(1.0)
    # maj@1 is pass@1 = c/n
    answers = ["1", "2", "1", None, "3", "1", "2"]
    correct = [a == "2" for a in answers]
    assert maj_at_k(answers, correct, 1).value == pytest.approx(2 / 7)
    for bad_k in (0, 8, 1.5, True):
        with pytest.raises(ValueError):
            maj_at_k(answers, correct, bad_k)
    with pytest.raises(ValueError):
        maj_at_k(answers, correct[:-1], 1)
    with pytest.raises(ValueError):
        maj_at_k([], [], 1)


def test_maj_at_k_matches_brute_force_on_random_problems():
    rng = random.Random(0)
    for _ in range(150):
        n = rng.randint(1, 9)
        labels = [str(i) for i in range(rng.randint(1, 4))]
        answers = [rng.choice([None, *labels]) for _ in range(n)]
        right = set(rng.sample(labels, rng.randint(0, min(2, len(labels)))))  # 0, 1 or 2 correct answers
        correct = [a in right for a in answers]
        k = rng.randint(1, n)
        assert maj_at_k(answers, correct, k).value == pytest.approx(
            float(_brute_force(answers, correct, k)), abs=1e-12
        )


def test_cons_at_k_is_maj_at_k_and_first_k_variant_agrees_at_k_equals_n_without_ties():
    answers = ["7", "7", "5", None, "7", "5"]
    correct = [a == "7" for a in answers]
    for k in range(1, 7):
        assert cons_at_k(answers, correct, k) == maj_at_k(answers, correct, k)
    samples = [list(zip(answers, correct))]
    assert maj_at_k(answers, correct, 6).value == pytest.approx(first_k_maj_at_k(samples, 6)) == 1.0


def test_monte_carlo_agrees_with_exact_within_four_stderr():
    rng = random.Random(3)
    answers = [rng.choice(["12", "12", "12", "7", "7", "9", None]) for _ in range(40)]
    correct = [a == "12" for a in answers]
    counts, verdicts, none = _answer_table(answers, correct, 8)
    for k in (3, 8, 15):
        exact = maj_at_k(answers, correct, k)
        estimate = _maj_monte_carlo(counts, verdicts, none, k, 20_000, seed=0)
        assert exact.exact and not estimate.exact and estimate.stderr > 0
        assert abs(estimate.value - exact.value) <= 4 * estimate.stderr
        assert estimate == _maj_monte_carlo(counts, verdicts, none, k, 20_000, seed=0)  # seeded


def test_maj_at_k_falls_back_to_monte_carlo_above_exact_limit_and_is_fast_at_n_64():
    answers = [str(i % 3) for i in range(1001)]
    correct = [a == "0" for a in answers]
    result = maj_at_k(answers, correct, 5, max_subsets=2000, seed=1)
    assert not result.exact and 0 < result.stderr < 0.05
    assert maj_at_k(answers, correct, 5, max_subsets=2000, seed=1) == result
    # exact path at a realistic size: n = 64 samples, 8 distinct answers, every k
    answers64 = [str(min(i % 11, i % 8)) if i % 9 else None for i in range(64)]
    correct64 = [a == "1" for a in answers64]
    values = [maj_at_k(answers64, correct64, k).value for k in (1, 8, 32, 64)]
    assert all(0.0 <= v <= 1.0 for v in values) and not math.isnan(sum(values))
