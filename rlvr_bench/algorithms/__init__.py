"""The pure math of the RL engine: advantage estimators, policy/critic losses, KL, presets.

torch only, no I/O, no trainer state. Numerics follow verl's ``verl/trainer/ppo/core_algos.py`` so a run
means the same on the local trainer and on the verl backend; each function's docstring names its verl
counterpart and the paper of its formula. Importing this package only defines and registers functions.

Every kind has one registry carrying its metadata: advantage estimators
(:func:`register_advantage_estimator`, :class:`AdvantageEstimatorSpec`), policy losses
(:func:`register_policy_loss`, :class:`KnobSpec`) and presets (:data:`PRESETS` of :class:`AlgorithmSpec`).

The 2025 advantage estimators live in :mod:`.advantages_2025` (grpo_passk, passk, pkpo: pass@k training;
opo; gpg) and the 2025 policy losses in :mod:`.policy_losses_2025` (gspo, sapo, geo_mean, cispo, clip_cov,
kl_cov, gpg); both modules register their entries when this package is imported.

Typical use in a trainer step::

    algo = resolve_algorithm("grpo", overrides, max_new_tokens=512, learning_rate=1e-6)
    token_rewards = scores_to_token_rewards(scores, response_mask)
    if algo.use_kl_in_reward:
        kl = kl_penalty(old_log_prob, ref_log_prob, algo.kl_penalty_type)
        token_rewards = apply_kl_in_reward(token_rewards, kl, response_mask, algo.kl_coef)
    adv, ret = compute_advantages(algo.adv_estimator, token_level_rewards=token_rewards,
                                  response_mask=response_mask, group_index=prompt_ids,
                                  norm_adv_by_std=algo.norm_adv_by_std)
    loss, metrics = policy_loss(algo.policy_loss, old_log_prob=old_log_prob, log_prob=log_prob,
                                advantages=adv, response_mask=response_mask,
                                loss_agg_mode=algo.loss_agg_mode, **algo.policy_loss_knobs())
"""

from . import (
    advantages_2025,  # noqa: F401  (registers grpo_passk, passk, pkpo, opo, gpg)
    policy_losses_2025,  # noqa: F401  (registers gspo, sapo, geo_mean, cispo, clip_cov, kl_cov, gpg)
    presets_2025,  # noqa: F401  (registers the boundary presets gspo ... prorl)
)
from .advantages import (
    ADVANTAGE_ESTIMATORS,
    AdvantageEstimatorFn,
    AdvantageEstimatorSpec,
    advantage_estimator_names,
    advantage_estimator_spec,
    compute_advantages,
    get_advantage_estimator,
    register_advantage_estimator,
    verl_adv_estimator_names,
)
from .aggregation import LOSS_AGG_MODES, agg_loss
from .functional import (
    clip_by_value,
    entropy_from_logits,
    masked_mean,
    masked_sum,
    masked_var,
    masked_whiten,
    scores_to_token_rewards,
)
from .groups import GroupIndex, GroupStats, as_group_index, filter_groups, group_metrics, group_stats
from .kl import KL_KINDS, apply_kl_in_reward, canonical_kl_kind, kl_loss, kl_penalty
from .policy_loss import (
    POLICY_LOSSES,
    KnobSpec,
    PolicyLossFn,
    PolicyLossSpec,
    get_policy_loss,
    policy_loss,
    policy_loss_names,
    policy_loss_spec,
    register_policy_loss,
    vanilla_policy_loss,
)
from .presets import (
    ALGORITHM_KEYS,
    BASE,
    PRESET_KEYS,
    PRESET_REFERENCES,
    PRESETS,
    AlgorithmSpec,
    preset,
    preset_names,
    presets_common_markdown,
    presets_table_markdown,
    register_preset,
)
from .resolve import ResolvedAlgorithm, algorithm_problems, registry_names, resolve_algorithm
from .value_loss import value_loss

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "ALGORITHM_KEYS",
    "BASE",
    "KL_KINDS",
    "LOSS_AGG_MODES",
    "POLICY_LOSSES",
    "PRESETS",
    "PRESET_KEYS",
    "PRESET_REFERENCES",
    "AdvantageEstimatorFn",
    "AdvantageEstimatorSpec",
    "AlgorithmSpec",
    "GroupIndex",
    "GroupStats",
    "KnobSpec",
    "PolicyLossFn",
    "PolicyLossSpec",
    "ResolvedAlgorithm",
    "advantage_estimator_names",
    "advantage_estimator_spec",
    "algorithm_problems",
    "agg_loss",
    "apply_kl_in_reward",
    "as_group_index",
    "canonical_kl_kind",
    "clip_by_value",
    "compute_advantages",
    "entropy_from_logits",
    "filter_groups",
    "get_advantage_estimator",
    "get_policy_loss",
    "group_metrics",
    "group_stats",
    "kl_loss",
    "kl_penalty",
    "masked_mean",
    "masked_sum",
    "masked_var",
    "masked_whiten",
    "policy_loss",
    "policy_loss_names",
    "policy_loss_spec",
    "preset",
    "preset_names",
    "register_preset",
    "presets_common_markdown",
    "presets_table_markdown",
    "register_advantage_estimator",
    "register_policy_loss",
    "registry_names",
    "resolve_algorithm",
    "scores_to_token_rewards",
    "value_loss",
    "vanilla_policy_loss",
    "verl_adv_estimator_names",
]
