"""verl 0.9.1's 2025 policy losses vs rlvr_bench's: run with the verl environment's Python, CPU only.

    PYTHONPATH=/work/main .venv-verl/bin/python tests/algorithms/verl_losses_2025_check.py [SEED...]

For each loss of :mod:`rlvr_bench.algorithms.policy_losses_2025` (gspo, sapo, geo_mean, cispo, clip_cov,
kl_cov), each knob setting, each aggregation mode and each seed, computes the loss and its gradient with
respect to ``log_prob`` twice: with verl's function (``core_algos.get_policy_loss_fn(name)``, configured by
an ``FSDPActorConfig`` built from an OmegaConf tree with ``omega_conf_to_dataclass``, the knobs set at their
``KnobSpec.verl_key``; ``global_batch_info`` filled as verl's actor fills it) and with ours
(``policy_loss(name, ...)``, same arguments). ``torch.manual_seed`` is set to the same value before both
calls: clip_cov draws its token choice with ``torch.randperm`` on the global CPU generator.

Prints one JSON object on the last line of stdout: ``{"cases": [...]}``, each case with the loss name,
knobs, mode, seed, both losses, ``loss_diff``, ``grad_diff`` (max abs), ``metric_diffs`` (per common
key; ``actor/`` stripped from verl's), the two metric key sets and, for clip_cov, ``rng_sensitive``
(whether ours changes under another seed, i.e. the randomness was actually exercised).
``tests/algorithms/test_alg_losses_2025_verl.py`` runs it and asserts. This file imports verl and is never
collected by pytest (its name does not start with ``test_``).
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import torch

warnings.filterwarnings("ignore")

MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum")
"""Aggregation modes checked ("seq-mean-token-sum-norm" is left to the agg_loss parity check)."""

SETTINGS: dict[str, list[dict[str, Any]]] = {
    "gspo": [{}, {"clip_ratio_low": 0.0003, "clip_ratio_high": 0.0004}, {"clip_ratio_low": 0.02,
                                                                          "clip_ratio_high": 0.05}],
    "sapo": [{}, {"tau_pos": 2.0, "tau_neg": 3.0}],
    "geo_mean": [{}, {"clip_ratio_low": 0.4, "clip_ratio_high": 0.4}, {"clip_ratio_low": 0.05,
                                                                       "clip_ratio_high": 0.1}],
    "cispo": [{}, {"clip_ratio_low": 0.5, "clip_ratio_high": 0.28}],
    "clip_cov": [{}, {"clip_cov_ratio": 0.05, "clip_cov_lb": 0.2, "clip_cov_ub": 3.0},
                 {"clip_ratio_low": 0.1, "clip_ratio_high": 0.3, "clip_cov_ratio": 0.5, "clip_cov_lb": -1.0,
                  "clip_cov_ub": 10.0}],
    "kl_cov": [{}, {"kl_cov_ratio": 0.1, "ppo_kl_coef": 1.0}, {"kl_cov_ratio": 1.0, "ppo_kl_coef": 0.5}],
}
GLOBAL_BATCH_SIZE = 32  # as verl's actor: ppo_mini_batch_size x n (here more than the micro-batch's rows)


def inputs(seed: int, bs: int = 24, length: int = 12) -> dict[str, torch.Tensor]:
    """Random right-padded batch: lengths 1..T, one fully masked row, GRPO-like sequence advantages
    (a few exactly 0), some token-level noise on half the rows, log-ratio changes of std 0.4."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, length + 1, (bs,), generator=g)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).float()
    mask[3] = 0.0
    adv = torch.randn(bs, 1, generator=g).expand(bs, length).clone()
    adv[:4] = 0.0
    adv[bs // 2:] += 0.3 * torch.randn(bs - bs // 2, length, generator=g)
    adv = adv * mask
    old = -torch.rand(bs, length, generator=g) * 3
    new = old + 0.4 * torch.randn(bs, length, generator=g)
    return {"mask": mask, "adv": adv, "old": old, "new": new}


def actor_config(name: str, knobs: dict[str, Any], mode: str) -> Any:
    """verl's actor config (``FSDPActorConfig``) with ``loss_mode`` = name and the knobs at their verl keys."""
    from omegaconf import OmegaConf
    from verl.utils.config import omega_conf_to_dataclass

    from rlvr_bench.algorithms import policy_loss_spec

    spec = policy_loss_spec(name)
    tree: dict[str, Any] = {
        "_target_": "verl.workers.config.FSDPActorConfig", "strategy": "fsdp", "rollout_n": 1,
        "ppo_micro_batch_size_per_gpu": 1, "loss_agg_mode": mode,
        "policy_loss": {"_target_": "verl.workers.config.PolicyLossConfig", "loss_mode": spec.verl_name},
    }
    for key, value in knobs.items():
        node = tree
        *parents, leaf = spec.knobs[key].verl_key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return omega_conf_to_dataclass(OmegaConf.create(tree))


def one_case(name: str, knobs: dict[str, Any], mode: str, seed: int) -> dict[str, Any]:
    from verl.trainer.ppo import core_algos

    from rlvr_bench.algorithms import policy_loss

    x = inputs(seed)
    mask = x["mask"]
    actor = actor_config(name, knobs, mode)
    info = {"dp_size": 1, "batch_num_tokens": mask.sum(), "global_batch_size": GLOBAL_BATCH_SIZE}
    actor.global_batch_info.update(info, loss_scale_factor=actor.loss_scale_factor)
    rng_seed = 1000 + seed

    def ours(s: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        lp = x["new"].clone().requires_grad_(True)
        torch.manual_seed(s)
        loss, metrics = policy_loss(name, old_log_prob=x["old"], log_prob=lp, advantages=x["adv"],
                                    response_mask=mask, loss_agg_mode=mode,
                                    loss_scale_factor=actor.loss_scale_factor,
                                    batch_num_tokens=info["batch_num_tokens"],
                                    global_batch_size=GLOBAL_BATCH_SIZE, dp_size=1, **knobs)
        loss.backward()
        return loss.detach(), lp.grad, metrics

    ours_loss, ours_grad, ours_metrics = ours(rng_seed)
    verl_lp = x["new"].clone().requires_grad_(True)
    torch.manual_seed(rng_seed)
    fn = core_algos.get_policy_loss_fn(actor.policy_loss.loss_mode)
    verl_loss, verl_metrics = fn(old_log_prob=x["old"], log_prob=verl_lp, advantages=x["adv"],
                                 response_mask=mask.bool(), loss_agg_mode=actor.loss_agg_mode, config=actor)
    verl_loss.backward()
    verl_metrics = {k.removeprefix("actor/"): float(v) for k, v in verl_metrics.items()}
    case = {
        "loss": name, "knobs": knobs, "mode": mode, "seed": seed,
        "loss_ours": float(ours_loss), "loss_verl": float(verl_loss),
        "loss_diff": abs(float(ours_loss) - float(verl_loss)),
        "grad_diff": float((ours_grad - verl_lp.grad).abs().max()),
        "grad_norm": float(verl_lp.grad.abs().max()),
        "metric_diffs": {k: abs(ours_metrics[k] - verl_metrics[k]) for k in ours_metrics if k in verl_metrics},
        "ours_metric_keys": sorted(ours_metrics), "verl_metric_keys": sorted(verl_metrics),
    }
    if name == "clip_cov":
        other_loss, other_grad, _ = ours(rng_seed + 7919)
        case["rng_sensitive"] = bool(float(other_loss) != float(ours_loss)
                                     or not torch.equal(other_grad, ours_grad))
        case["pg_clipfrac"] = ours_metrics["pg_clipfrac"]
    return case


def main(argv: list[str]) -> int:
    import rlvr_bench.algorithms.policy_losses_2025  # noqa: F401  (registers the losses)

    torch.set_num_threads(1)
    seeds = [int(s) for s in argv] or [0, 1, 2]
    cases = [one_case(name, knobs, mode, seed)
             for name, settings in SETTINGS.items() for knobs in settings for mode in MODES for seed in seeds]
    print(json.dumps({"cases": cases}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
