"""Policy-gradient losses in a registry, and :func:`policy_loss`, the entry point.

Every registered loss has the one keyword signature :class:`PolicyLossFn` and returns
``(loss, metrics)``: a 0-dim tensor with gradient and a dict of float diagnostics. Shapes of every tensor
argument: (bs, response_length). Mirrors verl's ``register_policy_loss`` / ``compute_policy_loss_vanilla``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Optional, Protocol

import torch

from .aggregation import agg_loss
from .functional import masked_mean
from .knobs import KnobSpec

__all__ = [
    "LOG_RATIO_CLAMP",
    "POLICY_LOSSES",
    "KnobSpec",
    "PolicyLossFn",
    "PolicyLossSpec",
    "get_policy_loss",
    "policy_loss",
    "policy_loss_names",
    "policy_loss_spec",
    "register_policy_loss",
    "vanilla_policy_loss",
]

LOG_RATIO_CLAMP = 20.0
"""log(pi_theta / pi_old) is clamped to [-20, 20] before exp, as verl does for stability."""


class PolicyLossFn(Protocol):
    """The one signature of every registered policy loss. Returns ``(loss, metrics)``.

    Besides these arguments a loss receives each of its declared knobs (:class:`KnobSpec`) as a keyword.
    """

    def __call__(
        self,
        *,
        old_log_prob: torch.Tensor,
        log_prob: torch.Tensor,
        advantages: torch.Tensor,
        response_mask: torch.Tensor,
        loss_agg_mode: str,
        loss_scale_factor: Optional[float],
        batch_num_tokens: Optional[float],
        global_batch_size: Optional[float],
        dp_size: int,
        **knobs: Any,
    ) -> tuple[torch.Tensor, dict[str, float]]: ...


@dataclass(frozen=True)
class PolicyLossSpec:
    """A registered policy loss: its function, its knobs and verl's ``policy_loss.loss_mode`` (None: none)."""

    name: str
    fn: PolicyLossFn
    knobs: Mapping[str, KnobSpec] = field(default_factory=dict)
    verl_name: Optional[str] = None


POLICY_LOSSES: dict[str, PolicyLossSpec] = {}
"""Registry: policy-loss name -> :class:`PolicyLossSpec`; the only list of policy losses."""


def register_policy_loss(
    name: str, *, knobs: Optional[Mapping[str, KnobSpec]] = None, verl_name: Optional[str] = None,
) -> Callable[[PolicyLossFn], PolicyLossFn]:
    """Decorator registering a policy loss and its knobs under ``name`` (like verl's ``register_policy_loss``).

    Args:
        name: registry name (``algorithm.policy_loss``).
        knobs: knob name -> :class:`KnobSpec`; a knob named like an ``algorithm.*`` recipe field takes the
            resolved value of that field, and recipe validation checks it against the bounds.
        verl_name: verl's ``actor.policy_loss.loss_mode``; None when verl has no equivalent.

    Raises:
        ValueError: if ``name`` is already registered to a different function.
    """

    def decorator(fn: PolicyLossFn) -> PolicyLossFn:
        existing = POLICY_LOSSES.get(name)
        if existing is not None and existing.fn is not fn:
            raise ValueError(f"policy loss {name!r} is already registered to {existing.fn}")
        POLICY_LOSSES[name] = PolicyLossSpec(name=name, fn=fn, knobs=MappingProxyType(dict(knobs or {})),
                                             verl_name=verl_name)
        return fn

    return decorator


def policy_loss_names() -> list[str]:
    """Sorted names of the registered policy losses."""
    return sorted(POLICY_LOSSES)


def policy_loss_spec(name: str) -> PolicyLossSpec:
    """The registered spec of policy loss ``name``.

    Raises:
        ValueError: naming the valid losses when ``name`` is unknown.
    """
    try:
        return POLICY_LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown policy loss {name!r}; valid: {', '.join(policy_loss_names())}") from None


def get_policy_loss(name: str) -> PolicyLossFn:
    """Look up a registered policy loss's function (see :func:`policy_loss_spec`)."""
    return policy_loss_spec(name).fn


