"""The RL trainer's rollout correction: importance weights for the gap between the log-probs of whatever
generated a rollout (the "behaviour" policy: the rollout engine, or an older policy) and the trainer's, and
the per-step metrics of that gap (``rollout.correction``; the math is
:mod:`rlvr_bench.algorithms.rollout_correction`).

Per step, :class:`RolloutCorrection`:

1. ``begin(t)`` after ``RLTrainer.prepare``: reads ``t["behaviour_logprobs"]`` (B, T), the engine's log-probs
   of the sampled tokens (absent when the engine reports none: then nothing is measured, and a mode other
   than ``none`` is a one-line error);
2. ``weigh(t, idx, log_prob, old)`` in every micro-batch of the update: ``old`` is the PPO ratio's
   denominator, the trainer's recomputed log-probs (``t["old_log_probs"]`` when samples are reused or KL is
   in the reward, else the micro-batch's own log-probs before the step's only optimizer update: the same
   policy, no extra forward pass). It records ``old`` for the metrics and returns the log-probs for the
   policy loss: unchanged for ``none`` (bit for bit), else with each token's gradient scaled by its
   importance weight (:func:`~rlvr_bench.algorithms.rollout_correction.weighted_log_prob`, which gives verl's
   ``pg_losses * rollout_is_weights`` gradient);
3. ``metrics(t)`` after the update: ``rollout_correction/<name>`` for the whole batch (the mismatch in every
   mode; the weights' statistics when a mode is on).

The weights need only ``old`` and the behaviour log-probs, never the current policy, so they are the same in
every epoch and mini-batch of the step, as verl computes them once per batch.
"""

from __future__ import annotations

from typing import Any

import torch

from rlvr_bench.algorithms.rollout_correction import (
    correction_spec,
    correction_weights,
    mismatch_metrics,
    weighted_log_prob,
)
from rlvr_bench.errors import UserError

__all__ = ["PREFIX", "RolloutCorrection", "RolloutCorrectionError"]

PREFIX = "rollout_correction/"
"""Prefix of the metrics in ``metrics.jsonl``."""


class RolloutCorrectionError(UserError):
    """A correction was asked for, but the rollouts carry no behaviour log-probs."""


class RolloutCorrection:
    """Rollout correction of one RL run (see module docstring).

    Args:
        mode: ``rollout.correction`` (a name of ``rlvr_bench.algorithms.rollout_correction.CORRECTIONS``).
        cap: ``rollout.correction_cap``.
        floor: ``rollout.correction_floor`` (None: no lower bound).
        backend: ``rollout.backend``, named in the error when the engine reports no log-probs.
    """

    def __init__(self, mode: str = "none", cap: float = 2.0, floor: float | None = None, *,
                 backend: str = "hf") -> None:
        self.spec = correction_spec(mode)
        self.cap, self.floor, self.backend = float(cap), floor, backend
        self._old: torch.Tensor | None = None  # (B, T) the step's old log-probs, filled as micro-batches pass
        self._seen: torch.Tensor | None = None  # (B,) rows whose old log-probs are recorded

    @classmethod
    def from_config(cls, rollout: Any) -> RolloutCorrection:
        """From a recipe's ``rollout`` section."""
        return cls(rollout.correction, rollout.correction_cap, rollout.correction_floor, backend=rollout.backend)

    @property
    def active(self) -> bool:
        """Whether the policy loss is weighted (any mode but ``none``)."""
        return self.spec.level is not None

    def begin(self, t: dict[str, torch.Tensor]) -> None:
        """Start a step's update on the prepared tensors ``t``.

        Raises:
            RolloutCorrectionError: a mode other than ``none`` and no ``t["behaviour_logprobs"]``.
        """
        beh = t.get("behaviour_logprobs")
        self._old = self._seen = None
        if beh is None:
            if self.active:
                raise RolloutCorrectionError(
                    f"rollout.correction={self.spec.name} needs the engine's log-probs of the sampled tokens, and "
                    f"the '{self.backend}' rollout engine reported none: use rollout.correction=none")
            return
        self._old = torch.zeros(beh.shape, dtype=torch.float32)
        self._seen = torch.zeros(beh.shape[0], dtype=torch.bool)
        if "old_log_probs" in t:
            self._old.copy_(t["old_log_probs"].detach().float().cpu())
            self._seen[:] = True

    def weigh(self, t: dict[str, torch.Tensor], idx: torch.Tensor, log_prob: torch.Tensor,
              old: torch.Tensor) -> torch.Tensor:
        """The log-probs (b, T) the policy loss of micro-batch ``idx`` gets (see module docstring, step 2).

        Args:
            t: the step's tensors (``behaviour_logprobs`` and ``response_mask`` are read).
            idx: (b,) rows of the micro-batch.
            log_prob: (b, T) the current policy's log-probs (with gradient).
            old: (b, T) the PPO ratio's denominator for these rows.
        """
        if self._old is None:
            return log_prob
        new = ~self._seen[idx]
        if bool(new.any()):
            self._old[idx[new]] = old.detach().float().cpu()[new]
            self._seen[idx[new]] = True
        if not self.active:
            return log_prob
        beh = t["behaviour_logprobs"][idx].to(old.device)
        weights, _ = correction_weights(self.spec.name, old.detach(), beh, t["response_mask"][idx].to(old.device),
                                        cap=self.cap, floor=self.floor)
        return weighted_log_prob(log_prob, weights)

    def metrics(self, t: dict[str, torch.Tensor]) -> dict[str, float]:
        """``rollout_correction/*`` of the step's rows seen by :meth:`weigh` (every row after an update);
        {} when the rollouts carry no behaviour log-probs."""
        if self._old is None:
            return {}
        mask = t["response_mask"].float() * self._seen.unsqueeze(-1).float()
        beh = t["behaviour_logprobs"]
        out = mismatch_metrics(self._old, beh, mask)
        if self.active:
            out.update(correction_weights(self.spec.name, self._old, beh, mask, cap=self.cap, floor=self.floor)[1])
        return {PREFIX + k: v for k, v in out.items()}
