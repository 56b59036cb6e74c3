"""Readable per-element loop references for rlvr_bench.algorithms (plain Python floats, no vectorisation).

Each function is written straight from the formula in papers.md / verl's core_algos.py, one element at a
time, so that the vectorised library code can be compared with it on random inputs. Inputs and outputs
are nested lists; ``to_lists`` converts tensors.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Hashable, Sequence

import torch

Matrix = list[list[float]]


def to_lists(t: torch.Tensor) -> list:
    return t.detach().double().tolist()


def random_batch(seed: int, dense: bool = False, holes: bool = False) -> dict:
    """A random batch: groups of sizes 1..6 (at least one singleton), right-padded responses of varying
    length (>= 1), outcome rewards in {0, 1, 0.5} on the last valid token (plus small dense rewards when
    ``dense``), optional masked holes inside responses (``holes``), shuffled prompt labels."""
    rng = random.Random(seed)
    sizes = [1] + [rng.randint(1, 6) for _ in range(rng.randint(2, 5))]
    labels: list[Hashable] = [f"prompt-{g}" for g, n in enumerate(sizes) for _ in range(n)]
    rng.shuffle(labels)
    bs, length = len(labels), rng.randint(3, 9)
    mask = [[0.0] * length for _ in range(bs)]
    rewards = [[0.0] * length for _ in range(bs)]
    for i in range(bs):
        n = rng.randint(1, length)
        for t in range(n):
            mask[i][t] = 1.0
        if holes and n > 2:
            mask[i][rng.randint(1, n - 2)] = 0.0
        if dense:
            for t in range(n):
                rewards[i][t] = rng.uniform(-0.1, 0.1) * mask[i][t]
        rewards[i][n - 1] += rng.choice([0.0, 1.0, 1.0, 0.5])
    values = [[rng.uniform(-1, 1) for _ in range(length)] for _ in range(bs)]
    baselines = [rng.choice([0.0, 1.0, 0.5]) for _ in range(bs)]
    return {"labels": labels, "mask": mask, "rewards": rewards, "values": values, "baselines": baselines}


def scores_of(rewards: Matrix) -> list[float]:
    return [sum(row) for row in rewards]


def members(labels: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    out: dict[Hashable, list[int]] = {}
    for i, label in enumerate(labels):
        out.setdefault(label, []).append(i)
    return out


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def std_unbiased(xs: Sequence[float]) -> float:
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def broadcast(scalars: Sequence[float], mask: Matrix) -> Matrix:
    return [[scalars[i] * mask[i][t] for t in range(len(mask[i]))] for i in range(len(mask))]


def whiten(x: Matrix, mask: Matrix) -> Matrix:
    """verl masked_whiten: masked mean, unbiased masked variance, applied to every element."""
    n = sum(sum(row) for row in mask)
    mu = sum(x[i][t] * mask[i][t] for i in range(len(x)) for t in range(len(x[i]))) / (n + 1e-8)
    var = sum((x[i][t] - mu) ** 2 * mask[i][t] for i in range(len(x)) for t in range(len(x[i]))) / (n + 1e-8)
    var *= n / (n - 1)
    return [[(x[i][t] - mu) / math.sqrt(var + 1e-8) for t in range(len(x[i]))] for i in range(len(x))]


def grpo(rewards: Matrix, mask: Matrix, labels, norm: bool = True, eps: float = 1e-6) -> Matrix:
    s = scores_of(rewards)
    out = [0.0] * len(s)
    for idx in members(labels).values():
        group = [s[i] for i in idx]
        mu, sd = (0.0, 1.0) if len(group) == 1 else (mean(group), std_unbiased(group))
        for i in idx:
            out[i] = (s[i] - mu) / (sd + eps) if norm else s[i] - mu
    return broadcast(out, mask)


def rloo(rewards: Matrix, mask: Matrix, labels) -> Matrix:
    s = scores_of(rewards)
    out = list(s)
    for idx in members(labels).values():
        if len(idx) > 1:
            for i in idx:
                out[i] = s[i] - mean([s[j] for j in idx if j != i])
    return broadcast(out, mask)


def reinforce_pp_baseline(rewards: Matrix, mask: Matrix, labels) -> Matrix:
    s = scores_of(rewards)
    out = list(s)
    for idx in members(labels).values():
        mu = 0.0 if len(idx) == 1 else mean([s[i] for i in idx])
        for i in idx:
            out[i] = s[i] - mu
    w = whiten(broadcast(out, mask), mask)
    return [[w[i][t] * mask[i][t] for t in range(len(w[i]))] for i in range(len(w))]


def reinforce_pp(rewards: Matrix, mask: Matrix, gamma: float) -> tuple[Matrix, Matrix]:
    returns = [[0.0] * len(row) for row in rewards]
    for i, row in enumerate(rewards):
        running = 0.0
        for t in reversed(range(len(row))):
            running = row[t] + gamma * running
            returns[i][t] = running
            if mask[i][t] == 0:
                running = 0.0
    w = whiten(returns, mask)
    return [[w[i][t] * mask[i][t] for t in range(len(w[i]))] for i in range(len(w))], returns


def remax(rewards: Matrix, mask: Matrix, baselines: Sequence[float]) -> tuple[Matrix, Matrix]:
    returns = [[sum(rewards[i][u] * mask[i][u] for u in range(t, len(rewards[i]))) for t in range(len(rewards[i]))]
               for i in range(len(rewards))]
    adv = [[returns[i][t] - baselines[i] * mask[i][t] for t in range(len(rewards[i]))] for i in range(len(rewards))]
    return adv, returns


def gae(rewards: Matrix, values: Matrix, mask: Matrix, gamma: float, lam: float) -> tuple[Matrix, Matrix]:
    """Per sequence: walk backwards over the valid tokens; masked tokens carry the state unchanged."""
    adv = [[0.0] * len(row) for row in rewards]
    for i in range(len(rewards)):
        next_value, last = 0.0, 0.0
        for t in reversed(range(len(rewards[i]))):
            if mask[i][t]:
                delta = rewards[i][t] + gamma * next_value - values[i][t]
                last = delta + gamma * lam * last
                next_value = values[i][t]
            adv[i][t] = last
    returns = [[adv[i][t] + values[i][t] for t in range(len(adv[i]))] for i in range(len(adv))]
    return whiten(adv, mask), returns


def agg(loss: Matrix, mask: Matrix, mode: str, scale: float | None = None) -> float:
    rows = range(len(loss))
    sums = [sum(loss[i][t] * mask[i][t] for t in range(len(loss[i]))) for i in rows]
    counts = [sum(mask[i]) for i in rows]
    valid = [i for i in rows if counts[i] > 0]
    if mode == "token-mean":
        return sum(sums) / sum(counts)
    if mode == "seq-mean-token-sum":
        return sum(sums[i] for i in valid) / len(valid)
    if mode == "seq-mean-token-mean":
        return sum(sums[i] / (counts[i] + 1e-8) for i in valid) / len(valid)  # verl adds 1e-8
    if mode == "seq-mean-token-sum-norm":
        return sum(sums) / (len(loss[0]) if scale is None else scale)
    raise ValueError(mode)


def vanilla_token_loss(old_lp: float, lp: float, a: float, lo: float, hi: float, c: float | None) -> float:
    ratio = math.exp(max(-20.0, min(20.0, lp - old_lp)))
    loss = max(-a * ratio, -a * min(max(ratio, 1 - lo), 1 + hi))
    if c is not None and a < 0:
        loss = min(loss, -a * c)
    return loss


def kl(lp: float, ref: float, kind: str) -> float:
    x = lp - ref
    if kind == "k1":
        return x
    if kind == "k2":
        return 0.5 * x * x
    if kind == "abs":
        return abs(x)
    y = max(-20.0, min(20.0, -x))
    return max(-10.0, min(10.0, math.exp(y) - y - 1))


def value_token_loss(v: float, r: float, v_old: float, clip: float) -> float:
    vc = max(min(v, v_old + clip), v_old - clip)
    return max((v - r) ** 2, (vc - r) ** 2)


# ---------------------------------------------------------------- 2025 outcome estimators (advantages_2025)


def grpo_passk(rewards: Matrix, mask: Matrix, labels, norm: bool = True, eps: float = 1e-6) -> Matrix:
    """Only the group's best response gets r_max - r_second_max (over the std + eps when norm); a tied best
    gets r_max - r_second_max = 0, so which of the tied responses is 'best' does not matter."""
    s = scores_of(rewards)
    out = [0.0] * len(s)
    for idx in members(labels).values():
        ranked = sorted(idx, key=lambda i: s[i], reverse=True)
        best, runner_up = ranked[0], ranked[1]
        adv = s[best] - s[runner_up]
        out[best] = adv / (std_unbiased([s[i] for i in idx]) + eps) if norm else adv
    return broadcast(out, mask)


def passk(rewards: Matrix, mask: Matrix, labels, k: int, threshold: float = 0.5) -> Matrix:
    """Pass@k Training (arXiv 2508.10751): R = 1 - C(N_neg, k) / C(N, k), sigma = sqrt(R (1 - R));
    correct: (1 - R) / sigma, wrong: (1 - R - C(N_neg - 1, k - 1) / C(N - 1, k - 1)) / sigma; 0 if sigma = 0."""
    s = scores_of(rewards)
    out = [0.0] * len(s)
    for idx in members(labels).values():
        n = len(idx)
        n_neg = sum(1 for i in idx if not s[i] > threshold)
        r = 1 - math.comb(n_neg, k) / math.comb(n, k)
        sigma = math.sqrt(r * (1 - r))
        for i in idx:
            if sigma == 0:
                out[i] = 0.0
            elif s[i] > threshold:
                out[i] = (1 - r) / sigma
            else:
                out[i] = (1 - r - math.comb(n_neg - 1, k - 1) / math.comb(n - 1, k - 1)) / sigma
    return broadcast(out, mask)


def pkpo(rewards: Matrix, mask: Matrix, labels, k: int) -> Matrix:
    """PKPO (arXiv 2505.15201) s^(loo-1) times n/k, straight from its definition by enumerating subsets:
    A_i = (1 / C(n-1, k-1)) sum over k-subsets I containing i of (max_I g - max_{I without i} g);
    k = 1: the leave-one-out mean baseline (RLOO; a singleton keeps its score)."""
    s = scores_of(rewards)
    out = list(s)
    for idx in members(labels).values():
        for i in idx:
            others = [j for j in idx if j != i]
            if k == 1:
                out[i] = s[i] - mean([s[j] for j in others]) if others else s[i]
                continue
            gains = [max(s[i], max(s[j] for j in rest)) - max(s[j] for j in rest)
                     for rest in itertools.combinations(others, k - 1)]
            out[i] = sum(gains) / math.comb(len(others), k - 1)
    return broadcast(out, mask)


def opo(rewards: Matrix, mask: Matrix, labels) -> Matrix:
    """OPO (arXiv 2505.23585): A_i = s_i - sum_g l s / sum_g l with l = response length; singleton: b = 0."""
    s = scores_of(rewards)
    lengths = [sum(row) for row in mask]
    out = list(s)
    for idx in members(labels).values():
        if len(idx) > 1:
            b = sum(lengths[i] * s[i] for i in idx) / sum(lengths[i] for i in idx)
            for i in idx:
                out[i] = s[i] - b
    return broadcast(out, mask)


def gpg(rewards: Matrix, mask: Matrix, labels) -> Matrix:
    """GPG as verl (arXiv 2504.02546): alpha (s_i - mean_g s), alpha = bs / #(s != 0); singleton mean 0."""
    s = scores_of(rewards)
    alpha = len(s) / max(sum(1 for x in s if x != 0), 1)
    out = [0.0] * len(s)
    for idx in members(labels).values():
        mu = 0.0 if len(idx) == 1 else mean([s[i] for i in idx])
        for i in idx:
            out[i] = alpha * (s[i] - mu)
    return broadcast(out, mask)
