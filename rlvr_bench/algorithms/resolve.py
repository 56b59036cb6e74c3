"""What actually runs: a preset plus the recipe's overrides, with every recipe-dependent default filled.

:func:`resolve_algorithm` is the one place that turns ``algorithm.preset`` + ``algorithm.*`` overrides into
a :class:`ResolvedAlgorithm`, read by the local trainer and the verl exporter alike; its
:meth:`~rlvr_bench.algorithms.presets.AlgorithmSpec.as_dict` is what ``algorithm.json`` records.
:func:`algorithm_problems` checks a recipe's names and knob values against the registries (recipe
validation calls it lazily, so loading ``rlvr_bench.config`` stays torch-free).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Optional

from .advantages import ADVANTAGE_ESTIMATORS
from .policy_loss import POLICY_LOSSES
from .presets import PRESETS, AlgorithmSpec, preset

__all__ = ["ResolvedAlgorithm", "algorithm_problems", "registry_names", "resolve_algorithm"]

_FIELDS = frozenset(f.name for f in dataclasses.fields(AlgorithmSpec)) - {"knobs", "preset"}
_REGISTRIES = {"presets": PRESETS, "advantage_estimators": ADVANTAGE_ESTIMATORS, "policy_losses": POLICY_LOSSES}


@dataclass(frozen=True)
class ResolvedAlgorithm(AlgorithmSpec):
    """An :class:`AlgorithmSpec` after resolution: ``overlong_buffer_len`` and ``critic_lr`` are set, and
    ``loss_scale_factor`` is set for seq-mean-token-sum-norm (None otherwise, unless overridden)."""


def resolve_algorithm(preset_name: str, overrides: Mapping[str, Any], *, max_new_tokens: int,
                      learning_rate: float) -> ResolvedAlgorithm:
    """The preset's values, overridden by every non-None entry of ``overrides`` (what actually runs).

    Args:
        preset_name: a name of :data:`~rlvr_bench.algorithms.presets.PRESETS`.
        overrides: field name -> value (the recipe's ``algorithm`` section; None = keep the preset's,
            a ``preset`` key is ignored).
        max_new_tokens: the longest response; sets ``overlong_buffer_len`` (max(1, max_new_tokens // 4))
            and, for seq-mean-token-sum-norm (Dr. GRPO, arXiv 2503.20783), ``loss_scale_factor``.
        learning_rate: the policy's learning rate, the default ``critic_lr``.

    Raises:
        ValueError: unknown preset or override key.
    """
    base = preset(preset_name)
    fields = {f.name for f in dataclasses.fields(AlgorithmSpec)}
    changes = {k: v for k, v in overrides.items() if k != "preset" and v is not None}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise ValueError(f"unknown algorithm setting(s) {', '.join(unknown)}")
    # knobs merge: the recipe's entries over the preset's (a recipe sets one knob without repeating the rest)
    changes["knobs"] = MappingProxyType({**base.knobs, **{k: v for k, v in (changes.get("knobs") or {}).items()
                                                         if v is not None}})
    algo = dataclasses.replace(base, **changes)
    filled: dict[str, Any] = {}
    if algo.overlong_buffer_len is None:
        filled["overlong_buffer_len"] = max(1, max_new_tokens // 4)
    if algo.critic_lr is None:
        filled["critic_lr"] = learning_rate
    if algo.loss_scale_factor is None and algo.loss_agg_mode == "seq-mean-token-sum-norm":
        filled["loss_scale_factor"] = float(max_new_tokens)
    values = {f.name: getattr(algo, f.name) for f in dataclasses.fields(AlgorithmSpec)}
    return ResolvedAlgorithm(**{**values, **filled})


def registry_names(kind: str) -> list[str]:
    """Names in registry ``kind`` ("presets" in definition order, "advantage_estimators",
    "policy_losses" sorted): the allowed values of the matching recipe fields."""
    names = list(_REGISTRIES[kind])
    return names if kind == "presets" else sorted(names)


def algorithm_problems(preset_name: str, overrides: Mapping[str, Any],
                       group_size: Optional[int] = None) -> list[tuple[str, Any, str]]:
    """Knob values of a recipe that the chosen policy loss's and estimator's :class:`KnobSpec` reject.

    The loss and estimator are ``overrides["policy_loss"]`` / ``["adv_estimator"]`` or the preset's. A
    recipe field named like a knob of some registered loss but not of this one, set to a value, is a
    problem; so is a key of ``overrides["knobs"]`` that neither the loss nor the estimator declares, or one
    that has its own ``algorithm.*`` field; so is ``reference_reset_every`` > 0 without a KL term
    (``use_kl_loss`` or ``use_kl_in_reward``, the override's or the preset's).

    Args:
        group_size: ``rollout.n``, for knobs that must not exceed it (pass@k's k); None skips that check.

    Returns:
        ``(field, value, what is wrong)`` for each problem (``"is out of range (must be > 1.0)"``); ``field``
        is ``knobs.NAME`` for an entry of ``algorithm.knobs``.
    """
    base = preset(preset_name)
    loss_name: str = overrides.get("policy_loss") or base.policy_loss
    est_name: str = overrides.get("adv_estimator") or base.adv_estimator
    spec = POLICY_LOSSES[loss_name]
    params = ADVANTAGE_ESTIMATORS[est_name].params
    knob_fields = {name for s in POLICY_LOSSES.values() for name in s.knobs} & _FIELDS
    problems: list[tuple[str, Any, str]] = []
    for key, value in overrides.items():
        if value is None or key not in knob_fields:
            continue
        knob = spec.knobs.get(key)
        if knob is None:
            problems.append((key, value, f"is not a knob of policy loss {loss_name!r} "
                                         f"(its knobs: {', '.join(spec.knobs) or 'none'})"))
        elif knob.problem(value, group_size) is not None:
            problems.append((key, value, knob.problem(value, group_size)))
    declared = {**{k: v for k, v in spec.knobs.items() if k not in _FIELDS}, **params}
    for key, value in {**base.knobs, **(overrides.get("knobs") or {})}.items():
        if key in _FIELDS:
            problems.append((f"knobs.{key}", value, f"has its own field: set algorithm.{key} instead"))
        elif key not in declared:
            problems.append((f"knobs.{key}", value, f"is not a knob of policy loss {loss_name!r} or advantage "
                                                    f"estimator {est_name!r} (theirs: {', '.join(declared) or 'none'})"))
        elif declared[key].problem(value, group_size) is not None:
            problems.append((f"knobs.{key}", value, declared[key].problem(value, group_size)))
    reset_every = overrides.get("reference_reset_every") or base.reference_reset_every
    kl_on = any(getattr(base, k) if overrides.get(k) is None else overrides[k]
                for k in ("use_kl_loss", "use_kl_in_reward"))
    if reset_every and not kl_on:
        problems.append(("reference_reset_every", reset_every, "resets the KL reference, but no KL term is on: "
                         "set algorithm.use_kl_loss or algorithm.use_kl_in_reward (ProRL, arXiv 2505.24864)"))
    return problems
