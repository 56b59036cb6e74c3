"""Rollout correction: importance weights for the gap between the policy that generated a rollout and the
trainer's policy, and the metrics of that gap.

The "behaviour" log-probs are those of whatever generated the rollout: an inference engine (vLLM, other
kernels and precision than the trainer's: "Your Efficient RL Framework Secretly Brings You Off-Policy RL
Training", Yao, Liu, Zhang, Liu, Gao, Zhang, 2025, https://fengyao.notion.site/off-policy-rl, the TIS blog),
or an older policy (asynchronous / one-step-off-policy training). The "old" log-probs are the trainer's own
recomputation for the same tokens, the PPO ratio's denominator. With r_t = old_t - behaviour_t (clamped to
[-20, 20] before ``exp``, verl's ``SAFETY_BOUND``) the importance ratio is

- token level: rho_t = exp(r_t);
- sequence level: rho_i = exp(clamp(sum_t m_t r_t, -20, 20)), the same for every token of sequence i;

and each mode turns it into a detached weight w (0 at padding) that multiplies the per-token policy loss:

========================  ====================================================================================
``none``                  no weight (w = 1); the mismatch metrics are still measured
``token_truncate``        w_t = min(rho_t, cap) (TIS), and max(., floor) when a floor is set
``token_mask``            w_t = rho_t if floor <= rho_t <= cap else 0 (masked IS; IcePop)
``sequence_truncate``     w_i = min(rho_i, cap) (and max(., floor))
``sequence_mask``         w_i = rho_i if floor <= rho_i <= cap else 0 (sequence-level MIS)
========================  ====================================================================================

Sources: verl 0.9.1's rollout correction (``trainer/ppo/rollout_corr_helper.py``,
``compute_rollout_correction_weights``: ``rollout_is`` "token"/"sequence", ``rollout_is_threshold`` a float
(TIS) or ``"lower_upper"`` (IcePop); docs/algo/rollout_corr.md), TRL 1.16's ``vllm_importance_sampling_mode``
(``token_truncate``, ``token_mask``, ``sequence_truncate``, ``sequence_mask``; ``vllm_importance_sampling_clip_max``
/ ``_clip_min``), masked IS from "When Speed Kills Stability: Demystifying RL Collapse from the
Training-Inference Mismatch" (Liu, Li et al., 2025, https://richardli.xyz/rl-collapse) and IcePop (Ring-1T,
arXiv 2510.18855). Where the two codes differ, this module follows:

- the mode names and the optional floor: TRL's (verl's truncation has no lower bound; its masking needs one);
  with no floor, a mask mode masks only ratios above the cap (TRL's ``clip_min=None``);
- the numerics: verl's (the +-20 clamp of the log-ratio, token or summed, before ``exp``; TRL has none;
  weights zeroed at padding); a behaviour log-prob that is NaN gives r = 0 (ratio 1), as TRL does;
- inclusive bounds (a ratio equal to the cap or floor is kept), as both.

:func:`weighted_log_prob` is how the trainer applies w to any registered policy loss: it rescales the gradient
of each token's log-prob by w_t and keeps every value, which gives exactly the gradient of verl's
``pg_losses * rollout_is_weights`` for every loss whose token loss depends on ``log_prob`` through that token
only (vanilla, gspo, sapo, cispo, clip_cov, kl_cov, gpg); geo_mean's sequence ratio mixes tokens, so a
token-level weight there scales each token's share of the gradient (verl: the sequence's geometric-mean
weight), and a sequence-level weight is exact.

Everything here is torch only, no I/O; shapes: (B, T) = (sequences, response length), right-padded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from .functional import masked_mean, masked_sum
from .policy_loss import LOG_RATIO_CLAMP

__all__ = [
    "CORRECTIONS",
    "CorrectionSpec",
    "correction_names",
    "correction_spec",
    "correction_weights",
    "log_ratio",
    "mismatch_metrics",
    "weighted_log_prob",
]


@dataclass(frozen=True)
class CorrectionSpec:
    """A rollout-correction mode.

    Attributes:
        name: the recipe value (``rollout.correction``).
        level: "token" or "sequence" (None for ``none``): where the ratio is formed.
        constraint: "truncate" or "mask" (None for ``none``): what happens outside [floor, cap].
        verl_rollout_is: verl 0.9.1's ``algorithm.rollout_correction.rollout_is`` (None: off).
        description: one line for docs and the verl mapping table.
    """

    name: str
    level: Optional[str]
    constraint: Optional[str]
    verl_rollout_is: Optional[str]
    description: str


CORRECTIONS: dict[str, CorrectionSpec] = {s.name: s for s in (
    CorrectionSpec("none", None, None, None, "no importance weight; the mismatch is only measured"),
    CorrectionSpec("token_truncate", "token", "truncate", "token",
                   "per-token ratio truncated at the cap (TIS, Yao et al. 2025)"),
    CorrectionSpec("token_mask", "token", "mask", "token",
                   "per-token ratio, 0 outside [floor, cap] (masked IS / IcePop)"),
    CorrectionSpec("sequence_truncate", "sequence", "truncate", "sequence",
                   "sequence ratio (product over tokens) truncated at the cap"),
    CorrectionSpec("sequence_mask", "sequence", "mask", "sequence",
                   "sequence ratio, the whole sequence 0 outside [floor, cap] (sequence-level MIS)"),
)}
"""Registry: ``rollout.correction`` name -> :class:`CorrectionSpec`; the only list of modes."""


def correction_names() -> list[str]:
    """The registered modes, ``none`` first (definition order)."""
    return list(CORRECTIONS)


def correction_spec(name: str) -> CorrectionSpec:
    """The spec of mode ``name``.

    Raises:
        ValueError: naming the valid modes when ``name`` is unknown.
    """
    try:
        return CORRECTIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown rollout correction {name!r}; valid: {', '.join(CORRECTIONS)}") from None


def log_ratio(old_log_prob: torch.Tensor, behaviour_log_prob: torch.Tensor,
              response_mask: torch.Tensor) -> torch.Tensor:
    """r = old - behaviour (B, T), 0 at padding and where either is NaN (TRL: no correction there)."""
    if old_log_prob.shape != behaviour_log_prob.shape or old_log_prob.shape != response_mask.shape:
        raise ValueError("old_log_prob, behaviour_log_prob and response_mask must have one (B, T) shape; got "
                         f"{[tuple(t.shape) for t in (old_log_prob, behaviour_log_prob, response_mask)]}")
    diff = old_log_prob.detach().float() - behaviour_log_prob.detach().float().to(old_log_prob.device)
    diff = torch.nan_to_num(diff, nan=0.0)
    return torch.where(response_mask.bool().to(diff.device), diff, torch.zeros((), device=diff.device))


def _level_log_ratio(r: torch.Tensor, mask: torch.Tensor, level: str) -> torch.Tensor:
    """(B, T) log-ratio at ``level``, clamped to +-20: per token, or the sequence's sum on every token."""
    if level == "sequence":
        r = masked_sum(r, mask, axis=-1).unsqueeze(-1).expand_as(r)
    return torch.clamp(r, min=-LOG_RATIO_CLAMP, max=LOG_RATIO_CLAMP)


