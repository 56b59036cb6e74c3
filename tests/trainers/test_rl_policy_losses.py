"""Every registered policy loss trains the RL engine: a recipe names it, two steps run, the weights move."""

from __future__ import annotations

import pytest
import torch

from rlvr_bench.algorithms import policy_loss_names
from rlvr_bench.trainers.rl import RLTrainer
from tests.trainers.rl_helpers import starts_with_digit, tiny_rl_config


@pytest.mark.parametrize("loss", policy_loss_names())
def test_each_policy_loss_trains_two_steps(tiny_model_dir, tmp_path, loss):
    # a random model ends a completion at its first digit (stop strings), so rewards vary within groups
    cfg = tiny_rl_config(tiny_model_dir, tmp_path / loss, "grpo", trainer={"steps": 2},
                         rollout={"n": 8, "stop": [str(d) for d in range(10)]},
                         algorithm={"policy_loss": loss, "use_kl_loss": False, "mini_batches": 1})
    trainer = RLTrainer(cfg, reward_fn=starts_with_digit)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    run = trainer.train()
    rows = [r for r in run.metrics() if "actor/pg_loss" in r]
    assert [r["step"] for r in rows] == [1, 2] and all(torch.isfinite(torch.tensor(r["actor/pg_loss"])) for r in rows)
    moved = any(not torch.equal(a, b.detach()) for a, b in zip(before, trainer.model.parameters()))
    assert moved, f"{loss}: two optimizer steps left every weight unchanged"
    assert run.path.joinpath("algorithm.json").read_text().count(f'"policy_loss": "{loss}"') == 1
