"""Named algorithm presets as plain data: each RL method is a configuration, not a class.

A preset is an :class:`AlgorithmSpec` (frozen): every one is :data:`BASE` with the fields its paper
changes (``dataclasses.replace``), and :data:`PRESETS` is the only list of preset names. Values follow each paper and verl's recipe /
example scripts (verl defaults where a paper is silent); :data:`PRESET_REFERENCES` cites the source of
each and ``docs/algorithms.md`` explains every choice. Conventions:

- ``mini_batches``: optimiser steps per epoch over one rollout batch (verl's
  ``train_batch_size / ppo_mini_batch_size``); 1 with ``ppo_epochs`` 1 is strictly on-policy.
- a coefficient whose switch is off is 0.0 (``kl_loss_coef`` without ``use_kl_loss`` ...).
- ``kl_loss_type`` is the estimator of the KL *loss* (canonical names k1/k2/k3); the in-reward KL
  (``use_kl_in_reward``) always uses k1 from the rollout policy, verl's ``algorithm.kl_penalty`` default.
- ``clip_ratio_c`` is verl's dual-clip bound, on by default in verl (3.0); None would switch it off.
- ``needs_*`` are properties derived from the rest: critic iff the estimator needs values (gae),
  reference iff any KL switch is on (or the estimator needs one), greedy baseline iff the estimator
  reads it (remax); see :class:`~rlvr_bench.algorithms.advantages.AdvantageEstimatorSpec`.

Note: the shared setup of arXiv 2504.13837 trains every algorithm *without* KL; a study reproducing it
overrides ``use_kl_loss`` / ``use_kl_in_reward`` to False (and then needs no reference model).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from .advantages import advantage_estimator_spec
from .policy_loss import policy_loss_spec

__all__ = [
    "ALGORITHM_KEYS",
    "BASE",
    "PRESETS",
    "PRESET_KEYS",
    "PRESET_REFERENCES",
    "AlgorithmSpec",
    "preset",
    "preset_names",
    "register_preset",
    "presets_common_markdown",
    "presets_table_markdown",
]


@dataclass(frozen=True)
class AlgorithmSpec:
    """Every setting of an RL algorithm; a preset, or (after :func:`~.resolve.resolve_algorithm`) what runs.

    Fields left at None (``overlong_buffer_len``, ``critic_lr``, ``loss_scale_factor``) are filled at
    resolution from the recipe (max_new_tokens // 4, the learning rate, max_new_tokens for
    seq-mean-token-sum-norm). The ``needs_*`` properties are derived, never stored.
    """

    preset: str
    adv_estimator: str = "grpo"
    norm_adv_by_std: bool = True
    loss_agg_mode: str = "token-mean"
    clip_ratio_low: float = 0.2
    clip_ratio_high: float = 0.2
    clip_ratio_c: Optional[float] = 3.0
    use_kl_loss: bool = False
    kl_loss_coef: float = 0.0
    kl_loss_type: str = "k3"
    use_kl_in_reward: bool = False
    kl_coef: float = 0.0
    dynamic_sampling: bool = False
    overlong_penalty: bool = False
    ppo_epochs: int = 1
    mini_batches: int = 4
    gamma: float = 1.0
    lam: float = 1.0
    kl_penalty_type: str = "k1"
    max_resample_rounds: int = 3
    overlong_buffer_len: Optional[int] = None
    critic_lr: Optional[float] = None
    cliprange_value: float = 0.5
    entropy_coeff: float = 0.0
    loss_scale_factor: Optional[float] = None
    policy_loss: str = "vanilla"
    entropy_top_ratio: Optional[float] = None
    entropy_target: Optional[float] = None
    entropy_coeff_step: float = 0.005
    entropy_coeff_max: Optional[float] = None
    reference_reset_every: int = 0
    knobs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def needs_critic(self) -> bool:
        """A critic is trained iff the estimator reads values (gae)."""
        return advantage_estimator_spec(self.adv_estimator).needs_values

    @property
    def needs_reference(self) -> bool:
        """A reference model is needed iff a KL term is on (or the estimator itself needs one)."""
        return bool(self.use_kl_loss or self.use_kl_in_reward
                    or advantage_estimator_spec(self.adv_estimator).needs_reference)

    @property
    def needs_greedy_baseline(self) -> bool:
        """One greedy response per prompt is generated iff the estimator reads it (remax)."""
        return advantage_estimator_spec(self.adv_estimator).needs_greedy_baseline

    def _knob_value(self, name: str, default: Any) -> Any:
        if name in _FIELD_NAMES:
            return getattr(self, name)
        value = self.knobs.get(name)
        return default if value is None else value

    def policy_loss_knobs(self) -> dict[str, Any]:
        """The policy loss's knobs with this algorithm's values: the field of that name (the clip ratios),
        else ``knobs[name]``, else the knob's default."""
        spec = policy_loss_spec(self.policy_loss)
        return {name: self._knob_value(name, knob.default) for name, knob in spec.knobs.items()}

    def estimator_params(self) -> dict[str, Any]:
        """The advantage estimator's ``params`` (e.g. pass@k's ``k``): ``knobs[name]``, else the default."""
        spec = advantage_estimator_spec(self.adv_estimator)
        return {name: self._knob_value(name, knob.default) for name, knob in spec.params.items()}

    def as_dict(self) -> dict[str, Any]:
        """Every setting as a flat dict (:data:`ALGORITHM_KEYS` order, ``needs_*`` included; ``knobs`` a dict)."""
        out = {key: getattr(self, key) for key in ALGORITHM_KEYS}
        out["knobs"] = dict(self.knobs)
        return out


