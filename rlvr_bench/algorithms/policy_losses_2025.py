"""The 2025 policy losses of verl 0.9.1: GSPO, CISPO, GMPO (``geo_mean``), Clip-Cov, KL-Cov, SAPO and GPG.

Each is registered in :data:`~rlvr_bench.algorithms.policy_loss.POLICY_LOSSES` under verl's
``actor.policy_loss.loss_mode`` name, with the one keyword signature
:class:`~rlvr_bench.algorithms.policy_loss.PolicyLossFn`. Every tensor argument is (bs, response_length)
(``bs`` sequences, ``T`` padded response tokens); the result is ``(loss, metrics)`` with a 0-dim loss.

Numerics follow ``verl/trainer/ppo/core_algos.py`` of verl 0.9.1 exactly (value and gradient), quirks
included; where verl departs from the paper the docstring says so under "verl vs paper". Knobs are named as
verl's actor config names them: ``clip_ratio_low``/``clip_ratio_high``/``tau_pos``/``tau_neg`` directly under
``actor_rollout_ref.actor``, the others under ``actor_rollout_ref.actor.policy_loss`` (``verl_key``
``policy_loss.<name>``). Defaults are verl's actor-config defaults (``ActorConfig`` / ``PolicyLossConfig``),
not the papers' recommended values, which the knob help lines give.

Importing this module only registers the losses (torch and ``rlvr_bench.algorithms`` only).
"""

from __future__ import annotations

from typing import Optional

import torch

from .aggregation import agg_loss
from .functional import masked_mean
from .policy_loss import LOG_RATIO_CLAMP, KnobSpec, register_policy_loss

__all__ = [
    "GSPO_LOG_RATIO_MAX",
    "cispo_policy_loss",
    "clip_cov_policy_loss",
    "geo_mean_policy_loss",
    "gpg_policy_loss",
    "gspo_policy_loss",
    "kl_cov_policy_loss",
    "sapo_policy_loss",
]

GSPO_LOG_RATIO_MAX = 10.0
"""GSPO clamps the log of its token-level sequence ratio at 10 (upper bound only), as verl does."""


def _clip_knobs(paper_hint: str) -> dict[str, KnobSpec]:
    """``clip_ratio_low`` / ``clip_ratio_high`` knobs (verl's actor keys, default 0.2 each)."""
    return {
        "clip_ratio_low": KnobSpec(0.2, f"clip epsilon below 1 ({paper_hint})", ge=0.0, lt=1.0,
                                   verl_key="clip_ratio_low"),
        "clip_ratio_high": KnobSpec(0.2, f"clip epsilon above 1 ({paper_hint})", ge=0.0,
                                    verl_key="clip_ratio_high"),
    }


def _agg(pg_losses: torch.Tensor, response_mask: torch.Tensor, loss_agg_mode: str,
         loss_scale_factor: Optional[float], batch_num_tokens: Optional[float],
         global_batch_size: Optional[float], dp_size: int) -> torch.Tensor:
    return agg_loss(pg_losses, response_mask, loss_agg_mode, loss_scale_factor=loss_scale_factor,
                    batch_num_tokens=batch_num_tokens, global_batch_size=global_batch_size, dp_size=dp_size)


def _item(t: torch.Tensor) -> float:
    return float(t.detach().item())


# ------------------------------------------------------------------------------------------------ GSPO


@register_policy_loss("gspo", verl_name="gspo",
                      knobs=_clip_knobs("GSPO paper / verl's GSPO recipe: 3e-4 low, 4e-4 high"))