@register_policy_loss("vanilla", verl_name="vanilla", knobs={
    "clip_ratio_low": KnobSpec(0.2, "PPO clip epsilon below 1", ge=0.0, lt=1.0, verl_key="clip_ratio_low"),
    "clip_ratio_high": KnobSpec(0.2, "PPO clip epsilon above 1 (DAPO clip-higher: 0.28)", ge=0.0,
                                verl_key="clip_ratio_high"),
    "clip_ratio_c": KnobSpec(3.0, "dual-clip bound c for negative advantages (> 1); None = off", gt=1.0,
                             verl_key="clip_ratio_c"),
})
def vanilla_policy_loss(
    *,
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str,
    clip_ratio_low: float,
    clip_ratio_high: float,
    clip_ratio_c: Optional[float],
    loss_scale_factor: Optional[float],
    batch_num_tokens: Optional[float],
    global_batch_size: Optional[float],
    dp_size: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO clipped surrogate (arXiv 1707.06347) with clip-higher and dual-clip.

    rho = exp(clamp(log_prob - old_log_prob, -20, 20));
    L1 = -A rho, L2 = -A clip(rho, 1 - eps_low, 1 + eps_high) (eps_high > eps_low is DAPO's clip-higher,
    arXiv 2503.14476); L = max(L1, L2); for A < 0 with dual-clip (arXiv 1912.09729), L = min(L, -A c).
    The token losses are aggregated with ``loss_agg_mode``. verl: ``compute_policy_loss_vanilla``.

    Metrics (masked means over tokens): ``pg_clipfrac`` = frac(L2 > L1), ``pg_clipfrac_lower`` =
    frac(A < 0 and L > -A c) (0 when dual-clip is off), ``ppo_kl`` = mean(old_log_prob - log_prob).

    Raises:
        ValueError: ``clip_ratio_c`` <= 1 (verl asserts c > 1).
    """
    if clip_ratio_c is not None and not clip_ratio_c > 1.0:
        raise ValueError(f"dual-clip bound clip_ratio_c must be > 1 (or None to disable), got {clip_ratio_c}")
    negative_approx_kl = torch.clamp(log_prob - old_log_prob, min=-LOG_RATIO_CLAMP, max=LOG_RATIO_CLAMP)
    ratio = torch.exp(negative_approx_kl)
    ppo_kl = masked_mean(-negative_approx_kl, response_mask)

    pg_losses1 = -advantages * ratio
    pg_losses2 = -advantages * torch.clamp(ratio, 1 - clip_ratio_low, 1 + clip_ratio_high)
    clip_pg_losses1 = torch.maximum(pg_losses1, pg_losses2)
    pg_clipfrac = masked_mean(torch.gt(pg_losses2, pg_losses1).to(ratio.dtype), response_mask)

    if clip_ratio_c is None:
        pg_losses = clip_pg_losses1
        pg_clipfrac_lower = torch.zeros((), dtype=ratio.dtype, device=ratio.device)
    else:
        pg_losses3 = -advantages * clip_ratio_c
        clip_pg_losses2 = torch.min(pg_losses3, clip_pg_losses1)
        lower = torch.gt(clip_pg_losses1, pg_losses3) & (advantages < 0)
        pg_clipfrac_lower = masked_mean(lower.to(ratio.dtype), response_mask)
        pg_losses = torch.where(advantages < 0, clip_pg_losses2, clip_pg_losses1)

    loss = agg_loss(pg_losses, response_mask, loss_agg_mode, loss_scale_factor=loss_scale_factor,
                    batch_num_tokens=batch_num_tokens, global_batch_size=global_batch_size, dp_size=dp_size)
    metrics = {
        "pg_clipfrac": float(pg_clipfrac.detach().item()),
        "ppo_kl": float(ppo_kl.detach().item()),
        "pg_clipfrac_lower": float(pg_clipfrac_lower.detach().item()),
    }
    return loss, metrics


def policy_loss(
    name: str,
    *,
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str,
    loss_scale_factor: Optional[float] = None,
    batch_num_tokens: Optional[float] = None,
    global_batch_size: Optional[float] = None,
    dp_size: int = 1,
    **knobs: Any,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Compute a registered policy loss; the trainer's single entry point.

    Args:
        name: one of :func:`policy_loss_names` (e.g. "vanilla").
        old_log_prob: (bs, T) log-probs of the sampled tokens under the rollout (behaviour) policy.
        log_prob: (bs, T) the same under the current policy (carries the gradient).
        advantages: (bs, T) from :func:`~rlvr_bench.algorithms.advantages.compute_advantages`.
        response_mask: (bs, T).
        loss_agg_mode: see :data:`~rlvr_bench.algorithms.aggregation.LOSS_AGG_MODES`.
        loss_scale_factor, batch_num_tokens, global_batch_size, dp_size: forwarded to ``agg_loss`` (the
            same keys as verl's ``global_batch_info``).
        **knobs: the loss's declared knobs; a knob left out takes its :class:`KnobSpec` default. "vanilla":
            ``clip_ratio_low`` eps_low (verl default 0.2), ``clip_ratio_high`` eps_high (0.2; DAPO's
            clip-higher 0.28), ``clip_ratio_c`` dual-clip bound c > 1 (3.0; ``None`` disables dual-clip).

    Returns:
        ``(loss, metrics)``: 0-dim tensor and a dict of floats (``pg_clipfrac``, ``pg_clipfrac_lower``,
        ``ppo_kl`` for "vanilla").

    Raises:
        ValueError: unknown loss name or knob (the message lists the valid ones), shape mismatch, bad clip
            bound.
    """
    spec = policy_loss_spec(name)
    unknown = sorted(set(knobs) - set(spec.knobs))
    if unknown:
        raise ValueError(f"policy loss {name!r} has no knob {', '.join(unknown)}; its knobs: "
                         f"{', '.join(spec.knobs) or 'none'}")
    shapes = {tuple(t.shape) for t in (old_log_prob, log_prob, advantages, response_mask)}
    if len(shapes) != 1 or log_prob.dim() != 2:
        raise ValueError(
            "old_log_prob, log_prob, advantages and response_mask must all be (bs, response_length); got "
            f"{[tuple(t.shape) for t in (old_log_prob, log_prob, advantages, response_mask)]}"
        )
    values = {k: knobs.get(k, knob.default) for k, knob in spec.knobs.items()}
    return spec.fn(
        old_log_prob=old_log_prob, log_prob=log_prob, advantages=advantages, response_mask=response_mask,
        loss_agg_mode=loss_agg_mode, loss_scale_factor=loss_scale_factor, batch_num_tokens=batch_num_tokens,
        global_batch_size=global_batch_size, dp_size=dp_size, **values,
    )
