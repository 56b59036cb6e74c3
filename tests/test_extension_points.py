"""Each varying concept is one registry: a NEW estimator + preset, a NEW reward and a NEW report section are
added in this module alone, and every reader (recipe validation, the RL trainer, the verl exporter, the
report) sees them without another file being touched."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rlvr_bench.algorithms import (
    ADVANTAGE_ESTIMATORS,
    BASE,
    PRESET_REFERENCES,
    PRESETS,
    register_advantage_estimator,
    register_preset,
)
from rlvr_bench.config import ConfigError, config_from_dict
from rlvr_bench.rewards import Verdict, register_reward
from rlvr_bench.rewards.registry import _REGISTRY, _SOURCES

CALLS: list[int] = []


def mean_baseline_advantage(*, token_level_rewards: torch.Tensor, response_mask: torch.Tensor,
                            group_index: torch.Tensor, **_) -> tuple[torch.Tensor, torch.Tensor]:
    """Score minus its group's mean, no std division (a test estimator): (B, T) advantages and returns."""
    CALLS.append(int(token_level_rewards.shape[0]))
    scores = token_level_rewards.sum(-1)
    adv = scores.clone()
    for g in torch.unique(group_index):
        members = group_index == g
        adv[members] = scores[members] - scores[members].mean()
    out = adv.unsqueeze(-1) * response_mask
    return out, out


def short_answer(completion: str, ground_truth: str) -> Verdict:
    """A test reward: 1 when the completion is shorter than 20 characters."""
    ok = len(completion) < 20
    return Verdict(1.0 if ok else 0.0, ok, completion[:20], "correct" if ok else "wrong_answer")


@pytest.fixture
def extended():
    """The new estimator, preset and reward, registered the way a user would; removed afterwards."""
    estimators, presets, refs = dict(ADVANTAGE_ESTIMATORS), dict(PRESETS), dict(PRESET_REFERENCES)
    rewards, sources = dict(_REGISTRY), dict(_SOURCES)
    register_advantage_estimator("mean_baseline", min_group_size=2, verl_name=None,
                                 verl_missing_reason="verl 0.9.1 has no mean-baseline estimator")(
        mean_baseline_advantage)
    register_preset(dataclasses.replace(BASE, preset="mean_baseline_pg", adv_estimator="mean_baseline",
                                        mini_batches=1), reference="a test preset")
    register_reward("short_answer")(short_answer)
    yield
    for registry, saved in ((ADVANTAGE_ESTIMATORS, estimators), (PRESETS, presets), (PRESET_REFERENCES, refs),
                            (_REGISTRY, rewards), (_SOURCES, sources)):
        registry.clear()
        registry.update(saved)


def _recipe(out, preset: str = "mean_baseline_pg", reward: str = "math") -> dict:
    return {"method": "rl", "seed": 0, "output_dir": str(out), "model": {"name_or_path": "toy:base"},
            "data": {"source": "toy", "limit": 64}, "algorithm": {"preset": preset},
            "trainer": {"steps": 2, "prompts_per_step": 4, "micro_batch_size": 32, "learning_rate": 1e-4},
            "rollout": {"n": 4, "max_new_tokens": 24}, "reward": {"name": reward},
            "evaluation": {"n": 2, "ks": [1, 2], "limit": 8, "max_new_tokens": 24, "at_start": True},
            "logging": {"trackers": [], "progress": False}}


def test_a_new_preset_is_validated_and_a_misspelling_is_named(extended, tmp_path):
    cfg = config_from_dict(_recipe(tmp_path / "r"), source="r.yaml")
    assert cfg.algorithm.preset == "mean_baseline_pg"
    with pytest.raises(ConfigError, match=r"'algorithm.preset' = 'mean_baseline_pgg' .* did you mean "
                                          r"'mean_baseline_pg'"):
        config_from_dict(_recipe(tmp_path / "r", preset="mean_baseline_pgg"), source="r.yaml")


def test_the_verl_export_names_the_estimator_it_cannot_map(extended, tmp_path):
    from rlvr_bench.backends.verl.errors import UnsupportedRecipeError
    from rlvr_bench.backends.verl.plan import build_plan
    from rlvr_bench.trainers.rl import resolve_algorithm
    from tests.backends.test_verl_export import FACTS

    cfg = config_from_dict(_recipe(tmp_path / "r"), source="r.yaml")
    with pytest.raises(UnsupportedRecipeError) as err:
        build_plan(cfg, resolve_algorithm(cfg), FACTS)
    text = str(err.value)
    assert "mean_baseline" in text and "verl 0.9.1 has no mean-baseline estimator" in text and "\n" not in text


@pytest.mark.slow
def test_a_new_preset_and_reward_train_on_the_toy_base_and_report_as_rl(extended, tmp_path):
    from rlvr_bench.analysis.runs import collect_runs
    from rlvr_bench.trainers.rl import RLTrainer

    CALLS.clear()
    run = RLTrainer(config_from_dict(_recipe(tmp_path / "mean_baseline_pg-s0", reward="short_answer"))).train()
    rows = [r for r in run.metrics() if "reward/mean" in r]
    assert [r["step"] for r in rows] == [1, 2] and CALLS == [16, 16]  # the new estimator ran at each step
    assert all(0.0 <= r["reward/mean"] <= 1.0 for r in rows)  # scored by the new reward
    assert (run.path / "checkpoints" / "step-2").is_dir()
    data = collect_runs([run.path], base_dir=_base_eval(run.path, tmp_path))
    (runs,) = data.methods.values()
    assert runs[0].kind == "rl"


def _base_eval(run_path, tmp_path):
    """A base 'run': the step-0 evaluation of the run itself, copied to its own directory (same problems)."""
    import json
    import shutil

    base = tmp_path / "base"
    if not base.exists():
        (base / "eval").mkdir(parents=True)
        shutil.copytree(run_path / "eval" / "step-0", base / "eval" / "step-0")
        rows = [json.loads(line) for line in (run_path / "eval" / "summary.jsonl").read_text().splitlines()]
        (base / "eval" / "summary.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["step"] == 0))
    return base


def test_a_new_reward_is_validated_and_scores(extended, tmp_path):
    from rlvr_bench.evaluation.scoring import make_scorer
    from rlvr_bench.recipes import check_names

    cfg = config_from_dict(_recipe(tmp_path / "r", reward="short_answer"), source="r.yaml")
    check_names(cfg, "r.yaml")  # the registry-name check of `rlvr-bench train` and `rlvr-bench recipes`
    verdicts = make_scorer("short_answer")(["1+1=2", "x" * 40], ["2", "2"])
    assert [v.correct for v in verdicts] == [True, False]
    cfg.reward.name = "short_answr"
    with pytest.raises(ConfigError, match="short_answr"):
        check_names(cfg, "r.yaml")
