"""verl 0.9.1's grpo_passk, opo and gpg estimators and gpg policy loss vs rlvr_bench's, CPU only.

    PYTHONPATH=/work/main .venv-verl/bin/python tests/algorithms/verl_advantages_2025_check.py [SEED...]

Estimators: for each of grpo_passk (both ``norm_adv_by_std_in_grpo`` settings), opo and gpg and each seed,
the advantages and returns of verl's trainer path (``ray_trainer.compute_advantage`` on a ``DataProto``,
``algorithm`` = an ``AlgoConfig``, ``uid`` = shuffled string prompt ids) and of ours
(``compute_advantages(name, ...)``, group_index = the same uids) on the same float32 batch: groups of 2..7
responses of varying length, outcome scores in {0, 0.5, 1} (a tied best, an all-equal group, a unique best)
and, on odd seeds, small dense token rewards (continuous scores). Also: both raise on a singleton group for
grpo_passk.

Loss: ``gpg`` through :func:`verl_losses_2025_check.one_case` (verl's ``compute_policy_loss_gpg`` configured
by an ``FSDPActorConfig``) for every aggregation mode and seed: loss and gradient w.r.t. ``log_prob``.

Prints one JSON object on the last line of stdout: ``{"advantages": [...], "losses": [...],
"singleton": {...}}``. ``tests/algorithms/test_alg_advantages_2025_verl.py`` runs it and asserts. This file
imports verl and is never collected by pytest (its name does not start with ``test_``).
"""

from __future__ import annotations

import json
import random
import sys
import warnings
from typing import Any

import numpy as np
import torch

warnings.filterwarnings("ignore")

ESTIMATORS: list[tuple[str, bool]] = [("grpo_passk", True), ("grpo_passk", False), ("opo", True), ("gpg", True)]
LOSS_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum")
"""As the 2025 losses check ("seq-mean-token-sum-norm" needs the exporter's derived loss_scale_factor)."""


def batch(seed: int, length: int = 10) -> dict[str, Any]:
    """Random right-padded float32 batch with shuffled string uids (see the module docstring)."""
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    sizes = [rng.randint(2, 7) for _ in range(rng.randint(4, 8))]
    uids = [f"uid-{seed}-{k}" for k, n in enumerate(sizes) for _ in range(n)]
    rng.shuffle(uids)
    bs = len(uids)
    lengths = torch.randint(1, length + 1, (bs,), generator=g)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).float()
    scores = torch.tensor([rng.choice([0.0, 1.0, 1.0, 0.5]) for _ in range(bs)])
    first = {u: [i for i in range(bs) if uids[i] == u] for u in dict.fromkeys(uids)}
    groups = list(first.values())
    scores[groups[0]] = 1.0  # all equal
    scores[groups[1]] = 0.0
    scores[groups[1][0]] = 1.0  # a unique best
    scores[groups[2][:2]] = 1.0  # a tied best (with the rest 0 or 0.5)
    rewards = torch.zeros(bs, length)
    rewards[torch.arange(bs), lengths - 1] = scores
    if seed % 2 == 1:
        rewards += 0.05 * torch.randn(bs, length, generator=g) * mask
    return {"rewards": rewards, "mask": mask, "uids": np.array(uids, dtype=object)}


def verl_advantages(name: str, norm: bool, x: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    from verl import DataProto
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    data = DataProto.from_dict(tensors={"token_level_rewards": x["rewards"].clone(), "response_mask": x["mask"]},
                               non_tensors={"uid": x["uids"]})
    alg = AlgoConfig(adv_estimator=name, norm_adv_by_std_in_grpo=norm)
    data = compute_advantage(data, adv_estimator=name, norm_adv_by_std_in_grpo=norm, config=alg)
    return data.batch["advantages"], data.batch["returns"]


def ours_advantages(name: str, norm: bool, x: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    from rlvr_bench.algorithms import advantage_estimator_spec, compute_advantages

    return compute_advantages(advantage_estimator_spec(name).name, token_level_rewards=x["rewards"].clone(),
                              response_mask=x["mask"], group_index=list(x["uids"]), norm_adv_by_std=norm)


def advantage_case(name: str, norm: bool, seed: int) -> dict[str, Any]:
    from rlvr_bench.algorithms import advantage_estimator_spec

    x = batch(seed)
    a_verl, r_verl = verl_advantages(advantage_estimator_spec(name).verl_name, norm, x)
    a_ours, r_ours = ours_advantages(name, norm, x)
    return {"estimator": name, "norm": norm, "seed": seed, "bs": int(x["mask"].shape[0]),
            "adv_diff": float((a_ours - a_verl).abs().max()), "ret_diff": float((r_ours - r_verl).abs().max()),
            "adv_scale": float(a_verl.abs().max()), "nonzero_rows": int((a_verl.abs().sum(-1) > 0).sum()),
            "nan": bool(torch.isnan(a_verl).any() or torch.isnan(a_ours).any())}


def singleton() -> dict[str, str]:
    """Both implementations on a batch whose last group has one response: the exception type of each."""
    x = batch(0)
    x["uids"] = x["uids"].copy()
    x["uids"][-1] = "alone"
    out = {}
    for who, fn in (("verl", lambda: verl_advantages("grpo_passk", True, x)),
                    ("ours", lambda: ours_advantages("grpo_passk", True, x))):
        try:
            fn()
            out[who] = "no error"
        except Exception as exc:  # noqa: BLE001  (reported, asserted on by the test)
            out[who] = type(exc).__name__
    return out


def main(argv: list[str]) -> int:
    from verl_losses_2025_check import one_case

    import rlvr_bench.algorithms  # noqa: F401  (registers the estimators and losses)

    torch.set_num_threads(1)
    seeds = [int(s) for s in argv] or [0, 1, 2, 3]
    advantages = [advantage_case(name, norm, seed) for name, norm in ESTIMATORS for seed in seeds]
    losses = [one_case("gpg", {}, mode, seed) for mode in LOSS_MODES for seed in seeds]
    print(json.dumps({"advantages": advantages, "losses": losses, "singleton": singleton()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
