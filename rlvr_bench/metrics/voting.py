"""Voting metrics on n samples per problem: pass^k and the expected majority vote maj@k (= cons@k).

- pass^k (tau-bench, Yao et al. 2024, arXiv 2406.12045): the probability that *all* k samples drawn
  without replacement from the n samples are correct, ``C(c, k) / C(n, k)``. It is the mirror image of
  pass@k (Chen et al. 2021, arXiv 2107.03374): pass@k asks "is any of k samples right?", pass^k asks "are
  all of them right?", so it falls with k and measures consistency rather than coverage.
- maj@k (self-consistency, Wang et al. 2022, arXiv 2203.11171): the accuracy of the majority answer of k
  samples. Here it is the *expected* accuracy over a uniformly random k-subset of the n stored samples,
  the same subset estimator as unbiased pass@k, so any k <= n is scored from one set of samples and the
  value does not depend on the order the samples happen to be stored in. arXiv 2504.07086 ("A Sober
  Look") asks for such order-free, seed-averaged numbers.
- cons@k: DeepSeek-R1 (arXiv 2501.12948) and OpenAI's o1 report "cons@64", the consensus (majority vote)
  of 64 samples. That is maj@k at k = 64, not a different statistic, so ``cons_at_k`` is ``maj_at_k``.

``rlvr_bench.metrics.accuracy.maj_at_k`` (exported as ``rlvr_bench.metrics.maj_at_k``) is the older,
simpler variant: the vote of the *first* k samples, ties to the first-seen answer. The function here is
its expectation over subsets and tie-breaks; the two agree at k = n when no tie occurs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# C(n, k) <= 2**n stays below the float64 maximum (about 1.8e308) for n <= 1000; above that the exact
# formula would overflow and maj@k falls back to Monte-Carlo.
_MAX_EXACT_N = 1000
# Rows of one Monte-Carlo chunk times n: bounds the temporary matrices to about 32 MB.
_CHUNK_CELLS = 4_000_000


@dataclass(frozen=True)
class Estimate:
    """A value with its standard error; ``exact`` is True when the value is computed, not sampled.

    Exact values have ``stderr == 0.0``. Monte-Carlo values carry the standard error of their mean.
    """

    value: float
    stderr: float
    exact: bool


def _check_nck(n: int, c: int, k: int) -> None:
    for name, value in (("n", n), ("c", c), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0 <= c <= n:
        raise ValueError(f"c must lie in [0, n], got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"k must lie in [1, n], got k={k}, n={n}")


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: probability that k samples drawn without replacement from n (c correct) are all correct.

    ``pass^k = C(c, k) / C(n, k)``, the unbiased estimator of tau-bench's pass^k (Yao et al. 2024,
    arXiv 2406.12045), the all-correct counterpart of unbiased pass@k (Chen et al. 2021). It is 0 when
    ``c < k``, 1 when ``c == n``, and ``c / n`` at k = 1. Python's integer division of the two exact
    binomials is correctly rounded, so the result is exact to the last bit for any n.
    Raises ``ValueError`` unless ``1 <= k <= n`` and ``0 <= c <= n`` are integers.
    """
    _check_nck(n, c, k)
    return math.comb(int(c), int(k)) / math.comb(int(n), int(k))


def pass_hat_k_curve(n: int, counts: Sequence[int], ks: Iterable[int]) -> dict[int, float]:
    """Mean over problems of pass^k for each k in ``ks``; ``counts`` holds one correct count per problem.

    All problems share the sample count ``n``. Returns ``{k: mean pass^k}`` in the order of ``ks``.
    """
    c_list = [int(c) for c in counts]
    if not c_list:
        raise ValueError("counts must hold at least one problem")
    k_list = [int(k) for k in ks]
    if not k_list:
        raise ValueError("ks must not be empty")
    histogram: dict[int, int] = {}
    for c in c_list:
        histogram[c] = histogram.get(c, 0) + 1
    out: dict[int, float] = {}
    for k in k_list:
        total = sum(m * pass_hat_k(n, c, k) for c, m in histogram.items())
        out[k] = total / len(c_list)
    return out


