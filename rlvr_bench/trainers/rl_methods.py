"""Three 2025 trainer-level methods of the RL engine (issue #19), each combinable with any preset and loss.

- **High-entropy minority** (``algorithm.entropy_top_ratio``; arXiv 2506.01939, "Beyond the 80/20 rule"):
  the policy gradient flows only through the top ``rho`` fraction of the step's response tokens by entropy.
  The entropy is the rollout policy's (the policy before this step's updates, at the rollout temperature),
  computed once per step in ``RLTrainer.prepare`` over the whole rollout batch (all processes), so the
  threshold is the batch's, as the paper's ``tau^B_rho``, and the selection is fixed for every mini-batch
  and epoch of the step. Off the selection the log-probs are detached (:func:`gradient_only_on`), so every
  loss keeps its value and its normaliser over *all* response tokens (the paper's ``1 / sum |o_i|``), for
  every ``loss_agg_mode``; the KL and entropy terms use every token.
- **Adaptive entropy coefficient** (``algorithm.entropy_target``; Skywork-OR1, arXiv 2505.22312):
  :class:`EntropyController`, the rule of Skywork-OR1's ``EntController``.
- **Reference resets** (``algorithm.reference_reset_every``; ProRL, arXiv 2505.24864):
  :class:`ReferenceResets`: every N steps the KL reference becomes the current policy and the policy
  optimizer's state is cleared.

Everything here is torch-only and needs none of the trainer's state; ``rlvr_bench.trainers.rl`` calls it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "EntropyController",
    "ReferenceResets",
    "Gather",
    "clear_optimizer_state",
    "gradient_only_on",
    "high_entropy_mask",
    "keep_count",
    "ragged_gather",
    "reset_reference",
]

Gather = Callable[[torch.Tensor], tuple[torch.Tensor, int]]
"""``gather(local) -> (values of every process in rank order, offset of this process's values)``."""


# ------------------------------------------------------------------------------------ high-entropy minority
def keep_count(n_tokens: int, ratio: float) -> int:
    """Tokens kept of ``n_tokens``: ceil(ratio * n), at least 1 when there is a token (as the paper's code).

    A float guard keeps ceil(0.7 * 10) at 7 (``0.7 * 10 == 7.000000000000001``).
    """
    if n_tokens <= 0:
        return 0
    return min(n_tokens, max(1, math.ceil(ratio * n_tokens - 1e-9)))


def high_entropy_mask(entropy: torch.Tensor, response_mask: torch.Tensor, ratio: float, *,
                      gather: Gather | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The top ``ratio`` fraction of the valid response tokens by entropy (arXiv 2506.01939).

    Exactly :func:`keep_count` (ceil(ratio * N)) of the N valid tokens of the batch are kept, N counted over
    every process when ``gather`` is given; ties are broken by position (a stable sort), so the selection is
    deterministic. Padding is never selected.

    Args:
        entropy: (B, T) token entropies (values at padding are ignored).
        response_mask: (B, T) 0/1.
        ratio: the kept fraction rho in (0, 1].
        gather: see :data:`Gather` (:func:`ragged_gather`); None = this process's batch is the batch.

    Returns:
        ``(mask, metrics)``: (B, T) bool, and ``entropy_top/kept_frac`` (k / N), ``entropy_top/threshold``
        (the smallest kept entropy, the paper's tau; 0 when there is no token).
    """
    valid = response_mask.bool()
    local = entropy.detach().float()[valid].cpu()  # row-major order
    values, offset = (local, 0) if gather is None else gather(local)
    k = keep_count(values.numel(), ratio)
    order = torch.sort(values, descending=True, stable=True).indices[:k]
    kept = torch.zeros(values.numel(), dtype=torch.bool)
    kept[order] = True
    mask = torch.zeros_like(valid, device="cpu")
    mask[valid.cpu()] = kept[offset:offset + local.numel()]
    threshold = float(values[order[-1]]) if k else 0.0
    return mask, {"entropy_top/kept_frac": k / max(values.numel(), 1), "entropy_top/threshold": threshold}


def ragged_gather(accelerator: Any) -> Gather:
    """A :data:`Gather` over the processes of ``accelerator`` (each may hold a different number of values)."""

    def gather(local: torch.Tensor) -> tuple[torch.Tensor, int]:
        device = accelerator.device
        counts = accelerator.gather(torch.tensor([local.numel()], device=device)).cpu()
        width = int(counts.max())
        padded = torch.full((width,), float("nan"), device=device)
        padded[:local.numel()] = local.to(device)
        rows = accelerator.gather(padded).cpu().view(len(counts), width)
        values = torch.cat([rows[r, :int(n)] for r, n in enumerate(counts)])
        return values, int(counts[:accelerator.process_index].sum())

    return gather


def gradient_only_on(log_prob: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``log_prob`` with the gradient stopped where ``keep`` is False (same values everywhere).

    Passed to a policy loss, the loss's value and normaliser (all response tokens, any ``loss_agg_mode``) are
    unchanged, and d loss / d log_prob is exactly 0 off ``keep``: the paper's objective
    ``1/sum|o_i| sum_{i,t} 1[H_t >= tau] * surrogate_t`` for token-level losses.
    """
    return torch.where(keep.to(log_prob.device), log_prob, log_prob.detach())


# ------------------------------------------------------------------------------------ adaptive entropy bonus
@dataclass
class EntropyController:
    """The entropy bonus coefficient; adaptive when ``target`` is set (Skywork-OR1, arXiv 2505.22312).

    Rule (Skywork-OR1's ``EntController``): step k's loss subtracts ``applied = coeff_k * 1[bonus on]``
    times the entropy term. After step k, with e_k the step's mean token entropy (all processes):
    ``coeff_{k+1} = max(0, coeff_k + step)`` if e_k < target else ``max(0, coeff_k - step)`` (then at most
    ``cap`` when set, Skywork's ``max_ent_coef``), and the bonus
    is on at step k+1 iff e_k < target (the paper's ``alpha_k = c_k * 1[e_k <= tgt]``: the bonus never
    pushes entropy up once it is above the target). Step 1 uses ``coeff_1 = entropy_coeff`` with the bonus
    on, as Skywork's code. Without a target: ``applied = coeff``, constant.

    Attributes:
        coeff: c_k (starts at ``algorithm.entropy_coeff``).
        target: ``algorithm.entropy_target`` (None: static coefficient).
        step: ``algorithm.entropy_coeff_step``.
        cap: ``algorithm.entropy_coeff_max`` (None: no upper bound).
        bonus_on: whether this step's loss has the bonus.
    """

    coeff: float
    target: float | None = None
    step: float = 0.005
    cap: float | None = None
    bonus_on: bool = True

    @property
    def applied(self) -> float:
        """The coefficient of this step's entropy term."""
        return self.coeff if self.bonus_on or self.target is None else 0.0

    def after_step(self, entropy: float) -> dict[str, float]:
        """Log the coefficient this step used, then move it by the step's mean token entropy ``entropy``."""
        metrics = {"actor/entropy_coeff": self.applied}
        if self.target is None:
            return metrics
        below = entropy < self.target
        self.coeff = max(0.0, self.coeff + (self.step if below else -self.step))
        if self.cap is not None:
            self.coeff = min(self.coeff, self.cap)
        self.bonus_on = below
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state (floats round-trip exactly through JSON)."""
        return {"coeff": self.coeff, "bonus_on": self.bonus_on}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore :meth:`state_dict` (None: keep the initial state, e.g. a checkpoint without one)."""
        if state is not None:
            self.coeff, self.bonus_on = float(state["coeff"]), bool(state["bonus_on"])


# ------------------------------------------------------------------------------------ ProRL reference resets
def _is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "merge_and_unload")


@torch.no_grad()
def reset_reference(reference: torch.nn.Module, policy: torch.nn.Module) -> None:
    """Copy the policy's weights into the frozen reference, in place (a LoRA policy is merged on a copy).

    Raises:
        RuntimeError: the two models' parameters do not match (``load_state_dict(strict=True)``).
    """
    state = copy.deepcopy(policy).merge_and_unload().state_dict() if _is_peft(policy) else policy.state_dict()
    reference.load_state_dict(state, strict=True)
    reference.requires_grad_(False)
    reference.eval()


def clear_optimizer_state(optimizer: Any) -> None:
    """Drop every per-parameter state (AdamW's moments and step counts); the next step starts them fresh.

    The param groups (learning rate, betas, weight decay) and hence the LR scheduler are untouched.
    Accepts an ``accelerate`` ``AcceleratedOptimizer`` or a torch optimizer.
    """
    getattr(optimizer, "optimizer", optimizer).state.clear()


@dataclass
class ReferenceResets:
    """ProRL's reference-policy resets (arXiv 2505.24864): every ``every`` steps, at the end of the step,
    the KL reference becomes the current policy and the policy optimizer's state is cleared (the LR
    schedule continues; the critic's optimizer, if any, is untouched). No reset at the run's last step (it
    would change nothing that is trained).

    Attributes:
        every: ``algorithm.reference_reset_every`` (0 = never).
        count: resets done.
        last_step: the step of the last reset (0 = none: the reference is the recipe's).
    """

    every: int = 0
    count: int = 0
    last_step: int = 0

    def due(self, step: int, final_step: int) -> bool:
        """Whether to reset at the end of ``step``."""
        return self.every > 0 and step % self.every == 0 and step < final_step

    def apply(self, step: int, reference: torch.nn.Module, policy: torch.nn.Module, optimizer: Any) -> None:
        """Reset now (end of ``step``)."""
        reset_reference(reference, policy)
        clear_optimizer_state(optimizer)
        self.count += 1
        self.last_step = step

    def after_step(self, step: int, final_step: int, reference: torch.nn.Module | None, policy: torch.nn.Module,
                   optimizer: Any) -> dict[str, float]:
        """Reset if :meth:`due`; returns ``prorl/resets`` and ``prorl/last_reset_step`` ({} when off)."""
        if not self.every:
            return {}
        if self.due(step, final_step):
            if reference is None:
                raise ValueError("reference_reset_every needs a reference model (a KL term)")
            self.apply(step, reference, policy, optimizer)
        return {"prorl/resets": float(self.count), "prorl/last_reset_step": float(self.last_step)}

    def state_dict(self) -> dict[str, int]:
        """JSON-able state."""
        return {"count": self.count, "last_step": self.last_step}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore :meth:`state_dict` (None: no reset yet)."""
        if state is not None:
            self.count, self.last_step = int(state["count"]), int(state["last_step"])
