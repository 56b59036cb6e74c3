"""The 2025 outcome advantage estimators: pass@k (grpo_passk, passk, pkpo), OPO and GPG.

Each is registered in :data:`~rlvr_bench.algorithms.advantages.ADVANTAGE_ESTIMATORS` with the one keyword
signature :class:`~rlvr_bench.algorithms.advantages.AdvantageEstimatorFn`; the pass@k ones that take ``k``
declare it in ``params`` (set in a recipe as ``algorithm.knobs: {k: 4}``). All are outcome estimators: the
score of response i is s_i = sum_t token_level_rewards[i, t] (no mask applied, as verl), the advantage is a
per-response scalar broadcast over the response tokens (times the mask), and returns equal advantages.

Shapes: token_level_rewards, response_mask (bs, T); group_index (bs,) long, contiguous ids (see
:func:`~rlvr_bench.algorithms.groups.as_group_index`) -> advantages, returns (bs, T).

``grpo_passk``, ``opo`` and ``gpg`` reproduce verl 0.9.1's ``core_algos.py`` (their docstrings name the
function and say where verl departs from the paper); ``passk`` (arXiv 2508.10751) and ``pkpo``
(arXiv 2505.15201) have no verl counterpart. Importing this module only registers the estimators.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Optional

import torch
from torch import Tensor

from .advantages import register_advantage_estimator
from .groups import GroupStats, group_stats
from .knobs import KnobSpec

__all__ = [
    "PASSK_CORRECT_THRESHOLD",
    "gpg_advantage",
    "grpo_passk_advantage",
    "opo_advantage",
    "passk_advantage",
    "pkpo_advantage",
]

PASSK_CORRECT_THRESHOLD = 0.5
"""``passk`` counts response i as correct iff s_i > 0.5: the midpoint of binary {0, 1} (or {-1, 1})
rewards, so a small shaping term in the score (an in-reward KL penalty, a format bonus of +-0.1) never
flips a verdict, as a threshold at 0 would."""

_K_HELP = "k of pass@k: the advantage optimises pass@k of k samples drawn from the rollout.n of a group"
_NO_VERL = "verl 0.9.1 has no {} estimator (its only pass@k estimator is grpo_passk, arXiv 2503.19595)"


def _k_param() -> dict[str, KnobSpec]:
    """The ``k`` param of passk and pkpo: whole, >= 1, <= rollout.n; default 4 (half the default rollout.n)."""
    return {"k": KnobSpec(4, _K_HELP, ge=1, integer=True, at_most_group_size=True, verl_key=None)}


def _outcome(token_level_rewards: Tensor, group_index: Optional[Tensor], name: str) -> tuple[Tensor, GroupStats]:
    """Scores (bs,) and their per-group statistics; raises when group_index is missing."""
    if group_index is None:
        raise ValueError(f"advantage estimator {name!r} needs group_index")
    scores = token_level_rewards.sum(dim=-1)
    return scores, group_stats(scores, group_index)


def _broadcast(scalar: Tensor, response_mask: Tensor) -> tuple[Tensor, Tensor]:
    advantages = scalar.unsqueeze(-1) * response_mask.to(scalar.dtype)
    return advantages, advantages


def _check_k(k: Any, stats: GroupStats, name: str) -> int:
    """k as an int; raises unless k is a whole number >= 1 and every group has at least k responses."""
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not float(k).is_integer() or k < 1:
        raise ValueError(f"advantage estimator {name!r}: k must be a whole number >= 1, got {k!r}")
    smallest = int(stats.count.min().item()) if stats.num_groups else int(k)
    if smallest < k:
        raise ValueError(f"advantage estimator {name!r}: k = {int(k)} is larger than a group of {smallest} "
                         f"responses; pass@k needs at least k samples per prompt (rollout.n >= k)")
    return int(k)


def _table(sizes: Tensor, width: int, entry: Callable[[int, int], float], like: Tensor) -> Tensor:
    """(max size + 1, width) float table with ``entry(n, j)`` in row n for each group size n present."""
    present = sorted({int(n) for n in sizes.tolist()})
    table = [[0.0] * width for _ in range(present[-1] + 1)] if present else [[0.0] * width]
    for n in present:
        table[n] = [entry(n, j) for j in range(width)]
    return torch.tensor(table, dtype=like.dtype, device=like.device)


# ------------------------------------------------------------------------------------------ grpo_passk


@register_advantage_estimator("grpo_passk", min_group_size=2, verl_name="grpo_passk",
                              knobs={"norm_adv_by_std": True, "eps": 1e-6})
def grpo_passk_advantage(
    *, token_level_rewards: Tensor, response_mask: Tensor, group_index: Optional[Tensor],
    values: Optional[Tensor], reward_baselines: Optional[Tensor], gamma: float, lam: float,
    norm_adv_by_std: bool, eps: float,
) -> tuple[Tensor, Tensor]:
    """Pass@k outcome advantage of arXiv 2503.19595 as verl: only a group's best response gets a signal.

    Per group: A_{i*} = (r_max - r_second_max) / (std_g s + eps) for the best response i* (unbiased std;
    without the division when ``norm_adv_by_std`` is False), A = 0 for every other response. Broadcast over
    the response tokens; returns equal advantages. verl: ``compute_grpo_passk_outcome_advantage`` (the
    same ``algorithm.norm_adv_by_std_in_grpo`` switch).

    Ties: verl gives the advantage to the index ``torch.topk(group, 2)`` returns first. With a unique
    maximum that is the maximum; with a tied maximum r_max - r_second_max = 0, so whichever index topk picks
    gets 0 and the advantages are all 0 whatever the tie order. Hence the vectorised form here,
    A_i = (s_i - max_{j != i} s_j)^+ (/ (std + eps)), equals verl's exactly, with no tie-order dependence.

    Shapes: token_level_rewards, response_mask (bs, T); group_index (bs,) -> two (bs, T) tensors.

    Raises:
        ValueError: a group with fewer than 2 responses (as verl: pass@k needs a runner-up).
    """
    scores, stats = _outcome(token_level_rewards, group_index, "grpo_passk")
    if stats.num_groups and int(stats.count.min().item()) < 2:
        group = int(torch.nonzero(stats.count < 2)[0].item())
        raise ValueError(f"advantage estimator 'grpo_passk' (Pass@k, arXiv 2503.19595) needs at least 2 "
                         f"responses per group; group {group} (numbered in order of first appearance) has 1")
    idx = stats.index
    zeros = scores.new_zeros(stats.num_groups)
    group_max = zeros.scatter_reduce(0, idx, scores, reduce="amax", include_self=False)
    is_max = scores == group_max[idx]
    n_max = zeros.index_add(0, idx, is_max.to(scores.dtype))
    below = torch.where(is_max, torch.full_like(scores, -math.inf), scores)
    second = zeros.scatter_reduce(0, idx, below, reduce="amax", include_self=False)
    second = torch.where(n_max >= 2, group_max, second)
    best = is_max & (n_max[idx] == 1)
    scalar = torch.where(best, scores - second[idx], torch.zeros_like(scores))
    if norm_adv_by_std:
        scalar = scalar / (stats.std[idx] + eps)
    return _broadcast(scalar, response_mask)


# ------------------------------------------------------------------------------------------------ passk


@register_advantage_estimator("passk", min_group_size=2, verl_name=None,
                              verl_missing_reason=_NO_VERL.format("Pass@k Training (arXiv 2508.10751)"),
                              params=_k_param())
def passk_advantage(
    *, token_level_rewards: Tensor, response_mask: Tensor, group_index: Optional[Tensor],
    values: Optional[Tensor], reward_baselines: Optional[Tensor], gamma: float, lam: float,
    norm_adv_by_std: bool, eps: float, k: int,
) -> tuple[Tensor, Tensor]:
    """Pass@k Training's analytical advantage (Chen et al., arXiv 2508.10751).

    A response is correct iff s_i > :data:`PASSK_CORRECT_THRESHOLD` (0.5). For a group of N responses with
    N_neg wrong: R = 1 - C(N_neg, k) / C(N, k) (the group's expected pass@k reward over k-subsets),
    sigma = sqrt(R (1 - R)); correct responses get A_pos = (1 - R) / sigma, wrong ones
    A_neg = (1 - R - C(N_neg - 1, k - 1) / C(N - 1, k - 1)) / sigma. A group with R in {0, 1} (all wrong,
    or fewer than k wrong) has sigma = 0 and gets exactly 0. k = 1 is GRPO on the 0/1 verdicts with the
    biased (1/N) std and no eps. The binomial ratios are exact rationals rounded once to the score dtype.
    ``norm_adv_by_std`` and ``eps`` are ignored (the division by sigma is part of the formula).

    Shapes: token_level_rewards, response_mask (bs, T); group_index (bs,) -> two (bs, T) tensors.

    Raises:
        ValueError: k not a whole number >= 1, or a group with fewer than k responses.
    """
    scores, stats = _outcome(token_level_rewards, group_index, "passk")
    k = _check_k(k, stats, "passk")
    idx = stats.index
    correct = scores > PASSK_CORRECT_THRESHOLD
    n = stats.count.round().long()
    n_neg = n - scores.new_zeros(stats.num_groups).index_add(0, idx, correct.to(scores.dtype)).round().long()

    def advantage(size: int, wrong: int, positive: bool) -> float:
        r = 1 - Fraction(math.comb(wrong, k), math.comb(size, k))
        if r in (0, 1):
            return 0.0
        sigma = math.sqrt(r * (1 - r))
        if positive:
            return float(1 - r) / sigma
        return float(1 - r - Fraction(math.comb(wrong - 1, k - 1), math.comb(size - 1, k - 1))) / sigma

    width = int(n.max().item()) + 1 if stats.num_groups else 1
    pos = _table(n, width, lambda size, wrong: advantage(size, wrong, True) if wrong <= size else 0.0, scores)
    neg = _table(n, width, lambda size, wrong: advantage(size, wrong, False) if 1 <= wrong <= size else 0.0,
                 scores)
    scalar = torch.where(correct, pos[n[idx], n_neg[idx]], neg[n[idx], n_neg[idx]])
    return _broadcast(scalar, response_mask)


# ------------------------------------------------------------------------------------------------- pkpo


def _padded(scores: Tensor, stats: GroupStats) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Scores laid out per group: values (G, L), valid (G, L) bool, and each row's (group, slot) (bs,).

    Slots follow batch order within a group; L is the largest group size; padding holds 0.
    """
    idx = stats.index
    order = torch.argsort(idx, stable=True)
    count = stats.count.round().long()
    start = torch.cumsum(count, 0) - count
    slot = torch.empty_like(idx)
    slot[order] = torch.arange(idx.numel(), device=idx.device) - start[idx[order]]
    width = int(count.max().item()) if stats.num_groups else 0
    vals = scores.new_zeros(stats.num_groups, width)
    valid = torch.zeros(stats.num_groups, width, dtype=torch.bool, device=scores.device)
    vals[idx, slot] = scores
    valid[idx, slot] = True
    return vals, valid, idx, slot


@register_advantage_estimator("pkpo", min_group_size=2, verl_name=None,
                              verl_missing_reason=_NO_VERL.format("PKPO (arXiv 2505.15201)"), params=_k_param())
def pkpo_advantage(
    *, token_level_rewards: Tensor, response_mask: Tensor, group_index: Optional[Tensor],
    values: Optional[Tensor], reward_baselines: Optional[Tensor], gamma: float, lam: float,
    norm_adv_by_std: bool, eps: float, k: int,
) -> tuple[Tensor, Tensor]:
    """PKPO, Pass@k Policy Optimization (Walder & Karkhanis, arXiv 2505.15201): s^(loo-1), times n/k.

    For a group of n responses with scores g (continuous; binary 0/1 is the special case) and 2 <= k <= n:
    A_i = (n/k) s_i^(loo-1) = (1 / C(n-1, k-1)) sum_{|I| = k, i in I} [max_{j in I} g_j - max_{j in I\\i} g_j]
        = mean over the (k-1)-subsets J of the other n-1 responses of (g_i - max_J g)^+,
    the paper's k-1 leave-one-out baselined estimator (its eq. for s^(loo-1), the lowest-variance variant,
    recommended there) scaled by n/k so the un-baselined transformed rewards (n/k) s_i average to the
    unbiased maxg@k (pass@k) estimate of the group and a correct binary response has (n/k) s_i = 1. Thus
    E[(1/n) sum_i A_i grad log p_i] = grad(pass@k) / k. Computed as
    A_i = sum_{j != i} C(m_ij, k-2) / C(n-1, k-1) (g_i - g_j)^+, m_ij = the number of other responses
    ranked below j (ties broken by batch order; the sum does not depend on it).
    Binary rewards: a correct response gets C(N_neg, k-1) / C(n-1, k-1), a wrong one 0. So an all-wrong
    or all-correct group, or one with fewer than k - 1 wrong, gets exactly 0; a group with exactly k - 1
    wrong (pass@k estimate 1) still rewards its correct responses, since the unbiased gradient is not 0.
    k = n gives (g_i - max_{j != i} g_j)^+, grpo_passk without the std division. k = 1 has no (k-1)
    baseline; the paper's leave-one-out baseline s^(loo) is used, which is RLOO: A_i = g_i - mean_{j != i}
    g_j (a singleton group keeps g_i). ``norm_adv_by_std`` and ``eps`` are ignored (no normalisation).

    Shapes: token_level_rewards, response_mask (bs, T); group_index (bs,) -> two (bs, T) tensors; the
    intermediate pairwise tensors are (n_groups, L, L), L the largest group size.

    Raises:
        ValueError: k not a whole number >= 1, or a group with fewer than k responses.
    """
    scores, stats = _outcome(token_level_rewards, group_index, "pkpo")
    k = _check_k(k, stats, "pkpo")
    idx = stats.index
    if k == 1:
        count = stats.count[idx]
        loo = (scores * count - stats.mean[idx] * count) / (count - 1).clamp_min(1)
        return _broadcast(torch.where(count > 1, loo, scores), response_mask)
    vals, valid, rows, slots = _padded(scores, stats)
    width = vals.shape[1]
    pos = torch.arange(width, device=vals.device)
    # below[g, j, l]: response l ranks below response j (smaller score, or equal and earlier)
    below = valid[:, None, :] & ((vals[:, None, :] < vals[:, :, None])
                                 | ((vals[:, None, :] == vals[:, :, None]) & (pos[None, :] < pos[:, None])))
    rank = below.sum(-1)  # (G, L)
    others_below = rank[:, None, :] - (rank[:, :, None] < rank[:, None, :]).long()  # [g, i, j]: m_ij
    n = stats.count.round().long()
    weights = _table(n, width, lambda size, m: float(Fraction(math.comb(m, k - 2), math.comb(size - 1, k - 1))),
                     scores)
    w = weights[n[:, None, None].expand_as(others_below), others_below.clamp(0, width - 1)]
    pair = valid[:, :, None] & valid[:, None, :] & (pos[:, None] != pos[None, :])
    gain = (vals[:, :, None] - vals[:, None, :]).clamp_min(0)
    adv = (torch.where(pair, w * gain, torch.zeros_like(gain))).sum(-1)  # (G, L)
    return _broadcast(adv[rows, slots], response_mask)


# -------------------------------------------------------------------------------------------------- opo


@register_advantage_estimator("opo", min_group_size=2, verl_name="opo")
def opo_advantage(
    *, token_level_rewards: Tensor, response_mask: Tensor, group_index: Optional[Tensor],
    values: Optional[Tensor], reward_baselines: Optional[Tensor], gamma: float, lam: float,
    norm_adv_by_std: bool, eps: float,
) -> tuple[Tensor, Tensor]:
    """OPO, On-Policy RL with Optimal reward baseline (arXiv 2505.23585): a length-weighted group baseline.

    With l_i = sum_t response_mask[i, t]: b_g = sum_{i in g} l_i s_i / sum_{i in g} l_i and A_i = s_i - b_g
    (no std normalisation); a singleton group uses b = 0 (A = s). Broadcast over the response tokens;
    returns equal advantages. verl: ``compute_opo_outcome_advantage``.

    One degenerate case differs from verl: a group of >= 2 responses that are all empty (sum l = 0) gets
    b = 0 here, where verl's 0/0 gives NaN advantages (which NaN the masked loss too).

    Shapes: token_level_rewards, response_mask (bs, T); group_index (bs,) -> two (bs, T) tensors.
    """
    scores, stats = _outcome(token_level_rewards, group_index, "opo")
    idx = stats.index
    lengths = response_mask.sum(dim=-1).to(scores.dtype)
    zeros = scores.new_zeros(stats.num_groups)
    weighted = zeros.index_add(0, idx, lengths * scores)
    total = zeros.index_add(0, idx, lengths)
    usable = (stats.count > 1) & (total > 0)
    baseline = torch.where(usable, weighted / torch.where(usable, total, torch.ones_like(total)), zeros)
    return _broadcast(scores - baseline[idx], response_mask)


# -------------------------------------------------------------------------------------------------- gpg


@register_advantage_estimator("gpg", min_group_size=2, verl_name="gpg")
def gpg_advantage(
    *, token_level_rewards: Tensor, response_mask: Tensor, group_index: Optional[Tensor],
    values: Optional[Tensor], reward_baselines: Optional[Tensor], gamma: float, lam: float,
    norm_adv_by_std: bool, eps: float,
) -> tuple[Tensor, Tensor]:
    """GPG, Group Policy Gradient (arXiv 2504.02546): A_i = alpha (s_i - mean_g s) / F_norm, as verl.

    alpha = bs / max(count_nonzero(s), 1) over the whole batch passed in, F_norm = 1; a singleton group
    uses mean 0 (A = alpha s). No std normalisation (``norm_adv_by_std`` and ``eps`` are ignored, as verl).
    Broadcast over the response tokens; returns equal advantages. verl: ``compute_gpg_outcome_advantage``.

    verl vs paper: the paper's correction is alpha = B / (B - M) with M the responses of groups whose
    advantages are all 0 (all-equal groups), so that the batch mean of the gradient is not diluted by
    them. verl (and this function) count the responses with a *non-zero score* instead; the two agree only
    by coincidence (for 0/1 rewards verl's alpha is 1 / the batch's accuracy). The paper also allows
    F_norm = the group std; verl fixes F_norm = 1.

    Shapes: token_level_rewards, response_mask (bs, T); group_index (bs,) -> two (bs, T) tensors.
    """
    scores, stats = _outcome(token_level_rewards, group_index, "gpg")
    idx = stats.index
    alpha = scores.shape[0] / max(int(torch.count_nonzero(scores).item()), 1)
    mean = torch.where(stats.count == 1, torch.zeros_like(stats.mean), stats.mean)
    return _broadcast(alpha * (scores - mean[idx]), response_mask)
