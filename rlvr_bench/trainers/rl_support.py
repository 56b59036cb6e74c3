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

__all__ = ["TrainScorer", "batch_metrics", "flat_hparams", "make_train_scorer", "maybe_fault", "response_values"]


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


class TrainScorer:
    """The RL trainer's scorer: the training reward and, apart from it, the verifier's correctness.

    ``score_rollouts(texts, answers, truncated, groups=, keys=) -> (scores, correct)``: ``scores`` is what the
    policy is trained on (the recipe's reward, e.g. a control such as ``random``), ``correct`` the 0/1
    verdict the metrics report (``reward/accuracy``): a registered reward's ``Verdict.correct``, which the
    controls (``rewards/controls.py``) take from the verifier, so it stays the truth whatever the training
    reward. ``groups`` (the prompt of each sample) and ``keys`` (a seed per sample) go to rewards that
    declare them (``register_reward(context=...)``), e.g. ``majority_vote`` and ``random``. A truncated
    response scores 0 and is not correct. A raising or NaN reward scores 0 (logged; ``make_scorer``'s rule).

    Calling it as ``scorer(texts, answers, truncated)`` gives the scores alone (the older interface).
    ``group_aware``: the reward compares samples within a group (then greedy ReMax baselines are scored
    with their prompt's samples).
    """

    def __init__(self, cfg: RecipeConfig, reward_fn: Callable | None) -> None:
        from rlvr_bench.evaluation.scoring import make_scorer

        self.name = getattr(reward_fn, "__name__", "custom") if reward_fn else (
            "+".join(cfg.reward.weights) if cfg.reward.weights else cfg.reward.name)
        self._custom = make_scorer(custom=reward_fn) if reward_fn is not None else None
        self._reward = None
        if reward_fn is None:
            from rlvr_bench import rewards as R

            base = R.compose_rewards(cfg.reward.weights) if cfg.reward.weights else R.get_reward(cfg.reward.name)
            self._reward = base.with_options(timeout=float(cfg.reward.timeout),
                                             partial_credit=cfg.reward.code_mode == "fraction")
        self.group_aware = self._reward is not None and "groups" in self._reward.context

    def verdicts(self, texts: list[str], answers: list[str], *, groups: list[Any] | None = None,
                 keys: list[int] | None = None) -> list[Any]:
        """The reward's verdicts (context passed when the reward declares it), made safe."""
        if self._custom is not None:
            return self._custom(texts, answers)
        from rlvr_bench.evaluation.scoring import safe_scorer

        reward = self._reward
        return safe_scorer(lambda t, a: reward.verdicts(t, a, groups=groups, keys=keys), self.name)(texts, answers)

    def score_rollouts(self, texts: list[str], answers: list[str], truncated: list[bool], *,
                       groups: list[Any] | None = None, keys: list[int] | None = None
                       ) -> tuple[list[float], list[float]]:
        """(training scores, verifier correctness 0/1), one each per text."""
        verdicts = self.verdicts(texts, answers, groups=groups, keys=keys)
        scores = [0.0 if tr else float(v.score) for v, tr in zip(verdicts, truncated)]
        correct = [0.0 if tr else float(bool(v.correct)) for v, tr in zip(verdicts, truncated)]
        return scores, correct

    def __call__(self, texts: list[str], answers: list[str], truncated: list[bool]) -> list[float]:
        return self.score_rollouts(texts, answers, truncated)[0]


def make_train_scorer(cfg: RecipeConfig, reward_fn: Callable | None) -> TrainScorer:
    """The training scorer of a recipe (``TrainScorer``): ``scorer(texts, answers, truncated) -> scores``,
    and ``scorer.score_rollouts(...) -> (scores, correct)`` with the group/seed context."""
    return TrainScorer(cfg, reward_fn)


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
