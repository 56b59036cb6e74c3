"""Translation rules for the 2025-26 method settings: token selection by entropy, the adaptive entropy
coefficient, ProRL's reference resets and the registry knobs (``algorithm.knobs``).

verl 0.9.1 has none of the first three as a setting; each one that is switched on is a problem (the
export then fails naming it). A knob maps to the ``verl_key`` its :class:`~rlvr_bench.algorithms.KnobSpec`
declares: under ``actor_rollout_ref.actor`` for a policy loss, under ``algorithm`` for an estimator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlvr_bench.backends.verl.plan_types import Row

if TYPE_CHECKING:
    from rlvr_bench.algorithms import ResolvedAlgorithm

__all__ = ["method_rows"]

A = "actor_rollout_ref.actor"
ALG = "algorithm"


def _switch_row(problems: list[str], name: str, value: Any, on: bool, what: str) -> Row:
    if on:
        problems.append(f"algorithm.{name}={value!r}: verl 0.9.1 has no {what}")
        return Row(f"algorithm.{name}", value, {}, "exact", f"no verl equivalent ({what})")
    return Row(f"algorithm.{name}", value, {}, "unused", "off")


def _knob_keys(algo: ResolvedAlgorithm, problems: list[str]) -> tuple[dict[str, Any], list[str]]:
    from rlvr_bench.algorithms import advantage_estimator_spec, policy_loss_spec

    loss, est = policy_loss_spec(algo.policy_loss), advantage_estimator_spec(algo.adv_estimator)
    loss_knobs, est_params = loss.knobs, est.params
    keys: dict[str, Any] = {}
    notes = []
    # the knobs of a loss or estimator verl lacks are not reported again (its own row names it)
    values = {**(algo.policy_loss_knobs() if loss.verl_name else {}), **(algo.estimator_params() if est.verl_name else {})}
    for name, value in values.items():
        if hasattr(algo, name) and name != "knobs":
            continue  # a knob with its own field (the clip ratios) has its own row
        spec, prefix = (loss_knobs[name], A) if name in loss_knobs else (est_params[name], ALG)
        if spec.verl_key is None:
            problems.append(f"algorithm.knobs.{name}={value!r}: verl 0.9.1 has no such setting")
            notes.append(f"{name}: no verl equivalent")
            continue
        keys[f"{prefix}.{spec.verl_key}"] = value
    return keys, notes


def method_rows(cfg: Any, algo: ResolvedAlgorithm, problems: list[str]) -> list[Row]:
    """Rows of ``algorithm.entropy_top_ratio``, ``entropy_target``, ``entropy_coeff_step``, ``entropy_coeff_max``,
    ``reference_reset_every`` and ``knobs``."""
    adaptive = algo.entropy_target is not None
    rows = [
        _switch_row(problems, "entropy_top_ratio", algo.entropy_top_ratio, algo.entropy_top_ratio is not None,
                    "token selection by entropy (arXiv 2506.01939)"),
        _switch_row(problems, "entropy_target", algo.entropy_target, adaptive, "adaptive entropy coefficient"),
        Row("algorithm.entropy_coeff_step", algo.entropy_coeff_step, {}, "exact" if adaptive else "unused",
            "adaptive entropy coefficient" if adaptive else "static entropy coefficient"),
        Row("algorithm.entropy_coeff_max", algo.entropy_coeff_max, {}, "exact" if adaptive else "unused",
            "adaptive entropy coefficient" if adaptive else "static entropy coefficient"),
        _switch_row(problems, "reference_reset_every", algo.reference_reset_every, algo.reference_reset_every > 0,
                    "reference resets (ProRL, arXiv 2505.24864)"),
    ]
    keys, notes = _knob_keys(algo, problems)
    status = "exact" if keys or notes else "unused"
    rows.append(Row("algorithm.knobs", dict(algo.knobs), keys, status,
                    "; ".join(notes) or "knobs of the policy loss and estimator (defaults filled)"))
    return rows
