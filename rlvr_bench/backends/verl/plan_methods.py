"""Translation rules for the 2025-26 method settings: token selection by entropy, the adaptive entropy
coefficient, ProRL's reference resets, the registry knobs (``algorithm.knobs``) and the rollout correction
(``rollout.correction*``).

verl 0.9.1 has none of the first three as a setting; each one that is switched on is a problem (the
export then fails naming it). A knob maps to the ``verl_key`` its :class:`~rlvr_bench.algorithms.KnobSpec`
declares: under ``actor_rollout_ref.actor`` for a policy loss, under ``algorithm`` for an estimator. The
rollout correction maps to ``algorithm.rollout_correction`` (decoupled mode: verl recomputes the old
log-probs, as the local trainer does), its level to ``rollout_is`` (the mode's ``verl_rollout_is``) and its
bounds to ``rollout_is_threshold``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlvr_bench.backends.verl.plan_types import Row

if TYPE_CHECKING:
    from rlvr_bench.algorithms import ResolvedAlgorithm

__all__ = ["NO_FLOOR", "correction_rows", "method_rows"]

A = "actor_rollout_ref.actor"
ALG = "algorithm"
R = "actor_rollout_ref.rollout"
RC = "algorithm.rollout_correction"

NO_FLOOR = 1e-12
"""The lower bound written for a mask mode without ``rollout.correction_floor``: verl's masking (IcePop,
``"lower_upper"``) needs one, and every ratio verl forms is at least exp(-20) ~ 2e-9, so this one masks nothing
(the same weights as no lower bound)."""


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


def correction_rows(cfg: Any, algo: ResolvedAlgorithm, facts: Any, problems: list[str]) -> list[Row]:
    """Rows of ``rollout.correction``, ``correction_cap`` and ``correction_floor`` (verl 0.9.1's
    ``algorithm.rollout_correction``; parity-tested against its ``rollout_corr_helper``)."""
    from rlvr_bench.algorithms.rollout_correction import correction_spec

    r = cfg.rollout
    spec = correction_spec(r.correction)
    keys: dict[str, Any] = {f"{RC}.rollout_is": spec.verl_rollout_is, f"{RC}.rollout_rs": None,
                            f"{RC}.bypass_mode": False, f"{RC}.rollout_is_batch_normalize": False,
                            f"{R}.calculate_log_probs": True}
    cap_note = "the ratio's upper bound: rollout_is_threshold (a float: TIS; 'floor_cap': masking, IcePop)"
    if spec.level is None:
        return [Row("rollout.correction", r.correction, keys, "exact",
                    "no importance weight; verl logs the engine/trainer mismatch as rollout_corr/* (locally "
                    "rollout_correction/*)"),
                Row("rollout.correction_cap", r.correction_cap, {}, "unused", cap_note),
                Row("rollout.correction_floor", r.correction_floor, {}, "unused", "the ratio's lower bound")]
    floor = r.correction_floor
    if spec.constraint == "truncate":
        if floor is not None:
            problems.append(f"rollout.correction_floor={floor!r}: verl 0.9.1 truncates importance ratios from above "
                            "only (set correction_floor: null, or use a *_mask mode)")
        threshold: Any = float(r.correction_cap)
    else:
        threshold = f"{float(NO_FLOOR if floor is None else floor)!r}_{float(r.correction_cap)!r}"
    bounds = {f"{RC}.rollout_is_threshold": threshold}
    note = (f"{spec.description}; the weight multiplies each token's policy loss (pg_losses * rollout_is_weights), "
            "geo_mean: verl weights the sequence by the geometric mean of token-level weights")
    floor_note = ("lower bound of the mask (None: none; verl gets 1e-12, below every ratio it forms)"
                  if spec.constraint == "mask" else "verl's truncation has no lower bound")
    return [Row("rollout.correction", r.correction, {**keys, **bounds}, "exact", note),
            Row("rollout.correction_cap", r.correction_cap, bounds, "exact", cap_note),
            Row("rollout.correction_floor", floor, bounds if spec.constraint == "mask" else {},
                "exact" if spec.constraint == "mask" or floor is None else "unused", floor_note)]
