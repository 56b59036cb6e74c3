"""Presets of the 2025-26 methods that claim to keep or widen the reasoning boundary (issue #19).

Each is :data:`~rlvr_bench.algorithms.presets.BASE` (or a classic preset) with the fields its paper
changes, registered with :func:`~rlvr_bench.algorithms.presets.register_preset` on import, so recipes, the
trainer, the verl exporter and the report see them like the classic ones. Values follow each paper and,
where verl 0.9.1 has a recipe for the method, verl's example scripts; ``docs/algorithms.md`` explains each.

Note: with one on-policy update per rollout batch (``mini_batches`` 1, ``ppo_epochs`` 1) the importance
ratio is exactly 1, and the ratio-based losses (gspo, cispo, geo_mean, sapo, kl_cov's penalty) reduce to a
plain policy gradient; they act only when a batch is reused (BASE's 4 mini-batches, kept here).
"""

from __future__ import annotations

import dataclasses

from . import advantages_2025, policy_losses_2025  # noqa: F401  (the entries these presets name)
from .presets import BASE, PRESETS, AlgorithmSpec, register_preset

__all__ = ["PRESETS_2025"]

_DAPO = PRESETS["dapo"]


def _add(spec: AlgorithmSpec, reference: str) -> AlgorithmSpec:
    return register_preset(spec, reference=reference, replace=spec.preset in PRESETS)


PRESETS_2025: tuple[AlgorithmSpec, ...] = (
    # GSPO, arXiv 2507.18071: sequence-level ratio; verl's GSPO recipe clips at 3e-4 / 4e-4 with
    # seq-mean-token-mean aggregation.
    _add(dataclasses.replace(BASE, preset="gspo", policy_loss="gspo", clip_ratio_low=3e-4, clip_ratio_high=4e-4,
                             loss_agg_mode="seq-mean-token-mean"), "arXiv 2507.18071 (GSPO)"),
    # CISPO, arXiv 2506.13585: clipped stop-gradient IS weight on every token, token-mean over the group;
    # the paper sets no effective lower bound (eps_low large) and does not publish eps_high: verl's 0.2.
    _add(dataclasses.replace(BASE, preset="cispo", policy_loss="cispo", clip_ratio_low=0.99),
         "arXiv 2506.13585 (MiniMax-M1, CISPO)"),
    # GMPO, arXiv 2507.20673: geometric-mean ratio, clip range (-0.4, 0.4) on the log ratio (paper / recipe).
    _add(dataclasses.replace(BASE, preset="geo_mean", policy_loss="geo_mean", clip_ratio_low=0.4,
                             clip_ratio_high=0.4), "arXiv 2507.20673 (GMPO)"),
    # Clip-Cov, arXiv 2505.22617: the paper's r = 2e-4, bounds (1, 5), on a DAPO-style clip 0.2 / 0.2.
    _add(dataclasses.replace(BASE, preset="clip_cov", policy_loss="clip_cov",
                             knobs={"clip_cov_ratio": 2e-4, "clip_cov_lb": 1.0, "clip_cov_ub": 5.0}),
         "arXiv 2505.22617 (The Entropy Mechanism of RL for Reasoning LMs, Clip-Cov)"),
    # KL-Cov, arXiv 2505.22617: k = 2e-3 (the paper's 7B value) and beta = 1 (paper).
    _add(dataclasses.replace(BASE, preset="kl_cov", policy_loss="kl_cov",
                             knobs={"kl_cov_ratio": 2e-3, "ppo_kl_coef": 1.0}),
         "arXiv 2505.22617 (The Entropy Mechanism of RL for Reasoning LMs, KL-Cov)"),
    # SAPO (verl's soft-adaptive policy optimisation): soft gate, tau_pos 1.0, tau_neg 1.05 (verl defaults).
    _add(dataclasses.replace(BASE, preset="sapo", policy_loss="sapo", knobs={"tau_pos": 1.0, "tau_neg": 1.05}),
         "verl 0.9.1's SAPO policy loss (soft-gated ratio, arXiv 2511.20347)"),
    # Beyond the 80/20 rule, arXiv 2506.01939: DAPO with the gradient on the top 20% entropy tokens only.
    _add(dataclasses.replace(_DAPO, preset="top_entropy", entropy_top_ratio=0.2),
         "arXiv 2506.01939 (Beyond the 80/20 Rule: high-entropy minority tokens)"),
    # Adaptive entropy control, Skywork-OR1 arXiv 2505.22312: target entropy 0.2, step 1e-4 from 0, at most
    # 0.005 (the official training scripts' values).
    _add(dataclasses.replace(BASE, preset="adaptive_entropy", entropy_target=0.2, entropy_coeff_step=1e-4,
                             entropy_coeff_max=0.005),
         "arXiv 2505.22312 (Skywork-OR1, adaptive entropy control)"),
    # verl's grpo_passk, arXiv 2503.19595: only the best response of a group gets r_max - r_second.
    _add(dataclasses.replace(BASE, preset="grpo_passk", adv_estimator="grpo_passk"),
         "arXiv 2503.19595 (verl's grpo_passk)"),
    # Pass@k Training, arXiv 2508.10751: analytical pass@k advantages (k from the estimator's default).
    _add(dataclasses.replace(BASE, preset="passk", adv_estimator="passk"), "arXiv 2508.10751 (Pass@k Training)"),
    # PKPO, arXiv 2505.15201: unbiased pass@k reward transformation.
    _add(dataclasses.replace(BASE, preset="pkpo", adv_estimator="pkpo"),
         "arXiv 2505.15201 (Pass@k Policy Optimization)"),
    # OPO, arXiv 2505.23585: length-weighted optimal baseline, strictly on-policy (one update per batch).
    _add(dataclasses.replace(BASE, preset="opo", adv_estimator="opo", mini_batches=1),
         "arXiv 2505.23585 (On-Policy RL with Optimal reward baseline, OPO)"),
    # GPG, arXiv 2504.02546: group-mean advantage rescaled by bsz / #nonzero, plain -A log pi loss; with no
    # importance ratio a reused batch would be off-policy without correction, so one update per batch.
    _add(dataclasses.replace(BASE, preset="gpg", adv_estimator="gpg", policy_loss="gpg", mini_batches=1),
         "arXiv 2504.02546 (GPG: Group Policy Gradient)"),
    # ProRL, arXiv 2505.24864: DAPO's decoupled clip (0.2 / 0.4) and dynamic sampling, k3 KL loss 1e-4 to a
    # reference reset (with the optimizer) every 200 steps; recipes scale the period to their budget.
    _add(dataclasses.replace(_DAPO, preset="prorl", clip_ratio_high=0.4, use_kl_loss=True, kl_loss_coef=1e-4,
                             overlong_penalty=False, reference_reset_every=200),
         "arXiv 2505.24864 (ProRL: prolonged RL with reference resets)"),
)
"""The presets of this module, in registration order (after the classic presets of ``PRESETS``)."""