PRESET_KEYS: tuple[str, ...] = (
    "adv_estimator", "norm_adv_by_std", "loss_agg_mode", "clip_ratio_low", "clip_ratio_high",
    "clip_ratio_c", "use_kl_loss", "kl_loss_coef", "kl_loss_type", "use_kl_in_reward", "kl_coef",
    "dynamic_sampling", "overlong_penalty", "ppo_epochs", "mini_batches", "gamma", "lam",
    "needs_critic", "needs_reference", "needs_greedy_baseline",
)
"""The settings shown in the presets table of ``docs/algorithms.md``, in display order."""

ALGORITHM_KEYS: tuple[str, ...] = PRESET_KEYS + (
    "kl_penalty_type", "max_resample_rounds", "overlong_buffer_len", "critic_lr", "cliprange_value",
    "entropy_coeff", "loss_scale_factor", "policy_loss", "entropy_top_ratio", "entropy_target",
    "entropy_coeff_step", "entropy_coeff_max", "reference_reset_every", "knobs", "preset",
)
"""The keys of :meth:`AlgorithmSpec.as_dict` (``algorithm.json``, ``rlvr_state.json``), in order."""

_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(AlgorithmSpec)) - {"knobs", "preset"}

BASE = AlgorithmSpec(preset="base")
"""The shared settings (verl defaults): GRPO advantages, token-mean, clip 0.2/0.2, dual-clip 3, no KL,
one epoch of 4 mini-batches, gamma = lam = 1. Every preset is ``dataclasses.replace(BASE, ...)``."""


def _registry(*specs: AlgorithmSpec) -> dict[str, AlgorithmSpec]:
    return {spec.preset: spec for spec in specs}


PRESETS: dict[str, AlgorithmSpec] = _registry(
    # GRPO, DeepSeekMath arXiv 2402.03300: per-sequence token mean, k3 KL loss. The paper's beta is 0.04;
    # 0.001 is verl's GRPO example/default. Mini-batches: verl example (1024 prompts / 256).
    dataclasses.replace(BASE, preset="grpo", loss_agg_mode="seq-mean-token-mean", use_kl_loss=True,
                        kl_loss_coef=0.001),
    # Dr. GRPO, arXiv 2503.20783: no std normalisation, token sum / constant, no KL; otherwise GRPO's
    # settings (verl docs/algo/grpo.md "DrGRPO").
    dataclasses.replace(BASE, preset="dr_grpo", norm_adv_by_std=False, loss_agg_mode="seq-mean-token-sum-norm"),
    # DAPO, arXiv 2503.14476: clip-higher 0.28, token-mean, no KL, dynamic sampling, overlong shaping;
    # 16 gradient updates per rollout step (paper); dual-clip c = 10 (verl DAPO recipe scripts).
    dataclasses.replace(BASE, preset="dapo", clip_ratio_high=0.28, clip_ratio_c=10.0, dynamic_sampling=True,
                        overlong_penalty=True, mini_batches=16),
    # RLOO, arXiv 2402.14740: leave-one-out baseline, KL in the reward (k1, 0.001: verl rloo example).
    dataclasses.replace(BASE, preset="rloo", adv_estimator="rloo", use_kl_in_reward=True, kl_coef=0.001),
    # REINFORCE++, arXiv 2501.03262: per-token KL in the reward, batch-whitened returns;
    # one update per batch and kl_coef 0.001 (verl reinforce_plus_plus example).
    dataclasses.replace(BASE, preset="reinforce_pp", adv_estimator="reinforce_pp", use_kl_in_reward=True,
                        kl_coef=0.001, mini_batches=1),
    # REINFORCE++-baseline, arXiv 2501.03262: group-mean baseline then batch whitening; same settings
    # as REINFORCE++ (verl reinforce_plus_plus_baseline example).
    dataclasses.replace(BASE, preset="reinforce_pp_baseline", adv_estimator="reinforce_pp_baseline",
                        use_kl_in_reward=True, kl_coef=0.001, mini_batches=1),
    # ReMax, arXiv 2310.10505: greedy-rollout baseline, KL in the reward (k1, 0.001) and 512/128
    # mini-batching (verl remax example).
    dataclasses.replace(BASE, preset="remax", adv_estimator="remax", use_kl_in_reward=True, kl_coef=0.001),
    # PPO, arXiv 1707.06347 with GAE (arXiv 1506.02438): gamma = lam = 1 (arXiv 2504.13837 and verl
    # defaults), critic, no KL (verl ppo example); several epochs per batch as in the PPO paper
    # (K = 3..15) and TRL's default of 4.
    dataclasses.replace(BASE, preset="ppo", adv_estimator="gae", ppo_epochs=4),
)
"""Preset name -> :class:`AlgorithmSpec`: the only list of presets. Add one here (and its reference)."""