def gspo_policy_loss(
    *,
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str,
    clip_ratio_low: float,
    clip_ratio_high: float,
    loss_scale_factor: Optional[float],
    batch_num_tokens: Optional[float],
    global_batch_size: Optional[float],
    dp_size: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """GSPO, Group Sequence Policy Optimization (arXiv 2507.18071): a clipped sequence-level ratio.

    Shapes: all tensors (bs, T). With d = log_prob - old_log_prob (bs, T) and |y_i| = max(sum_t m, 1),
    the sequence ratio is s_i = exp(sum_t m d / |y_i|) (the geometric mean of the token ratios, (bs,)).
    Its token-level form (GSPO-token, the paper's eq. 13-14) is
    s_{i,t} = exp(min(sg[log s_i] + log_prob - sg[log_prob], 10)) (bs, T): value s_i, gradient
    s_i * grad log_prob. L = max(-A s_{i,t}, -A clip(s_{i,t}, 1 - eps_low, 1 + eps_high)), aggregated
    with ``loss_agg_mode``. verl: ``compute_policy_loss_gspo``.

    verl vs paper: the paper averages per sequence ("seq-mean-token-mean"); verl (and this function)
    use whatever ``loss_agg_mode`` says (verl's GSPO recipe sets "seq-mean-token-mean"). The paper's clip
    ranges are tiny (3e-4 / 4e-4); the knob defaults here are verl's actor defaults (0.2). The log-ratio
    is clamped only above (at 10, after adding the stop-gradient terms), unlike vanilla's +-20.

    Metrics: ``pg_clipfrac`` = masked mean of (clipped loss > unclipped), ``ppo_kl`` = masked mean of
    -d (token level, unclamped), ``pg_clipfrac_lower`` = 0 (as verl).
    """
    negative_approx_kl = log_prob - old_log_prob
    seq_lengths = torch.sum(response_mask, dim=-1).clamp(min=1)
    negative_approx_kl_seq = torch.sum(negative_approx_kl * response_mask, dim=-1) / seq_lengths
    log_seq_ratio = log_prob - log_prob.detach() + negative_approx_kl_seq.detach().unsqueeze(-1)
    seq_ratio = torch.exp(torch.clamp(log_seq_ratio, max=GSPO_LOG_RATIO_MAX))

    pg_losses1 = -advantages * seq_ratio
    pg_losses2 = -advantages * torch.clamp(seq_ratio, 1 - clip_ratio_low, 1 + clip_ratio_high)
    pg_losses = torch.maximum(pg_losses1, pg_losses2)
    loss = _agg(pg_losses, response_mask, loss_agg_mode, loss_scale_factor, batch_num_tokens,
                global_batch_size, dp_size)
    pg_clipfrac = masked_mean(torch.gt(pg_losses2, pg_losses1).to(seq_ratio.dtype), response_mask)
    return loss, {"pg_clipfrac": _item(pg_clipfrac),
                  "ppo_kl": _item(masked_mean(-negative_approx_kl, response_mask)),
                  "pg_clipfrac_lower": 0.0}


# ------------------------------------------------------------------------------------------------ SAPO


@register_policy_loss("sapo", verl_name="sapo", knobs={
    "tau_pos": KnobSpec(1.0, "SAPO gate temperature for A > 0 (>= 1 keeps rewards stable)", gt=0.0,
                        verl_key="tau_pos"),
    "tau_neg": KnobSpec(1.05, "SAPO gate temperature for A <= 0 (> tau_pos for asymmetry)", gt=0.0,
                        verl_key="tau_neg"),
})
def sapo_policy_loss(
    *,
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str,
    tau_pos: float,
    tau_neg: float,
    loss_scale_factor: Optional[float],
    batch_num_tokens: Optional[float],
    global_batch_size: Optional[float],
    dp_size: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """SAPO, Soft Adaptive Policy Optimization (arXiv 2511.20347): a smooth sigmoid gate instead of a clip.

    Shapes: all tensors (bs, T). r = exp(clamp(log_prob - old_log_prob, -20, 20)) (bs, T);
    tau = tau_pos where A > 0 else tau_neg; gate f(r) = sigmoid(tau (r - 1)) * 4 / tau (f(1) = 2 / tau,
    f'(1) = 1, so on-policy the gradient is REINFORCE's); L = -f(r) A. verl: ``compute_policy_loss_sapo``.

    verl quirk, matched: the token losses are always aggregated with "seq-mean-token-mean" (the
    ``loss_agg_mode`` argument is ignored; ``global_batch_size`` and ``dp_size`` still apply). A = 0 takes
    tau_neg.

    Metrics: ``ppo_kl`` = masked mean of -clamp(d); ``pg_clipfrac`` = ``pg_clipfrac_lower`` = 0 (as verl).
    """
    del loss_agg_mode  # verl's SAPO always aggregates with seq-mean-token-mean
    tau_p = torch.as_tensor(tau_pos, dtype=advantages.dtype, device=advantages.device)
    tau_n = torch.as_tensor(tau_neg, dtype=advantages.dtype, device=advantages.device)
    negative_approx_kl = torch.clamp(log_prob - old_log_prob, min=-LOG_RATIO_CLAMP, max=LOG_RATIO_CLAMP)
    ratio = torch.exp(negative_approx_kl)
    taus = torch.where(advantages > 0, tau_p, tau_n)
    gates = torch.sigmoid(taus * (ratio - 1.0)) * (4.0 / taus)
    pg_losses = -gates * advantages
    loss = _agg(pg_losses, response_mask, "seq-mean-token-mean", loss_scale_factor, batch_num_tokens,
                global_batch_size, dp_size)
    return loss, {"pg_clipfrac": 0.0, "ppo_kl": _item(masked_mean(-negative_approx_kl, response_mask)),
                  "pg_clipfrac_lower": 0.0}


# ------------------------------------------------------------------------------------------------ GMPO


@register_policy_loss("geo_mean", verl_name="geo_mean",
                      knobs=_clip_knobs("bounds on the LOG ratio; GMPO paper / recipe: 0.4 each"))
def geo_mean_policy_loss(
    *,
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str,
    clip_ratio_low: float,
    clip_ratio_high: float,
    loss_scale_factor: Optional[float],
    batch_num_tokens: Optional[float],
    global_batch_size: Optional[float],
    dp_size: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """GMPO, Geometric-Mean Policy Optimization (arXiv 2507.20673): the geometric mean of clipped ratios.

    Shapes: all tensors (bs, T). d = log_prob - old_log_prob (bs, T), no +-20 clamp; the clip is on the
    log ratio: d_c = clamp(d, -eps_low, eps_high); per token d* = sgn(A) min(sgn(A) d, sgn(A) d_c) (the
    pessimistic side, 0 where A = 0). Per sequence (bs,): n_i = sum_t m, rho_i = exp(sum_t m d* /
    (n_i + 1e-8)), a_i = sum_t m A / (n_i + 1e-8); loss = mean_i(-a_i rho_i) over ALL bs rows.
    verl: ``compute_policy_loss_geo_mean``.

    verl quirks, matched: ``loss_agg_mode``, ``loss_scale_factor``, ``batch_num_tokens``,
    ``global_batch_size`` and ``dp_size`` are all ignored (a plain mean over the micro-batch's rows, fully
    masked rows counted with loss 0). Token-level advantages are averaged per sequence (the paper assumes
    sequence-level advantages). eps bounds the log ratio, so 0.4 means ratios in (e^-0.4, e^0.4) as in the
    paper; the defaults are verl's actor defaults (0.2).

    Metrics: ``pg_clipfrac`` / ``pg_clipfrac_lower`` = masked mean of (d clipped and A > 0 / A < 0),
    ``ppo_kl`` = masked mean of -d.
    """
    del loss_agg_mode, loss_scale_factor, batch_num_tokens, global_batch_size, dp_size  # ignored, as verl
    negative_approx_kl = log_prob - old_log_prob
    sgn = torch.sign(advantages)
    clamped = torch.clamp(negative_approx_kl, -clip_ratio_low, clip_ratio_high)
    kl_min = sgn * torch.min(sgn * negative_approx_kl, sgn * clamped)
    lengths = response_mask.sum(dim=-1)
    ratio = torch.exp((kl_min * response_mask).sum(dim=-1) / (lengths + 1e-8))
    seq_adv = (advantages * response_mask).sum(dim=-1) / (lengths + 1e-8)
    loss = torch.mean(-seq_adv * ratio)
    clipped = torch.ne(negative_approx_kl, clamped)
    return loss, {
        "pg_clipfrac": _item(masked_mean((clipped * (advantages > 0)).to(ratio.dtype), response_mask)),
        "ppo_kl": _item(masked_mean(-negative_approx_kl, response_mask)),
        "pg_clipfrac_lower": _item(masked_mean((clipped * (advantages < 0)).to(ratio.dtype), response_mask)),
    }


# ----------------------------------------------------------------------------------------------- CISPO


@register_policy_loss("cispo", verl_name="cispo",
                      knobs=_clip_knobs("IS-weight clip; the CISPO paper tunes only the upper bound"))
def cispo_policy_loss(
    *,
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str,
    clip_ratio_low: float,
    clip_ratio_high: float,
    loss_scale_factor: Optional[float],
    batch_num_tokens: Optional[float],
    global_batch_size: Optional[float],
    dp_size: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """CISPO, Clipped IS-weight Policy Optimization (MiniMax-M1, arXiv 2506.13585).

    Shapes: all tensors (bs, T). r = exp(clamp(log_prob - old_log_prob, -20, 20)) (bs, T);
    L = -sg[clip(r, 1 - eps_low, 1 + eps_high)] A log_prob, aggregated with ``loss_agg_mode``: every token
    keeps a gradient (-sg[clip r] A grad log_prob), only its weight is clipped. verl:
    ``compute_policy_loss_cispo``.

    verl vs paper: the paper normalises by the group's total token count (token-mean) and effectively
    sets no lower bound (large eps_low); here both come from the recipe (verl's actor defaults: 0.2 / 0.2,
    ``loss_agg_mode`` as given). The loss *value* is -w A log_prob (not a ratio), so it is not comparable
    with the clipped-surrogate losses' values; only its gradient is meaningful.

    Metrics: ``pg_clipfrac`` = masked mean of (r != clip(r)), ``ppo_kl`` = masked mean of -clamp(d),
    ``pg_clipfrac_lower`` = 0 (as verl).
    """
    negative_approx_kl = torch.clamp(log_prob - old_log_prob, min=-LOG_RATIO_CLAMP, max=LOG_RATIO_CLAMP)
    ratio = torch.exp(negative_approx_kl)
    clipped_ratio = torch.clamp(ratio, 1 - clip_ratio_low, 1 + clip_ratio_high)
    pg_losses = -clipped_ratio.detach() * advantages * log_prob
    loss = _agg(pg_losses, response_mask, loss_agg_mode, loss_scale_factor, batch_num_tokens,
                global_batch_size, dp_size)
    return loss, {"pg_clipfrac": _item(masked_mean((ratio != clipped_ratio).to(ratio.dtype), response_mask)),
                  "ppo_kl": _item(masked_mean(-negative_approx_kl, response_mask)),
                  "pg_clipfrac_lower": 0.0}


# ------------------------------------------------------------------------------------ Clip-Cov / KL-Cov


@register_policy_loss("clip_cov", verl_name="clip_cov", knobs={
    **_clip_knobs("PPO clip applied before the covariance clip"),
    "clip_cov_ratio": KnobSpec(0.0002, "fraction r of valid tokens whose loss is dropped (paper: 2e-4)",
                               gt=0.0, le=1.0, verl_key="policy_loss.clip_cov_ratio"),
    "clip_cov_lb": KnobSpec(1.0, "lower covariance bound omega_low of the candidates (paper: 1)",
                            verl_key="policy_loss.clip_cov_lb"),
    "clip_cov_ub": KnobSpec(5.0, "upper covariance bound omega_high of the candidates (paper: 5)",
                            verl_key="policy_loss.clip_cov_ub"),
})
def clip_cov_policy_loss(
    *,
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str,
    clip_ratio_low: float,
    clip_ratio_high: float,
    clip_cov_ratio: float,
    clip_cov_lb: float,
    clip_cov_ub: float,
    loss_scale_factor: Optional[float],
    batch_num_tokens: Optional[float],
    global_batch_size: Optional[float],
    dp_size: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Clip-Cov (Cui et al., "The Entropy Mechanism of RL for Reasoning LMs", arXiv 2505.22617).

    Shapes: all tensors (bs, T). r = exp(log_prob - old_log_prob) (no +-20 clamp); L1 = -A r,
    L2 = -A clip(r, 1 - eps_low, 1 + eps_high) (bs, T). Token covariance (bs, T):
    cov = (A - mean_m A) (log_prob - mean_m log_prob) with masked means over the micro-batch. Candidates:
    valid tokens not already PPO-clipped (L2 > L1) with lb < cov < ub; k = max(int(ratio * sum m), 1)
    of them, chosen at random, get correction 0, the rest 1: L = max(L1, L2) * corr, aggregated with
    ``loss_agg_mode``. verl: ``compute_policy_loss_clip_cov``.

    Randomness: the k candidates are the first k of ``torch.randperm(n_candidates)`` over the candidates in
    row-major order, drawn from torch's global CPU generator exactly as verl does (and only when there is
    at least one candidate). Seeding ``torch.manual_seed(s)`` before the call gives the same choice as
    verl's function after the same seed; with k >= n_candidates the result does not depend on the RNG.

    verl vs paper: the paper detaches the selected tokens' gradient; verl multiplies their loss by 0,
    so the gradient agrees but the loss value also drops them. verl excludes tokens already clipped by
    PPO from the candidates.

    Metrics: ``pg_clipfrac`` = masked mean of (corr == 0), ``ppo_kl`` = masked mean of -d (as verl; no
    ``pg_clipfrac_lower``).

    Raises:
        ValueError: ``clip_cov_ratio`` <= 0 (verl asserts > 0).
    """
    if not clip_cov_ratio > 0:
        raise ValueError(f"clip_cov_ratio must be > 0, got {clip_cov_ratio}")
    negative_approx_kl = log_prob - old_log_prob
    ratio = torch.exp(negative_approx_kl)
    ppo_kl = masked_mean(-negative_approx_kl, response_mask)
    pg_losses1 = -advantages * ratio
    pg_losses2 = -advantages * torch.clamp(ratio, 1 - clip_ratio_low, 1 + clip_ratio_high)
    valid = response_mask > 0
    clip_by_origin = (pg_losses2 > pg_losses1) & valid

    with torch.no_grad():  # the covariance only selects tokens
        cov = (advantages - masked_mean(advantages, response_mask)) * (
            log_prob - masked_mean(log_prob, response_mask))
        cov = cov.masked_fill(~valid | clip_by_origin, -torch.inf)
    clip_num = max(int(clip_cov_ratio * response_mask.sum().item()), 1)
    candidates = torch.nonzero((cov < clip_cov_ub) & (cov > clip_cov_lb) & valid)
    corr = torch.ones_like(advantages)
    if len(candidates) > 0:
        perm = torch.randperm(len(candidates))  # global CPU generator, as verl
        chosen = candidates[perm[: min(clip_num, len(candidates))]]
        corr[chosen[:, 0], chosen[:, 1]] = 0
    pg_clipfrac = masked_mean((corr == 0).to(ratio.dtype), response_mask)
    pg_losses = torch.maximum(pg_losses1, pg_losses2) * corr
    loss = _agg(pg_losses, response_mask, loss_agg_mode, loss_scale_factor, batch_num_tokens,
                global_batch_size, dp_size)
    return loss, {"pg_clipfrac": _item(pg_clipfrac), "ppo_kl": _item(ppo_kl)}


@register_policy_loss("kl_cov", verl_name="kl_cov", knobs={
    "kl_cov_ratio": KnobSpec(0.0002, "fraction k of valid tokens (largest covariance) given the |log-ratio| "
                             "penalty (paper: 2e-3 for 7B, 2e-4 for 32B)", gt=0.0, le=1.0,
                             verl_key="policy_loss.kl_cov_ratio"),
    "ppo_kl_coef": KnobSpec(0.1, "coefficient beta of the |log-ratio| penalty (paper: 1)", ge=0.0,
                            verl_key="policy_loss.ppo_kl_coef"),
})
def kl_cov_policy_loss(
    *,
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str,
    kl_cov_ratio: float,
    ppo_kl_coef: float,
    loss_scale_factor: Optional[float],
    batch_num_tokens: Optional[float],
    global_batch_size: Optional[float],
    dp_size: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """KL-Cov (Cui et al., "The Entropy Mechanism of RL for Reasoning LMs", arXiv 2505.22617).

    Shapes: all tensors (bs, T). d = log_prob - old_log_prob, r = exp(d) (no clamp, no ratio clip):
    L = -A r for every token, except the top k = max(1, int(n_valid * kl_cov_ratio)) valid tokens by
    covariance cov = (A - mean A)(log_prob - mean log_prob) (plain means over the n_valid valid tokens,
    computed on CPU in row-major order) which get L = -A r + beta |d|. Aggregated with ``loss_agg_mode``.
    verl: ``compute_policy_loss_kl_cov``.

    Deterministic given the inputs: ``torch.topk`` on the same CPU tensor as verl (ties broken the same
    way). No valid token: no penalty (verl's ``k != 0`` test; any positive ratio with >= 1 valid token
    selects at least one).

    verl vs paper: verl's default beta (``ppo_kl_coef``) is 0.1, the paper's 1. The metric ``ppo_kl`` is
    the masked mean of |d| (absolute, as verl), not of -d; there is no ``pg_clipfrac``.

    Raises:
        ValueError: ``kl_cov_ratio`` <= 0 (verl asserts > 0).
    """
    if not kl_cov_ratio > 0:
        raise ValueError(f"kl_cov_ratio must be > 0, got {kl_cov_ratio}")
    negative_approx_kl = log_prob - old_log_prob
    abs_kl = negative_approx_kl.abs()
    ratio = torch.exp(negative_approx_kl)
    ppo_kl_abs = masked_mean(abs_kl, response_mask)
    pg_losses = -advantages * ratio
    pg_losses_kl = pg_losses + ppo_kl_coef * abs_kl

    valid = response_mask > 0
    valid_idx = torch.nonzero(valid.reshape(-1), as_tuple=True)[0]
    valid_adv = advantages[valid].detach().reshape(-1).cpu()
    valid_logp = log_prob[valid].detach().reshape(-1).cpu()
    if len(valid_adv) > 0:
        cov = (valid_adv - valid_adv.mean()) * (valid_logp - valid_logp.mean())
        top = torch.topk(cov, max(1, int(len(cov) * kl_cov_ratio)), largest=True).indices
        flat = valid_idx[top.to(valid_idx.device)]
        rows, cols = flat // advantages.shape[1], flat % advantages.shape[1]
        penalised = torch.zeros_like(valid)
        penalised[rows, cols] = True
        pg_losses = torch.where(penalised, pg_losses_kl, pg_losses)
    loss = _agg(pg_losses, response_mask, loss_agg_mode, loss_scale_factor, batch_num_tokens,
                global_batch_size, dp_size)
    return loss, {"ppo_kl": _item(ppo_kl_abs)}


# ------------------------------------------------------------------------------------------------- GPG


@register_policy_loss("gpg", verl_name="gpg")
def gpg_policy_loss(
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
) -> tuple[torch.Tensor, dict[str, float]]:
    """GPG, Group Policy Gradient (arXiv 2504.02546): plain REINFORCE, L = -log_prob * A.

    Shapes: all tensors (bs, T). No ratio, no clip, no knobs: the token losses -log_prob A are aggregated
    with ``loss_agg_mode``, so the gradient is -A grad log_prob (weighted by the aggregation). Pair it with
    the ``gpg`` advantage estimator (its alpha correction) as the paper does. ``old_log_prob`` is unused:
    the loss is only valid on-policy (one update per rollout batch), as in the paper. verl:
    ``compute_policy_loss_gpg`` (rollout importance weights not supported here).

    The loss *value* is -A log_prob, not comparable with the clipped-surrogate losses' values.

    Metrics: none (an empty dict, as verl).
    """
    del old_log_prob  # on-policy REINFORCE: no importance ratio
    pg_losses = -log_prob * advantages
    loss = _agg(pg_losses, response_mask, loss_agg_mode, loss_scale_factor, batch_num_tokens,
                global_batch_size, dp_size)
    return loss, {}
