"""The RL trainer's helpers that need none of its state: critic values, step metrics, the training scorer,
tracker hyper-parameters and the resume test's fault injection."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import torch

from rlvr_bench.algorithms import ResolvedAlgorithm, group_metrics, masked_mean
from rlvr_bench.config import RecipeConfig
from rlvr_bench.trainers.rl_batch import RolloutBatch

__all__ = ["batch_metrics", "flat_hparams", "make_train_scorer", "maybe_fault", "response_values"]


def response_values(critic: Any, t: dict[str, torch.Tensor], idx: torch.Tensor) -> torch.Tensor:
    """Critic values V(s_t) before each response token: (b, T)."""
    device = next(critic.parameters()).device
    p_ids, p_mask = t["prompt_ids"][idx].to(device), t["prompt_mask"][idx].to(device)
    r_ids, r_mask = t["response_ids"][idx].to(device), t["response_mask"][idx].to(device)
    attn = torch.cat([p_mask, r_mask], dim=1)
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    values = critic(torch.cat([p_ids, r_ids], dim=1), attention_mask=attn, position_ids=pos)
    length = r_ids.shape[1]
    return values[:, -length - 1:-1]


def batch_metrics(batch: RolloutBatch, t: dict[str, torch.Tensor]) -> dict[str, float]:
    mask = t["response_mask"].float()
    scores = t["scores"]
    adv = t["advantages"][mask.bool()]
    lengths = mask.sum(-1)
    out = {"reward/mean": float(scores.mean()), "reward/std": float(scores.std()) if len(scores) > 1 else 0.0,
           "reward/accuracy": float(sum(batch.correct) / len(batch.correct)),
           "adv/mean": float(adv.mean()) if adv.numel() else 0.0, "adv/std": float(adv.std()) if adv.numel() > 1 else 0.0,
           "adv/max": float(adv.max()) if adv.numel() else 0.0, "adv/min": float(adv.min()) if adv.numel() else 0.0,
           "response/length_mean": float(lengths.mean()), "response/length_max": float(lengths.max()),
           "response/truncated_frac": float(sum(batch.truncated) / len(batch.truncated))}
    out.update({f"groups/{k}": v for k, v in group_metrics(torch.tensor(batch.correct), t["group"]).items()})
    if "ref_log_probs" in t and "old_log_probs" in t:
        out["actor/kl_to_ref"] = float(masked_mean(t["old_log_probs"] - t["ref_log_probs"], mask))
    return out


def make_train_scorer(cfg: RecipeConfig, reward_fn: Callable | None):
    """``scorer(texts, answers, truncated) -> correctness``; a raising or NaN reward scores 0 (logged)."""
    from rlvr_bench.evaluation.scoring import make_scorer

    base = make_scorer(cfg.reward.name, timeout=cfg.reward.timeout, weights=cfg.reward.weights,
                       code_mode=cfg.reward.code_mode, custom=reward_fn)

    def scorer(texts: list[str], answers: list[str], truncated: list[bool]) -> list[float]:
        verdicts = base(texts, answers)
        return [0.0 if tr else float(v.score) for v, tr in zip(verdicts, truncated)]

    return scorer


def flat_hparams(algo: ResolvedAlgorithm, cfg: RecipeConfig) -> dict[str, Any]:
    flat = {f"algorithm/{k}": v for k, v in algo.as_dict().items() if isinstance(v, (int, float, str, bool))}
    flat.update({"trainer/lr": cfg.trainer.learning_rate, "trainer/steps": cfg.trainer.steps,
                 "rollout/n": cfg.rollout.n, "rollout/temperature": cfg.rollout.temperature, "seed": cfg.seed})
    return flat


def maybe_fault(step: int) -> None:
    """Fault injection for the resume test: SIGKILL this process after ``RLVR_BENCH_KILL_AFTER_STEP``."""
    target = os.environ.get("RLVR_BENCH_KILL_AFTER_STEP")
    if target is not None and int(target) == step:
        os.kill(os.getpid(), signal.SIGKILL)