PRESET_REFERENCES: dict[str, str] = {
    "grpo": "arXiv 2402.03300 (DeepSeekMath, GRPO)",
    "dr_grpo": "arXiv 2503.20783 (Understanding R1-Zero-Like Training, Dr. GRPO)",
    "dapo": "arXiv 2503.14476 (DAPO)",
    "rloo": "arXiv 2402.14740 (Back to Basics: RLOO)",
    "reinforce_pp": "arXiv 2501.03262 (REINFORCE++)",
    "reinforce_pp_baseline": "arXiv 2501.03262 (REINFORCE++, group-baseline variant)",
    "remax": "arXiv 2310.10505 (ReMax)",
    "ppo": "arXiv 1707.06347 (PPO) with GAE, arXiv 1506.02438",
}
"""Preset name -> the paper it implements."""


def register_preset(spec: AlgorithmSpec, *, reference: str = "", replace: bool = False) -> AlgorithmSpec:
    """Add a preset (``dataclasses.replace(BASE, preset="name", ...)``) to :data:`PRESETS`; recipes, the RL
    trainer, the verl exporter and the report see it at once.

    Raises:
        ValueError: the name is taken (pass ``replace=True``), or its estimator / policy loss is not registered.
    """
    from .advantages import advantage_estimator_spec
    from .policy_loss import policy_loss_spec

    if spec.preset in PRESETS and not replace:
        raise ValueError(f"preset {spec.preset!r} is already registered (pass replace=True to replace it)")
    advantage_estimator_spec(spec.adv_estimator)  # fails on an unknown name
    policy_loss_spec(spec.policy_loss)
    PRESETS[spec.preset] = spec
    if reference:
        PRESET_REFERENCES[spec.preset] = reference
    return spec


def preset_names() -> list[str]:
    """Names of the presets, in definition order (grpo, dr_grpo, dapo, rloo, reinforce_pp, ...)."""
    return list(PRESETS)


def preset(name: str) -> AlgorithmSpec:
    """Preset ``name`` (frozen; derive a variant with ``dataclasses.replace``).

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid: {', '.join(preset_names())}")
    return PRESETS[name]


def _cell(value: Any) -> str:
    if value is None:
        return "off"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


_TABLE_EXTRA_KEYS = ("policy_loss", "entropy_top_ratio", "entropy_target", "entropy_coeff_step", "entropy_coeff_max",
                     "reference_reset_every", "knobs")


def presets_table_markdown(differing_only: bool = True, names: Optional[list[str]] = None) -> str:
    """Markdown table of preset settings: one row per setting, one column per preset.

    Args:
        differing_only: keep only the settings whose value is not the same in every preset shown.
        names: the presets to show (default: all, in definition order).

    Returns:
        The table as a string ending with a newline (the exact text kept in ``docs/algorithms.md``).
    """
    names = names or preset_names()
    rows = {n: PRESETS[n].as_dict() for n in names}
    keys = [k for k in PRESET_KEYS + _TABLE_EXTRA_KEYS
            if not differing_only or len({repr(rows[n][k]) for n in names}) > 1]
    lines = ["| setting | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key in keys:
        lines.append(f"| `{key}` | " + " | ".join(_cell(rows[n][key]) for n in names) + " |")
    return "\n".join(lines) + "\n"


def presets_common_markdown(names: Optional[list[str]] = None) -> str:
    """One markdown line listing the settings that are identical in every preset shown, with their value."""
    names = names or preset_names()
    rows = {n: PRESETS[n].as_dict() for n in names}
    common = [k for k in PRESET_KEYS + _TABLE_EXTRA_KEYS if len({repr(rows[n][k]) for n in names}) == 1]
    items = ", ".join(f"`{k}` = {_cell(rows[names[0]][k])}" for k in common)
    return f"Identical in every preset: {items}.\n"
