"""Base/teacher builds: content hashes, the cache, atomic entries, and a short real training run."""

from __future__ import annotations

import dataclasses
import json
import random
import time

import pytest
import torch

from rlvr_bench.config.toy import (
    ToyBaseConfig,
    ToyConfig,
    ToyModelConfig,
    ToyTaskConfig,
    ToyTeacherConfig,
    ToyTrainConfig,
)
from rlvr_bench.data.toy import sample_problems, toy_prompt
from rlvr_bench.models.pretrain import (
    CODE_VERSION,
    base_hash,
    build_base,
    build_teacher,
    completion_loss,
    config_hash,
    teacher_hash,
    toy_cache_root,
    toy_checkpoint,
    train_toy,
)


def _tiny(steps: int = 12, teacher_steps: int = 6) -> ToyConfig:
    """A toy world small enough to build in a few seconds."""
    model = ToyModelConfig(hidden_size=32, num_hidden_layers=1, intermediate_size=64, num_attention_heads=2,
                           num_key_value_heads=2)
    train = ToyTrainConfig(steps=steps, batch_size=8, warmup_steps=2, num_threads=1)
    teach = ToyTrainConfig(steps=teacher_steps, batch_size=8, warmup_steps=1, num_threads=1, seed=1)
    return ToyConfig(tasks=ToyTaskConfig(num_test=20), model=model, base=ToyBaseConfig(train=train),
                     teacher=ToyTeacherConfig(train=teach))


def test_hash_covers_every_field_and_chains_base_into_teacher():
    cfg = ToyConfig()
    assert base_hash(cfg) == base_hash(ToyConfig()) == base_hash(None)
    changed = [
        dataclasses.replace(cfg, tasks=dataclasses.replace(cfg.tasks, addsub_max_operand=8)),
        dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_hidden_layers=3)),
        dataclasses.replace(cfg, base=dataclasses.replace(cfg.base, train=dataclasses.replace(cfg.base.train, lr=1e-3))),
        dataclasses.replace(cfg, base=dataclasses.replace(
            cfg.base, errors=dataclasses.replace(cfg.base.errors, step_error_prob=0.31))),
    ]
    hashes = {base_hash(c) for c in changed}
    assert len(hashes) == len(changed) and base_hash(cfg) not in hashes
    # a base change changes the teacher; a teacher change leaves the base alone
    assert all(teacher_hash(c) != teacher_hash(cfg) for c in changed)
    t = dataclasses.replace(cfg, teacher=dataclasses.replace(cfg.teacher, family_weights=[0.4, 0.4, 0.2]))
    assert base_hash(t) == base_hash(cfg) and teacher_hash(t) != teacher_hash(cfg)
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})


def test_cache_root_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RLVR_BENCH_CACHE", str(tmp_path / "c"))
    assert toy_cache_root() == tmp_path / "c" / "toy"
    assert toy_cache_root(tmp_path / "d") == tmp_path / "d" / "toy"
    monkeypatch.delenv("RLVR_BENCH_CACHE")
    assert toy_cache_root().parts[-3:] == (".cache", "rlvr_bench", "toy")


def test_build_is_cached_deterministic_and_reloadable(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = _tiny()
    base = build_base(cfg, cache_dir=tmp_path / "a", progress=False)
    assert base == tmp_path / "a" / "toy" / f"base-{base_hash(cfg)}"
    record = json.loads((base / "build.json").read_text())
    assert record["hash"] == base_hash(cfg) and record["code_version"] == CODE_VERSION
    assert record["steps"] == 12 and record["seconds"] > 0
    assert record["config"]["base"]["train"]["steps"] == 12
    assert set(record["losses"]["heldout_gold"]) == {"addsub", "muladd", "code"}

    start = time.perf_counter()
    assert build_base(cfg, cache_dir=tmp_path / "a") == base
    assert toy_checkpoint("toy:base", cfg, cache_dir=tmp_path / "a") == base
    assert time.perf_counter() - start < 1.0

    again = build_base(cfg, cache_dir=tmp_path / "b", progress=False)  # same seed, fresh cache
    m1 = AutoModelForCausalLM.from_pretrained(base)
    m2 = AutoModelForCausalLM.from_pretrained(again)
    assert all(torch.equal(p, q) for p, q in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert AutoTokenizer.from_pretrained(base).decode([53, 30]) == "Q:"

    teacher = build_teacher(cfg, cache_dir=tmp_path / "a", progress=False)
    assert teacher.name == f"teacher-{teacher_hash(cfg)}"
    trecord = json.loads((teacher / "build.json").read_text())
    assert trecord["config"]["base_hash"] == base_hash(cfg) and trecord["steps"] == 6
    mt = AutoModelForCausalLM.from_pretrained(teacher)
    assert not torch.equal(mt.model.embed_tokens.weight, m1.model.embed_tokens.weight)
    assert sorted(p.name for p in (tmp_path / "a" / "toy").iterdir()) == sorted([base.name, teacher.name])


def test_failed_build_leaves_no_entry(tmp_path):
    cfg = _tiny()
    cfg.base.family_weights = [1.0, 1.0, 1.0, 1.0]  # four weights for three families: fails inside the build
    with pytest.raises(ValueError, match="family weights"):
        build_base(cfg, cache_dir=tmp_path, progress=False)
    assert list((tmp_path / "toy").iterdir()) == []


def test_stale_temporary_directory_is_cleaned(tmp_path):
    cfg = _tiny(steps=2, teacher_steps=1)
    stale = tmp_path / "toy" / ".tmp-base-0123-999999999-abcd"  # pid that cannot exist
    stale.mkdir(parents=True)
    build_base(cfg, cache_dir=tmp_path, progress=False)
    assert not stale.exists()


def test_short_training_run_lowers_the_loss():
    from rlvr_bench.models.toy import build_toy_model, build_toy_tokenizer

    tok = build_toy_tokenizer()
    model = build_toy_model(ToyModelConfig(hidden_size=64, num_hidden_layers=2, intermediate_size=128),
                            seed=0, tokenizer=tok)
    held_out = [(toy_prompt(p.problem), p.solution) for p in sample_problems("test", 40, ToyTaskConfig())]
    before = completion_loss(model, tok, held_out)
    rng = random.Random(0)
    probs = sample_problems("train", 400, ToyTaskConfig())
    pairs = iter(lambda: (lambda p: (toy_prompt(p.problem), p.solution))(rng.choice(probs)), None)
    record = train_toy(model, tok, pairs, ToyTrainConfig(steps=40, batch_size=16, warmup_steps=4, lr=3e-3,
                                                         num_threads=1))
    after = completion_loss(model, tok, held_out)
    assert record["loss_last"] < 0.8 * record["loss_first"]
    assert after < 0.8 * before, (before, after)
    assert len(record["loss_curve"]) == 10 and record["threads"] == {"1": 40}


def test_thread_count_does_not_change_the_weights():
    from rlvr_bench.models.pretrain import _stream
    from rlvr_bench.models.toy import build_toy_model, build_toy_tokenizer

    cfg = ToyConfig()
    weights = []
    for threads in (1, 2):
        tok = build_toy_tokenizer()
        model = build_toy_model(cfg.model, seed=0, tokenizer=tok)
        pairs = _stream(cfg, cfg.base.family_weights, "threads", noisy=True)
        train_toy(model, tok, pairs, ToyTrainConfig(steps=3, batch_size=16, warmup_steps=1, num_threads=threads))
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])
