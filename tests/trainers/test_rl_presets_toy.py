"""Every RL preset improves the real toy base within a short budget (train reward and test pass@1).

Slow: builds (or reuses from the cache) the toy base, then trains each preset for a few dozen steps.
"""

from __future__ import annotations

import pytest

from rlvr_bench.algorithms import preset_names
from rlvr_bench.config import load_config
from rlvr_bench.trainers.rl import RLTrainer

STEPS = 20
CLASSIC = ("grpo", "dr_grpo", "dapo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "remax", "ppo")
"""The presets of arXiv 2504.13837's comparison (recipes/toy/<preset>.yaml). The boundary methods
(recipes/toy/boundary/) are trained by tests/trainers/test_rl_methods_2025.py and the boundary study."""


def test_every_preset_has_a_toy_recipe():
    from rlvr_bench.recipes import recipes_dir

    for preset in preset_names():
        folder = "toy" if preset in CLASSIC else "toy/boundary"
        assert (recipes_dir() / folder / f"{preset}.yaml").is_file(), preset


@pytest.mark.slow
@pytest.mark.parametrize("preset", CLASSIC)
def test_preset_raises_reward_and_pass_at_1_on_the_toy_base(preset, tmp_path):
    from rlvr_bench.recipes import recipes_dir

    cfg = load_config(recipes_dir() / "toy" / f"{preset}.yaml", [
        f"trainer.steps={STEPS}", "trainer.save_every=0", f"output_dir={tmp_path}",
        "evaluation.n=8", "evaluation.ks=[1,8]", "evaluation.limit=60", "logging.trackers=[]",
        "logging.progress=false",
    ])
    run = RLTrainer(cfg).train()
    rows = [r for r in run.metrics() if "reward/accuracy" in r]
    first = sum(r["reward/accuracy"] for r in rows[:4]) / 4
    last = sum(r["reward/accuracy"] for r in rows[-4:]) / 4
    summaries = {s["step"]: s for s in run.summaries()}
    base, final = summaries[0]["pass_at_k"]["1"], summaries[STEPS]["pass_at_k"]["1"]
    assert last > first, f"{preset}: train accuracy {first:.3f} -> {last:.3f}"
    assert final > base, f"{preset}: test pass@1 {base:.3f} -> {final:.3f}"


@pytest.mark.slow
def test_grpo_on_the_toy_code_family_raises_its_unit_test_reward(tmp_path):
    """A few GRPO steps on the code family only (prompts from data.source toy/code, same base), rewarded by
    hidden unit tests run in the sandbox: the train reward rises and the code test split improves."""
    from rlvr_bench.recipes import recipes_dir

    steps = 12
    cfg = load_config(recipes_dir() / "toy" / "grpo.yaml", [
        "data.source=toy/code", "evaluation.benchmarks=[toy/code]", f"trainer.steps={steps}",
        "trainer.prompts_per_step=16", "trainer.save_every=0", f"output_dir={tmp_path}", "evaluation.n=8",
        "evaluation.ks=[1,8]", "logging.trackers=[]", "logging.progress=false",
    ])
    run = RLTrainer(cfg).train()
    rows = [r for r in run.metrics() if "reward/accuracy" in r]
    first = sum(r["reward/accuracy"] for r in rows[:3]) / 3
    last = sum(r["reward/accuracy"] for r in rows[-3:]) / 3
    summaries = {s["step"]: s for s in run.summaries()}
    assert summaries[0]["benchmark"] == "toy-code" and set(summaries[0]["sources"]) == {"toy/code"}
    assert last > first + 0.05, f"code train reward {first:.3f} -> {last:.3f}"
    assert summaries[steps]["pass_at_k"]["1"] > summaries[0]["pass_at_k"]["1"]
