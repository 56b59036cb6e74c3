"""The toy VL model: Auto-class round trip, batches, cache keys, and tiny real builds of the VL base and teacher."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import torch

from rlvr_bench.config.toy_visual import ToyVisualConfig, ToyVisualModelConfig
from rlvr_bench.data.toy_visual import render_chart, sample_visual_problems
from rlvr_bench.models.pretrain_vision import (
    VisualBatcher,
    build_vl_base,
    build_vl_teacher,
    visual_messages,
    vl_base_hash,
    vl_teacher_hash,
)
from rlvr_bench.models.toy import TOY_CHARS
from rlvr_bench.models.toy_vision import (
    VISION_TOKENS,
    build_vision_processor,
    build_vl_model,
    load_vl,
    save_vl,
)

# a smaller model than the default, same architecture (the round trip does not depend on the size)
TINY = ToyVisualModelConfig(hidden_size=24, num_hidden_layers=2, intermediate_size=48, num_attention_heads=2,
                            num_key_value_heads=1, mrope_section=[2, 2, 2], vision_hidden_size=16, vision_heads=2,
                            vision_intermediate_size=32)


def _tiny_world(steps: int = 40) -> ToyVisualConfig:
    cfg = ToyVisualConfig(model=copy.deepcopy(TINY))
    cfg.tasks.num_test = 24
    cfg.base.train = dataclasses.replace(cfg.base.train, steps=steps, batch_size=8, warmup_steps=3, num_threads=1)
    cfg.teacher.train = dataclasses.replace(cfg.teacher.train, steps=10, batch_size=8, warmup_steps=2, num_threads=1)
    return cfg


def _inputs(processor, problems):
    texts = [processor.apply_chat_template(visual_messages(p.problem), tokenize=False, add_generation_prompt=True)
             for p in problems]
    return processor(text=texts, images=[render_chart(p.heights) for p in problems], return_tensors="pt",
                     padding=True)


def test_chat_template_renders_the_toy_prompt():
    processor = build_vision_processor()
    start, end, image, _ = VISION_TOKENS
    for text in ("sum=?", "Q:sum=?A:"):  # the `toy` template's filled text is not wrapped twice
        msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
        assert processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) == \
            f"{start}{image}{end}Q:sum=?A:"
    enc = _inputs(processor, sample_visual_problems("test", 1, ToyVisualConfig().tasks))
    ids = enc["input_ids"][0].tolist()
    assert ids.count(processor.tokenizer.convert_tokens_to_ids(image)) == 6  # 84 x 56 px: 6 x 4 patches, 2x2 merge
    assert enc["pixel_values"].shape == (24, 3 * 2 * 14 * 14) and enc["image_grid_thw"].tolist() == [[1, 4, 6]]


def test_processor_and_model_round_trip_through_the_auto_classes(tmp_path):
    from transformers import Qwen2_5_VLForConditionalGeneration

    processor = build_vision_processor()
    model = build_vl_model(TINY, seed=3, tokenizer=processor.tokenizer)
    save_vl(model, processor, tmp_path)
    model2, processor2 = load_vl(tmp_path)  # AutoModelForImageTextToText / AutoProcessor
    assert isinstance(model2, Qwen2_5_VLForConditionalGeneration) and model2.config.model_type == "qwen2_5_vl"
    text = TOY_CHARS + "".join(VISION_TOKENS) + "Q:max-min=?A:4,2,5:5-2=3 \\boxed{3}</s>"
    assert processor2.tokenizer(text)["input_ids"] == processor.tokenizer(text)["input_ids"]
    assert len(processor2.tokenizer(TOY_CHARS)["input_ids"]) == len(TOY_CHARS)
    assert processor2.tokenizer.padding_side == "left"
    problems = sample_visual_problems("test", 4, ToyVisualConfig().tasks)
    enc, enc2 = _inputs(processor, problems), _inputs(processor2, problems)
    assert enc.keys() == enc2.keys()
    for key in enc:
        assert torch.equal(enc[key], enc2[key]), key
    outs = []
    for m in (model, model2):
        torch.manual_seed(0)
        outs.append(m.generate(**enc, do_sample=True, top_k=0, max_new_tokens=8))
    assert torch.equal(outs[0], outs[1]) and outs[0].shape[1] > enc["input_ids"].shape[1]


def test_batches_hold_the_sampling_ids_and_pixels():
    processor = build_vision_processor()
    cfg = ToyVisualConfig()
    probs = sample_visual_problems("train", 3, cfg.tasks)
    batch = VisualBatcher(processor, cfg)([(p, p.solution) for p in probs])
    tok = processor.tokenizer
    for i, p in enumerate(probs):
        prompt = _inputs(processor, [p])["input_ids"][0].tolist()
        row = batch["input_ids"][i][batch["attention_mask"][i].bool()].tolist()
        assert row == prompt + tok(p.solution, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        labels = batch["labels"][i][: len(row)].tolist()
        assert labels[: len(prompt)] == [-100] * len(prompt) and labels[len(prompt):] == row[len(prompt):]
    assert batch["mm_token_type_ids"].sum(1).tolist() == [6, 6, 6]
    assert batch["pixel_values"].shape == (3 * 24, 1176) and batch["image_grid_thw"].shape == (3, 3)


def _leaves(obj, prefix=""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}"


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, list):
        return value[:-1] if len(value) > 1 else value + value
    raise AssertionError(f"no change rule for {value!r}")


def test_every_setting_changes_the_cache_key():
    base_cfg = ToyVisualConfig()
    base_h, teacher_h = vl_base_hash(base_cfg), vl_teacher_hash(base_cfg)
    leaves = list(_leaves(base_cfg))
    assert len(leaves) > 40
    for path in leaves:
        cfg = copy.deepcopy(base_cfg)
        *parents, leaf = path.split(".")
        node = cfg
        for part in parents:
            node = getattr(node, part)
        setattr(node, leaf, _changed(getattr(node, leaf)))
        assert vl_teacher_hash(cfg) != teacher_h, path
        assert (vl_base_hash(cfg) != base_h) == (not path.startswith("teacher.")), path


def test_tiny_builds_train_cache_and_resolve(tmp_path, monkeypatch):
    from rlvr_bench.config.toy import ToyConfig
    from rlvr_bench.models.resolve import resolve_model_path

    cfg = _tiny_world()
    base = build_vl_base(cfg, cache_dir=tmp_path, progress=False)
    record = json.loads((base / "build.json").read_text())
    assert base.name == f"vl-base-{vl_base_hash(cfg)}" and record["steps"] == 40
    assert record["losses"]["loss_last"] < record["losses"]["loss_first"] - 0.5  # it learned from random init
    assert sorted(record["losses"]["heldout_gold"]) == ["diff", "max", "read", "sum"]
    stamp = (base / "build.json").stat().st_mtime_ns
    assert build_vl_base(cfg, cache_dir=tmp_path) == base and (base / "build.json").stat().st_mtime_ns == stamp
    teacher = build_vl_teacher(cfg, cache_dir=tmp_path, progress=False)
    m_base, _ = load_vl(base)
    m_teacher, processor = load_vl(teacher)
    moved = [n for (n, a), b in zip(m_base.named_parameters(), m_teacher.parameters()) if not torch.equal(a, b)]
    assert any("visual" in n for n in moved) and any("language_model" in n for n in moved)
    again = build_vl_base(cfg, cache_dir=tmp_path / "other", progress=False)  # deterministic for the config
    for a, b in zip(m_base.parameters(), load_vl(again)[0].parameters()):
        assert torch.equal(a, b)
    monkeypatch.setenv("RLVR_BENCH_CACHE", str(tmp_path))
    toy = ToyConfig()
    toy.visual = cfg
    assert resolve_model_path("toy:vl-teacher", toy) == str(teacher)
    with pytest.raises(ValueError, match="unknown toy model"):
        resolve_model_path("toy:vl-student", toy)