def _answer_table(
    answers: Sequence[Hashable | None], correct: Sequence[bool], k: int
) -> tuple[list[int], list[bool], int]:
    """Validate and group the samples: (count per distinct answer, its verdict, number of None answers).

    The verdict of an answer is the flag of its first occurrence (the verifier gives equal answers equal
    verdicts; inconsistent flags are not checked). Answers keep first-seen order.
    """
    if len(answers) != len(correct):
        raise ValueError(f"answers has {len(answers)} entries but correct has {len(correct)}")
    n = len(answers)
    if n == 0:
        raise ValueError("answers must hold at least one sample")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer in [1, n={n}], got {k!r}")
    counts: dict[Hashable, int] = {}
    verdict: dict[Hashable, bool] = {}
    for answer, flag in zip(answers, correct):
        if answer is None:
            continue
        counts[answer] = counts.get(answer, 0) + 1
        verdict.setdefault(answer, bool(flag))
    return list(counts.values()), [verdict[a] for a in counts], n - sum(counts.values())


@functools.lru_cache(maxsize=4)
def _binomial_rows(n: int) -> np.ndarray:
    """``B[m, x] = C(m, x)`` as float64 for 0 <= x <= m <= n (0 above the diagonal); read-only, made once per
    n (a report scores every problem of every run with the same n: at n = 512 building it per problem took
    160 of a study report's 200 s)."""
    table = np.zeros((n + 1, n + 1))
    for m in range(n + 1):
        table[m, : m + 1] = [float(math.comb(m, x)) for x in range(m + 1)]
    table.setflags(write=False)
    return table


def _win_weight(target: int, others: list[int], none: int, k: int, binom: np.ndarray) -> float:
    """Number of k-subsets, weighted by the tie-break, in which the answer with ``target`` samples wins.

    ``others`` are the sample counts of the other answers and ``none`` the number of samples without an
    answer. For each t = votes of the target in the subset (1 <= t <= k), every other answer b must get
    x_b <= t votes, and those with x_b == t tie with it. A table ``poly[s, j]`` (s samples drawn besides
    the target's t, j answers tied with the target) is built answer by answer from the Vandermonde
    products ``prod_b C(m_b, x_b)``; a subset with j ties is won with probability 1 / (j + 1) under a
    uniform tie-break. Answers with fewer than t samples can never reach t votes, so they join the None
    samples in a free pool counted by one binomial ``C(free, s)``.
    """
    total = 0.0
    for t in range(1, min(target, k) + 1):
        rivals = [m for m in others if m >= t]
        free = none + sum(m for m in others if m < t)
        size = k - t  # samples still to draw besides the target's t votes
        poly = np.zeros((size + 1, len(rivals) + 1))
        upto = min(free, size)
        poly[: upto + 1, 0] = binom[free, : upto + 1]
        for j_max, m in enumerate(rivals, start=1):
            new = np.zeros_like(poly)
            for x in range(min(t, m, size) + 1):
                shifted = binom[m, x] * poly[: size + 1 - x, :]
                if x < t:
                    new[x:, :] += shifted
                else:  # x == t: one more answer tied with the target
                    new[x:, 1 : j_max + 1] += shifted[:, :j_max]
            poly = new
        tie_share = 1.0 / np.arange(1, len(rivals) + 2)
        total += float(binom[target, t]) * float(poly[size, :] @ tie_share)
    return total


def _maj_exact(counts: list[int], verdicts: list[bool], none: int, k: int) -> float:
    """Expected majority-vote accuracy over all C(n, k) subsets, by the counting of ``_win_weight``."""
    n = sum(counts) + none
    binom = _binomial_rows(n)
    wins = 0.0
    for index, (m, ok) in enumerate(zip(counts, verdicts)):
        if ok:
            wins += _win_weight(m, counts[:index] + counts[index + 1 :], none, k, binom)
    return float(min(1.0, max(0.0, wins / float(math.comb(n, k)))))


