"""KnobSpec: one tunable argument of a registered policy loss or advantage estimator, with its bounds.

A knob is set in a recipe either by an ``algorithm.*`` field of the same name (the clip ratios) or in
``algorithm.knobs`` (every other knob, e.g. ``{tau_pos: 1.0}`` for sapo or ``{k: 4}`` for passk); recipe
validation checks the name against the chosen loss and estimator and the value against the bounds here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

__all__ = ["KnobSpec"]

_BOUNDS = {"gt": (lambda v, b: v > b, ">"), "ge": (lambda v, b: v >= b, ">="),
           "lt": (lambda v, b: v < b, "<"), "le": (lambda v, b: v <= b, "<=")}


@dataclass(frozen=True)
class KnobSpec:
    """One tunable argument of a policy loss or an advantage estimator.

    Attributes:
        default: value when neither the preset nor the recipe sets it (None may mean "off").
        help: one line for docs and error messages.
        gt, ge, lt, le: numeric bounds a non-None value must satisfy.
        verl_key: where verl 0.9.1 reads it: for a policy loss, the key under ``actor_rollout_ref.actor``
            (e.g. ``clip_ratio_c``, ``policy_loss.clip_cov_ratio``); for an estimator, under ``algorithm``.
            None when verl has no such setting.
        integer: the value must be a whole number (e.g. pass@k's k).
        at_most_group_size: the value must be <= ``rollout.n`` (checked with the whole recipe).
    """

    default: Any
    help: str
    gt: Optional[float] = None
    ge: Optional[float] = None
    lt: Optional[float] = None
    le: Optional[float] = None
    verl_key: Optional[str] = None
    integer: bool = False
    at_most_group_size: bool = False

    def problem(self, value: Any, group_size: Optional[int] = None) -> Optional[str]:
        """None when ``value`` is allowed, else why not (``"is out of range (must be > 1.0)"``)."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        if self.integer and float(value) != int(value):
            return "must be a whole number"
        for name, (ok, sign) in _BOUNDS.items():
            bound = getattr(self, name)
            if bound is not None and not ok(value, bound):
                return f"is out of range (must be {sign} {bound})"
        if self.at_most_group_size and group_size is not None and value > group_size:
            return f"is larger than the group size rollout.n = {group_size}"
        return None