def correction_weights(mode: str, old_log_prob: torch.Tensor, behaviour_log_prob: torch.Tensor,
                       response_mask: torch.Tensor, *, cap: float,
                       floor: Optional[float] = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Detached importance weights w (B, T) of ``mode`` (see the module docstring for the formulas).

    Args:
        mode: a name of :data:`CORRECTIONS`.
        old_log_prob: (B, T) the trainer's log-probs of the sampled tokens (the PPO ratio's denominator).
        behaviour_log_prob: (B, T) the log-probs under the policy that sampled them (the engine's).
        response_mask: (B, T) 0/1.
        cap: the upper bound C (> 0; verl's ``rollout_is_threshold`` default 2.0, TRL's ``clip_max`` 3.0).
        floor: the lower bound (None: none; verl's IcePop lower, TRL's ``clip_min``).

    Returns:
        ``(weights, metrics)``: w (float32, 0 at padding; all 1 on valid tokens for ``none``) and, for a
        mode other than ``none``: ``weight_mean`` (token mean of w), ``raw_ratio_max`` (largest ratio at the
        mode's level before truncation or masking), ``token_frac_corrected`` / ``seq_frac_corrected`` (valid
        tokens / sequences with a ratio outside [floor, cap], i.e. truncated or masked).

    Raises:
        ValueError: unknown mode, shapes differ, cap <= 0, floor <= 0 or floor > cap.
    """
    spec = correction_spec(mode)
    if not cap > 0 or (floor is not None and not 0 < floor <= cap):
        raise ValueError(f"rollout correction bounds need 0 < floor <= cap; got floor={floor}, cap={cap}")
    r = log_ratio(old_log_prob, behaviour_log_prob, response_mask)
    mask = response_mask.to(r.device).float()
    if spec.level is None:
        return mask.clone(), {}
    ratio = torch.exp(_level_log_ratio(r, mask, spec.level))
    lower = 0.0 if floor is None else float(floor)
    out = ((ratio > cap) | (ratio < lower)) & mask.bool()
    if spec.constraint == "truncate":
        weights = ratio.clamp(min=floor, max=cap)
    else:
        weights = torch.where(out, torch.zeros_like(ratio), ratio)
    weights = (weights * mask).detach()
    seq_valid = mask.sum(-1) > 0
    metrics = {
        "weight_mean": float(masked_mean(weights, mask)),
        "raw_ratio_max": float(ratio.masked_fill(~mask.bool(), float("-inf")).max()) if seq_valid.any() else 0.0,
        "token_frac_corrected": float(masked_mean(out.float(), mask)),
        "seq_frac_corrected": float(out.any(-1)[seq_valid].float().mean()) if seq_valid.any() else 0.0,
    }
    return weights, metrics


def mismatch_metrics(old_log_prob: torch.Tensor, behaviour_log_prob: torch.Tensor,
                     response_mask: torch.Tensor) -> dict[str, float]:
    """How far the behaviour policy is from the trainer's, on the sampled tokens (every step, any mode).

    With r_t = old_t - behaviour_t over the valid tokens (B, T):

    - ``logp_abs_diff_mean`` / ``logp_abs_diff_max``: token mean / max of |r_t| (TRL's
      ``sampling/sampling_logp_difference``);
    - ``kl``: token mean of -r_t, the direct estimate of KL(behaviour || old) (verl's ``rollout_corr/kl``);
    - ``k3_kl``: token mean of exp(r_t) - r_t - 1 (Schulman's k3, verl's ``k3_kl``; r clamped to +-20);
    - ``log_ppl_diff`` / ``log_ppl_abs_diff``: sequence mean of (mean_t behaviour_t - mean_t old_t) and of its
      absolute value, the log of the trainer's perplexity over the engine's (verl's names);
    - ``ratio_max`` / ``ratio_min``: extreme per-token ratios exp(r_t).

    Returns:
        The dict above (floats; all 0 when no token is valid).
    """
    r = log_ratio(old_log_prob, behaviour_log_prob, response_mask)
    mask = response_mask.to(r.device).float()
    valid = mask.bool()
    if not valid.any():
        return {k: 0.0 for k in ("logp_abs_diff_mean", "logp_abs_diff_max", "kl", "k3_kl", "log_ppl_diff",
                                 "log_ppl_abs_diff", "ratio_max", "ratio_min")}
    rc = torch.clamp(r, min=-LOG_RATIO_CLAMP, max=LOG_RATIO_CLAMP)
    seq_valid = mask.sum(-1) > 0
    seq_diff = -masked_mean(r, mask, axis=-1)[seq_valid]  # mean behaviour - mean old, per sequence
    return {
        "logp_abs_diff_mean": float(masked_mean(r.abs(), mask)),
        "logp_abs_diff_max": float(r.abs()[valid].max()),
        "kl": float(masked_mean(-r, mask)),
        "k3_kl": float(masked_mean(torch.exp(rc) - rc - 1, mask)),
        "log_ppl_diff": float(seq_diff.mean()),
        "log_ppl_abs_diff": float(seq_diff.abs().mean()),
        "ratio_max": math.exp(float(rc[valid].max())),
        "ratio_min": math.exp(float(rc[valid].min())),
    }


def weighted_log_prob(log_prob: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``log_prob`` (B, T) with the same values and its gradient scaled by the detached ``weights`` (B, T).

    ``log_prob.detach() + w * (log_prob - log_prob.detach())``: the forward value is exactly ``log_prob``, and
    d/d log_prob_t of any function of it is multiplied by w_t. Passed to a policy loss whose token loss
    L_t depends on ``log_prob`` through token t only, the gradient is that of sum_t c_t w_t L_t, i.e. of
    verl's ``pg_losses * rollout_is_weights`` aggregated the same way; the reported loss value is the
    unweighted one.
    """
    w = weights.detach().to(device=log_prob.device, dtype=log_prob.dtype)
    base = log_prob.detach()
    return base + w * (log_prob - base)