def _maj_monte_carlo(
    counts: list[int], verdicts: list[bool], none: int, k: int, n_subsets: int, seed: int
) -> Estimate:
    """Mean and standard error of the tie-averaged vote over ``n_subsets`` uniform k-subsets (seeded).

    Each subset scores (correct answers among the tied winners) / (number of tied winners), the exact
    expectation over the tie-break given the subset, which keeps the estimator unbiased with less noise
    than drawing the tie-break too. A subset without any answer scores 0.
    """
    if n_subsets < 2:
        raise ValueError(f"max_subsets must be >= 2 for a Monte-Carlo estimate, got {n_subsets}")
    n_answers = len(counts)
    labels = np.repeat(np.arange(n_answers + 1), counts + [none])  # label n_answers = no answer
    ok = np.asarray(verdicts + [False], dtype=np.float64)
    n = labels.size
    rng = np.random.default_rng(seed)
    scores = np.empty(n_subsets)
    width = max(1, _CHUNK_CELLS // n)
    for start in range(0, n_subsets, width):
        rows = min(width, n_subsets - start)
        picks = np.argpartition(rng.random((rows, n)), k - 1, axis=1)[:, :k]  # uniform k-subsets
        flat = labels[picks] + (n_answers + 1) * np.arange(rows)[:, None]
        votes = np.bincount(flat.ravel(), minlength=rows * (n_answers + 1)).reshape(rows, n_answers + 1)
        votes[:, n_answers] = 0  # None does not vote
        top = votes.max(axis=1, keepdims=True)
        tied = (votes == top) & (top > 0)
        n_tied = np.maximum(tied.sum(axis=1), 1)
        scores[start : start + rows] = (tied @ ok) / n_tied
    return Estimate(float(scores.mean()), float(scores.std(ddof=1) / math.sqrt(n_subsets)), False)


def maj_at_k(
    answers: Sequence[str | None],
    correct: Sequence[bool],
    k: int,
    *,
    max_subsets: int = 20000,
    seed: int = 0,
) -> Estimate:
    """Expected accuracy of majority voting over a uniformly random k-subset of one problem's n samples.

    Self-consistency (Wang et al. 2022, arXiv 2203.11171) scored like unbiased pass@k (Chen et al. 2021):
    ``answers[i]`` is sample i's extracted, normalised answer (equal answers must compare equal; any
    hashable works) or ``None`` when none was extracted; ``correct[i]`` is its verdict. In a k-subset the
    most frequent non-None answer wins; ``None`` does not vote; a subset with no vote scores 0; ties are
    broken uniformly at random among the tied answers and the value is the expectation over the subset
    *and* the tie-break. An answer's correctness is the flag of its first sample (the verifier is assumed
    to give equal answers equal verdicts; this is not checked). maj@1 equals pass@1 = c/n.

    The value is exact (``Estimate(value, 0.0, True)``) for n <= 1000, for every k: it counts winning
    subsets from the answer counts (a Vandermonde-type sum, polynomial in n and k), so it never enumerates
    the C(n, k) subsets and ``max_subsets`` does not limit it. Above n = 1000 the binomials overflow
    float64 and the value is a seeded Monte-Carlo mean over ``max_subsets`` uniform k-subsets with its
    standard error (``exact=False``). Raises ``ValueError`` on mismatched lengths, no samples, or k
    outside [1, n].
    """
    counts, verdicts, none = _answer_table(answers, correct, k)
    if not any(verdicts):
        return Estimate(0.0, 0.0, True)
    if len(answers) <= _MAX_EXACT_N:
        return Estimate(_maj_exact(counts, verdicts, none, k), 0.0, True)
    return _maj_monte_carlo(counts, verdicts, none, k, max_subsets, seed)


def cons_at_k(
    answers: Sequence[str | None],
    correct: Sequence[bool],
    k: int,
    *,
    max_subsets: int = 20000,
    seed: int = 0,
) -> Estimate:
    """cons@k, the consensus (majority vote) of k samples: the same quantity as ``maj_at_k``.

    DeepSeek-R1 (arXiv 2501.12948) reports "consensus (majority vote) results ... using 64 samples,
    denoted as cons@64", following self-consistency (Wang et al. 2022) and OpenAI's o1 report; the
    literature uses cons@k and maj@k for the same statistic. This alias keeps both names; see
    ``maj_at_k`` for the definition, tie-break and exactness.
    """
    return maj_at_k(answers, correct, k, max_subsets=max_subsets, seed=seed)
