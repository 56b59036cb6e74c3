"""The visual study's RL recipes (recipes/toy/visual/) train on the toy visual family: a few steps of each
from a short-trained toy VL base (the ``toy:vl-base`` architecture and pipeline, 100 pretraining steps instead
of 600, built once here: ~15 s) change the policy, vision tower included, and log the verifier's reward. SFT and sequence distillation with images are
trained in tests/realmodels/test_vision_qwen_vl.py; the full-size world in the visual study."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rlvr_bench.config import load_config
from rlvr_bench.config.toy_visual import ToyVisualConfig
from rlvr_bench.models.pretrain_vision import build_vl_base
from rlvr_bench.trainers.rl import RLTrainer


def _short_world() -> ToyVisualConfig:
    """The default visual world with a short base pretraining: it samples a few correct answers (train
    accuracy ~0.06-0.09), so groups have reward variance and the policy gradient is not zero (a tinier model
    never answers correctly and nothing would move)."""
    cfg = ToyVisualConfig()
    cfg.base.train = dataclasses.replace(cfg.base.train, steps=100, batch_size=16, warmup_steps=10, num_threads=1)
    return cfg


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("vl-cache")
    build_vl_base(_short_world(), cache_dir=cache, progress=False)
    return cache


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["grpo", "rloo", "dapo"])
def test_visual_recipe_trains_the_vl_base(preset, tiny_cache, tmp_path, monkeypatch):
    from rlvr_bench.recipes import recipes_dir

    monkeypatch.setenv("RLVR_BENCH_CACHE", str(tiny_cache))
    cfg = load_config(recipes_dir() / "toy" / "visual" / f"{preset}.yaml", [
        "trainer.steps=3", "trainer.warmup_steps=0", "trainer.prompts_per_step=8", "rollout.n=4",
        "trainer.save_every=0", "evaluation.enabled=false", f"output_dir={tmp_path}", "logging.trackers=[]",
        "logging.progress=false", "algorithm.max_resample_rounds=1",
    ])
    cfg.toy.visual = _short_world()
    trainer = RLTrainer(cfg)
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    run = trainer.train()
    after = dict(trainer.model.named_parameters())
    moved = [k for k, v in before.items() if not torch.equal(v, after[k].detach())]
    assert any("visual" in k for k in moved) and any("language_model" in k for k in moved), preset
    rows = [r for r in run.metrics() if "reward/accuracy" in r]
    assert [r["step"] for r in rows] == [1, 2, 3] and all(0.0 <= r["reward/accuracy"] <= 1.0 for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["sft", "distill_seq"])
def test_visual_sft_and_distillation_recipes_train_the_vl_base(recipe, tiny_cache, tmp_path, monkeypatch):
    """The study's other methods on the same family: SFT on the gold traces and sequence distillation from the
    VL teacher (built here from the short base, a few steps) take the images into the batch and move the VL
    base's weights, vision tower included."""
    from rlvr_bench.recipes import recipes_dir
    from rlvr_bench.trainers.distill import DistillTrainer
    from rlvr_bench.trainers.sft import SFTTrainer

    monkeypatch.setenv("RLVR_BENCH_CACHE", str(tiny_cache))
    cfg = load_config(recipes_dir() / "toy" / "visual" / f"{recipe}.yaml", [
        "trainer.steps=2", "trainer.warmup_steps=0", "trainer.batch_size=8", "trainer.micro_batch_size=8",
        "evaluation.enabled=false", f"output_dir={tmp_path}", "logging.trackers=[]", "logging.progress=false",
        "distill.max_prompts=8", "distill.keep_correct_only=false",
    ])
    world = _short_world()
    world.teacher.train = dataclasses.replace(world.teacher.train, steps=20, batch_size=16, warmup_steps=2,
                                              num_threads=1)
    cfg.toy.visual = world
    trainer = (SFTTrainer if recipe == "sft" else DistillTrainer)(cfg)
    run = trainer.train()
    before = _base_params(tiny_cache)
    after = {k: v.detach() for k, v in trainer.trainer.model.named_parameters()}  # the TRL trainer's model
    moved = [k for k, v in before.items() if k in after and not torch.equal(v, after[k])]
    assert any("visual" in k for k in moved) and any("language_model" in k for k in moved), recipe
    assert any("train/loss" in r for r in run.metrics())


def _base_params(cache) -> dict[str, torch.Tensor]:
    from rlvr_bench.models.pretrain_vision import vl_checkpoint
    from rlvr_bench.models.toy_vision import load_vl

    model, _ = load_vl(vl_checkpoint("vl-base", _short_world(), cache_dir=cache))
    return {k: v.detach() for k, v in model.named_parameters()}
