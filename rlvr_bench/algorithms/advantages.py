"""Advantage estimators in a registry, and :func:`compute_advantages`, the one entry point.

Each estimator corresponds to a function of verl's ``verl/trainer/ppo/core_algos.py`` and reproduces its
numerics (unbiased ``torch.std``, eps 1e-6, singleton groups keep their raw score, whitening with the
masked mean and unbiased masked variance, verl's reverse loops). Every estimator has the same keyword
signature, :class:`AdvantageEstimatorFn`; it uses the arguments it needs and ignores the others.

Shapes: token_level_rewards, response_mask, values: (bs, response_length); group_index: (bs,) long
(contiguous ids, see :func:`~rlvr_bench.algorithms.groups.as_group_index`); reward_baselines: (bs,).
Outcome estimators (grpo, rloo, reinforce_pp_baseline) use the score s_i = sum_t token_level_rewards[i, t].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Optional, Protocol

import torch
from torch import Tensor

from .functional import masked_whiten
from .groups import GroupIndex, as_group_index, group_stats
from .knobs import KnobSpec

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "AdvantageEstimatorFn",
    "AdvantageEstimatorSpec",
    "advantage_estimator_names",
    "advantage_estimator_spec",
    "compute_advantages",
    "get_advantage_estimator",
    "register_advantage_estimator",
    "verl_adv_estimator_names",
]


class AdvantageEstimatorFn(Protocol):
    """The one signature of every registered advantage estimator.

    Returns ``(advantages, returns)``, both (bs, response_length). Besides these arguments an estimator
    receives each of its declared ``params`` (:class:`~rlvr_bench.algorithms.knobs.KnobSpec`, e.g. pass@k's
    ``k``) as a keyword.
    """

    def __call__(
        self,
        *,
        token_level_rewards: torch.Tensor,
        response_mask: torch.Tensor,
        group_index: Optional[torch.Tensor],
        values: Optional[torch.Tensor],
        reward_baselines: Optional[torch.Tensor],
        gamma: float,
        lam: float,
        norm_adv_by_std: bool,
        eps: float,
        **params: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


@dataclass(frozen=True)
class AdvantageEstimatorSpec:
    """An estimator and everything the rest of the package needs to know about it.

    Attributes:
        name: registry name (``algorithm.adv_estimator``).
        fn: the estimator, with the :class:`AdvantageEstimatorFn` signature.
        needs_values: it reads critic values (the trainer builds and trains a critic).
        needs_reference: it needs reference-model log-probs by itself (besides any KL switch).
        needs_greedy_baseline: it reads ``reward_baselines``, the greedy rollout's score (ReMax).
        min_group_size: smallest useful ``rollout.n`` (2 for the group-relative estimators).
        verl_name: verl's ``algorithm.adv_estimator`` value, or None when verl has no equivalent.
        verl_missing_reason: why there is no verl equivalent (set iff ``verl_name`` is None).
        knobs: the estimator's arguments and their default values (e.g. gamma, lam), read-only.
        params: knobs beyond the common signature (name -> KnobSpec), set in ``algorithm.knobs`` and passed
            to the function as keywords (e.g. ``k`` of the pass@k estimators).
    """

    name: str
    fn: AdvantageEstimatorFn
    needs_values: bool = False
    needs_reference: bool = False
    needs_greedy_baseline: bool = False
    min_group_size: int = 1
    verl_name: Optional[str] = None
    verl_missing_reason: Optional[str] = None
    knobs: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, KnobSpec] = field(default_factory=dict)


ADVANTAGE_ESTIMATORS: dict[str, AdvantageEstimatorSpec] = {}
"""Registry: estimator name -> :class:`AdvantageEstimatorSpec`; the only list of estimators."""


def register_advantage_estimator(
    name: str,
    *,
    needs_values: bool = False,
    needs_reference: bool = False,
    needs_greedy_baseline: bool = False,
    min_group_size: int = 1,
    verl_name: Optional[str],
    verl_missing_reason: Optional[str] = None,
    knobs: Optional[Mapping[str, Any]] = None,
    params: Optional[Mapping[str, KnobSpec]] = None,
) -> Callable[[AdvantageEstimatorFn], AdvantageEstimatorFn]:
    """Decorator registering an estimator and its metadata under ``name`` (like verl's ``register_adv_est``).

    Registering is the one step that makes an estimator usable everywhere: recipe validation
    (``algorithm.adv_estimator``), the trainer's critic / reference / greedy-baseline decisions and the
    verl exporter read this spec.

    Raises:
        ValueError: ``name`` already registered to a different function; neither or both of ``verl_name``
            and ``verl_missing_reason`` given; ``min_group_size`` < 1.
    """
    if (verl_name is None) == (verl_missing_reason is None):
        raise ValueError(f"advantage estimator {name!r}: give exactly one of verl_name and verl_missing_reason")
    if min_group_size < 1:
        raise ValueError(f"advantage estimator {name!r}: min_group_size must be >= 1, got {min_group_size}")

    def decorator(fn: AdvantageEstimatorFn) -> AdvantageEstimatorFn:
        existing = ADVANTAGE_ESTIMATORS.get(name)
        if existing is not None and existing.fn is not fn:
            raise ValueError(f"advantage estimator {name!r} is already registered to {existing.fn}")
        ADVANTAGE_ESTIMATORS[name] = AdvantageEstimatorSpec(
            name=name, fn=fn, needs_values=needs_values, needs_reference=needs_reference,
            needs_greedy_baseline=needs_greedy_baseline, min_group_size=min_group_size, verl_name=verl_name,
            verl_missing_reason=verl_missing_reason, knobs=MappingProxyType(dict(knobs or {})),
            params=MappingProxyType(dict(params or {})),
        )
        return fn

    return decorator


def advantage_estimator_names() -> list[str]:
    """Sorted names of the registered advantage estimators."""
    return sorted(ADVANTAGE_ESTIMATORS)


def advantage_estimator_spec(name: str) -> AdvantageEstimatorSpec:
    """The registered spec of estimator ``name``.

    Raises:
        ValueError: naming the valid estimators when ``name`` is unknown.
    """
    try:
        return ADVANTAGE_ESTIMATORS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown advantage estimator {name!r}; valid: {', '.join(advantage_estimator_names())}"
        ) from None


def get_advantage_estimator(name: str) -> AdvantageEstimatorFn:
    """Look up a registered estimator's function (see :func:`advantage_estimator_spec`)."""
    return advantage_estimator_spec(name).fn


def verl_adv_estimator_names() -> dict[str, str]:
    """Our estimator name -> verl's ``algorithm.adv_estimator`` value, for the estimators verl has."""
    return {n: s.verl_name for n, s in ADVANTAGE_ESTIMATORS.items() if s.verl_name is not None}


def _require(value: Optional[torch.Tensor], what: str, estimator: str) -> torch.Tensor:
    if value is None:
        raise ValueError(f"advantage estimator {estimator!r} needs {what}")
    return value


def _outcome_scores(token_level_rewards: torch.Tensor) -> torch.Tensor:
    """(bs,) scores = sum of the token rewards over the response, as verl (no mask applied)."""
    return token_level_rewards.sum(dim=-1)


@register_advantage_estimator("grpo", min_group_size=2, verl_name="grpo",
                              knobs={"norm_adv_by_std": True, "eps": 1e-6})
def grpo_advantage(
    *, token_level_rewards: Tensor, response_mask: Tensor, group_index: Optional[Tensor],
    values: Optional[Tensor], reward_baselines: Optional[Tensor], gamma: float, lam: float,
    norm_adv_by_std: bool, eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRPO (arXiv 2402.03300) and, with ``norm_adv_by_std=False``, Dr. GRPO (arXiv 2503.20783).

    A_i = (s_i - mean_g s) / (std_g s + eps) with the unbiased std, or A_i = s_i - mean_g s; broadcast to
    every response token (times the mask). A singleton group uses mean 0 and std 1, so it keeps
    A = s / (1 + eps) (or s). An all-equal group gives exactly 0. Returns equal the advantages.
    verl: ``compute_grpo_outcome_advantage``.

    Shapes: token_level_rewards, response_mask (bs, T); group_index (bs,) -> two (bs, T) tensors.
    """
    scores = _outcome_scores(token_level_rewards)
    stats = group_stats(scores, _require(group_index, "group_index", "grpo"))
    single = stats.count == 1
    mean = torch.where(single, torch.zeros_like(stats.mean), stats.mean)
    std = torch.where(single, torch.ones_like(stats.std), stats.std)
    centered = scores - mean[stats.index]
    scalar = centered / (std[stats.index] + eps) if norm_adv_by_std else centered
    advantages = scalar.unsqueeze(-1) * response_mask.to(scalar.dtype)
    return advantages, advantages


@register_advantage_estimator("rloo", min_group_size=2, verl_name="rloo")
def rloo_advantage(
    *, token_level_rewards: Tensor, response_mask: Tensor, group_index: Optional[Tensor],
    values: Optional[Tensor], reward_baselines: Optional[Tensor], gamma: float, lam: float,
    norm_adv_by_std: bool, eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """RLOO (arXiv 2402.14740): A_i = s_i - mean_{j != i} s_j = G/(G-1) (s_i - mean_g s).

    Computed as verl does, s_i * G/(G-1) - mean_g * G/(G-1); a singleton group keeps A = s.
    Broadcast to the response tokens; returns equal the advantages.
    verl: ``compute_rloo_outcome_advantage``.

    Shapes: token_level_rewards, response_mask (bs, T); group_index (bs,) -> two (bs, T) tensors.
    """
    scores = _outcome_scores(token_level_rewards)
    stats = group_stats(scores, _require(group_index, "group_index", "rloo"))
    count = stats.count[stats.index]
    factor = count / (count - 1).clamp_min(1)
    loo = scores * factor - stats.mean[stats.index] * factor
    scalar = torch.where(count > 1, loo, scores)
    advantages = scalar.unsqueeze(-1) * response_mask.to(scalar.dtype)
    return advantages, advantages


@register_advantage_estimator("reinforce_pp_baseline", min_group_size=2,
                              verl_name="reinforce_plus_plus_baseline")
def reinforce_pp_baseline_advantage(
    *, token_level_rewards: Tensor, response_mask: Tensor, group_index: Optional[Tensor],
    values: Optional[Tensor], reward_baselines: Optional[Tensor], gamma: float, lam: float,
    norm_adv_by_std: bool, eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE++-baseline (arXiv 2501.03262): A = whiten_batch(s_i - mean_g s) on response tokens.

    The group mean is subtracted (a singleton group subtracts 0), the scalar is tiled over the tokens and
    masked, then whitened over the whole batch with the masked mean and unbiased masked variance, and
    masked again. Returns equal the advantages.
    verl: ``compute_reinforce_plus_plus_baseline_outcome_advantage``.

    Shapes: token_level_rewards, response_mask (bs, T); group_index (bs,) -> two (bs, T) tensors.
    """
    scores = _outcome_scores(token_level_rewards)
    stats = group_stats(scores, _require(group_index, "group_index", "reinforce_pp_baseline"))
    mean = torch.where(stats.count == 1, torch.zeros_like(stats.mean), stats.mean)
    mask = response_mask.to(scores.dtype)
    tiled = (scores - mean[stats.index]).unsqueeze(-1) * mask
    advantages = masked_whiten(tiled, mask) * mask
    return advantages, advantages


@register_advantage_estimator("reinforce_pp", verl_name="reinforce_plus_plus", knobs={"gamma": 1.0})
def reinforce_pp_advantage(
    *, token_level_rewards: Tensor, response_mask: Tensor, group_index: Optional[Tensor],
    values: Optional[Tensor], reward_baselines: Optional[Tensor], gamma: float, lam: float,
    norm_adv_by_std: bool, eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE++ (arXiv 2501.03262): returns G_t = r_t + gamma G_{t+1}, A = whiten_batch(G) * mask.

    The token rewards usually already contain the per-token KL penalty (see
    :func:`~rlvr_bench.algorithms.kl.apply_kl_in_reward`). As in verl the running return is reset to 0 at
    every masked position (``running = running * mask_t`` after storing G_t), so returns at padding are
    just r_t. verl: ``compute_reinforce_plus_plus_outcome_advantage``.

    Shapes: token_level_rewards, response_mask (bs, T) -> advantages (bs, T), returns (bs, T).
    """
    mask = response_mask.to(token_level_rewards.dtype)
    returns = torch.zeros_like(token_level_rewards)
    running = torch.zeros_like(token_level_rewards[:, 0])
    for t in reversed(range(token_level_rewards.shape[1])):
        running = token_level_rewards[:, t] + gamma * running
        returns[:, t] = running
        running = running * mask[:, t]
    advantages = masked_whiten(returns, mask) * mask
    return advantages, returns


@register_advantage_estimator("remax", needs_greedy_baseline=True, verl_name="remax")
def remax_advantage(
    *, token_level_rewards: Tensor, response_mask: Tensor, group_index: Optional[Tensor],
    values: Optional[Tensor], reward_baselines: Optional[Tensor], gamma: float, lam: float,
    norm_adv_by_std: bool, eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ReMax (arXiv 2310.10505): A_t = G_t - b * m_t with b = r(x, y_greedy), the greedy rollout's score.

    G_t is the undiscounted reward-to-go of the masked token rewards (for an outcome reward: the score on
    every response token). No whitening, as verl. verl: ``compute_remax_outcome_advantage``.

    Shapes: token_level_rewards, response_mask (bs, T); reward_baselines (bs,) -> two (bs, T) tensors.
    """
    baselines = _require(reward_baselines, "reward_baselines (the greedy rollout's score, shape (bs,))", "remax")
    if baselines.shape != token_level_rewards.shape[:1]:
        raise ValueError(f"reward_baselines must be (bs,), got {tuple(baselines.shape)}")
    mask = response_mask.to(token_level_rewards.dtype)
    returns = (token_level_rewards * mask).flip(dims=[-1]).cumsum(dim=-1).flip(dims=[-1])
    advantages = returns - baselines.to(returns.dtype).unsqueeze(-1) * mask
    return advantages, returns


@register_advantage_estimator("gae", needs_values=True, verl_name="gae", knobs={"gamma": 1.0, "lam": 1.0})
def gae_advantage(
    *, token_level_rewards: Tensor, response_mask: Tensor, group_index: Optional[Tensor],
    values: Optional[Tensor], reward_baselines: Optional[Tensor], gamma: float, lam: float,
    norm_adv_by_std: bool, eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation for PPO (arXiv 1506.02438; PPO arXiv 1707.06347).

    delta_t = r_t + gamma V_{t+1} - V_t, A_t = delta_t + gamma lam A_{t+1}, iterated backwards over the
    valid tokens only: at a masked position the next value and the running advantage are carried over
    unchanged (verl's loop, which skips observation/padding tokens). returns = A + V (before whitening);
    advantages are then whitened over the batch. As in verl, the whitened advantages are *not* re-masked:
    padding positions hold (A_carried - mean) / std, harmless because every loss masks them.
    verl: ``compute_gae_advantage_return``.

    Shapes: token_level_rewards, values, response_mask (bs, T) -> advantages (bs, T), returns (bs, T).
    """
    values = _require(values, "values (critic predictions, shape (bs, response_length))", "gae")
    if values.shape != token_level_rewards.shape:
        raise ValueError(f"values must be (bs, T) = {tuple(token_level_rewards.shape)}, got {tuple(values.shape)}")
    mask = response_mask.to(token_level_rewards.dtype)
    next_values = torch.zeros_like(token_level_rewards[:, 0])
    last_gae = torch.zeros_like(token_level_rewards[:, 0])
    reversed_advantages = []
    for t in reversed(range(token_level_rewards.shape[1])):
        delta = token_level_rewards[:, t] + gamma * next_values - values[:, t]
        candidate = delta + gamma * lam * last_gae
        next_values = values[:, t] * mask[:, t] + (1 - mask[:, t]) * next_values
        last_gae = candidate * mask[:, t] + (1 - mask[:, t]) * last_gae
        reversed_advantages.append(last_gae)
    advantages = torch.stack(reversed_advantages[::-1], dim=1)
    returns = advantages + values
    return masked_whiten(advantages, mask), returns


def compute_advantages(
    estimator: str,
    *,
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    group_index: Optional[GroupIndex],
    values: Optional[torch.Tensor] = None,
    reward_baselines: Optional[torch.Tensor] = None,
    gamma: float = 1.0,
    lam: float = 1.0,
    norm_adv_by_std: bool = True,
    eps: float = 1e-6,
    **params: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compute ``(advantages, returns)`` with a registered estimator; the trainer's single entry point.

    Args:
        estimator: one of :func:`advantage_estimator_names` ("gae", "grpo", "reinforce_pp",
            "reinforce_pp_baseline", "remax", "rloo").
        token_level_rewards: (bs, T) float; outcome rewards sit on the last response token
            (:func:`~rlvr_bench.algorithms.functional.scores_to_token_rewards`), plus any in-reward KL.
        response_mask: (bs, T), 1 on response tokens (bool, int or float).
        group_index: (bs,) integer tensor or sequence of hashable prompt ids; required by grpo, rloo and
            reinforce_pp_baseline, may be ``None`` for the others.
        values: (bs, T) critic values, required by gae.
        reward_baselines: (bs,) greedy-rollout scores, required by remax.
        gamma: discount (gae, reinforce_pp).
        lam: GAE lambda (gae).
        norm_adv_by_std: grpo only; False gives Dr. GRPO's advantage (arXiv 2503.20783).
        eps: grpo's std epsilon (verl's 1e-6).
        **params: the estimator's declared ``params`` (e.g. ``k``); one left out takes its default.

    Returns:
        advantages (bs, T) and returns (bs, T), computed without gradient.

    Raises:
        ValueError: unknown estimator (the message lists the valid ones), bad shapes, missing inputs.
    """
    spec = advantage_estimator_spec(estimator)
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise ValueError(f"advantage estimator {estimator!r} has no parameter {', '.join(unknown)}; its "
                         f"parameters: {', '.join(spec.params) or 'none'}")
    values_of_params = {k: params[k] if params.get(k) is not None else p.default for k, p in spec.params.items()}
    if token_level_rewards.dim() != 2 or response_mask.shape != token_level_rewards.shape:
        raise ValueError(
            "token_level_rewards and response_mask must both be (bs, response_length); got "
            f"{tuple(token_level_rewards.shape)} and {tuple(response_mask.shape)}"
        )
    if not token_level_rewards.is_floating_point():
        raise ValueError(f"token_level_rewards must be floating point, got {token_level_rewards.dtype}")
    index = None
    if group_index is not None:
        index = as_group_index(group_index, token_level_rewards.shape[0], device=token_level_rewards.device)
    with torch.no_grad():
        return spec.fn(
            token_level_rewards=token_level_rewards, response_mask=response_mask, group_index=index,
            values=values, reward_baselines=reward_baselines, gamma=gamma, lam=lam,
            norm_adv_by_std=norm_adv_by_std, eps=eps, **values_of_params,
        )
