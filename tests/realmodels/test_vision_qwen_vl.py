"""The real vision-language class path on CPU: a tiny random ``Qwen2_5_VLForConditionalGeneration`` with a real-format
processor (``vision_builder``) loaded through rlvr_bench's loaders, sampled by the vision engine (3-D M-RoPE
positions, pixel inputs), evaluated, trained two GRPO steps, fine-tuned with SFT and sequence distillation on rows
with images, and exported to verl's multimodal format: the code ``Qwen/Qwen2.5-VL-7B-Instruct`` runs on a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rlvr_bench.config import config_from_dict
from rlvr_bench.data.templates import render_prompt
from rlvr_bench.rollout import Decoding, build_engine
from rlvr_bench.utils.rundir import read_jsonl
from tests.realmodels.vision_builder import build_qwen_vl, solid_image

MAX_NEW = 12
SIZES = ((56, 56), (84, 56), (56, 84), (56, 56))  # 4, 6, 6 and 4 image tokens


@pytest.fixture(scope="module")
def vl_dir(tmp_path_factory):
    return build_qwen_vl(tmp_path_factory.mktemp("qwen_vl"))


@pytest.fixture(scope="module")
def vl(vl_dir):
    from rlvr_bench.models.loading import load_policy, load_processing_class

    return load_policy(vl_dir, device="cpu"), load_processing_class(vl_dir)


@pytest.fixture(scope="module")
def visual_file(tmp_path_factory):
    """4 rows: id, problem, answer, solution and an image path (images of different sizes)."""
    root = tmp_path_factory.mktemp("vis_data")
    rows = []
    for i, size in enumerate(SIZES):
        solid_image(i, size).save(root / f"im{i}.png")
        rows.append({"id": f"v{i}", "problem": f"What is {i}+1?", "answer": str(i + 1),
                     "solution": f"{i}+1={i + 1}. \\boxed{{{i + 1}}}", "image": f"im{i}.png"})
    (root / "vis.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root / "vis.jsonl"


def vl_cfg(model_dir: Path, out: Path, method: str, data_file: Path, **sections):
    raw = {"method": method, "seed": 0, "output_dir": str(out),
           "model": {"name_or_path": str(model_dir), "teacher": str(model_dir)},
           "data": {"source": str(data_file), "template": "qwen_boxed", "solution_column": "solution"},
           "rollout": {"n": 4, "max_new_tokens": MAX_NEW, "batch_size": 64},
           "trainer": {"steps": 2, "prompts_per_step": 2, "batch_size": 2, "micro_batch_size": 4,
                       "learning_rate": 1e-2, "save_every": 2},
           "algorithm": {"preset": "grpo", "use_kl_loss": False, "mini_batches": 1},
           "reward": {"name": "math"}, "sft": {"max_length": 256},
           "distill": {"samples_per_prompt": 2, "keep_correct_only": False},
           "evaluation": {"benchmarks": [str(data_file)], "n": 2, "ks": [1, 2], "seeds": [0], "max_new_tokens": MAX_NEW,
                          "at_start": True},
           "logging": {"trackers": [], "progress": False}}
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return config_from_dict(raw)


def odd_length(texts: list[str], answers: list[str]) -> list[float]:
    """A reward that varies within a group (a random model never answers right): 1 for odd-length texts."""
    return [float(len(t) % 2) for t in texts]


def test_loads_through_the_auto_classes_and_the_processor_round_trips(vl, vl_dir, tmp_path):
    from transformers import AutoModelForImageTextToText

    from rlvr_bench.models.loading import is_vision_model, load_processing_class, load_tokenizer

    model, processor = vl
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration" and is_vision_model(vl_dir)
    assert type(AutoModelForImageTextToText.from_pretrained(vl_dir)) is type(model)
    assert processor.tokenizer.padding_side == "left" and type(load_tokenizer(vl_dir)).__name__ == "Qwen2Tokenizer"
    prompt = render_prompt("qwen_boxed", "Find x.", processor)
    assert "user\n<|vision_start|><|image_pad|><|vision_end|>Find x.\nPlease reason" in prompt
    processor.save_pretrained(tmp_path)  # also what checkpoints get
    (tmp_path / "config.json").write_text((vl_dir / "config.json").read_text())
    again = load_processing_class(tmp_path)
    a = processor(text=[prompt], images=[solid_image(0, (84, 56))], return_tensors="pt")
    b = again(text=[prompt], images=[solid_image(0, (84, 56))], return_tensors="pt")
    assert a["input_ids"].tolist() == b["input_ids"].tolist() and torch.equal(a["pixel_values"], b["pixel_values"])
    assert a["image_grid_thw"].tolist() == [[1, 4, 6]] and a["input_ids"][0].tolist().count(101) == 6


def test_engine_matches_model_generate_greedily(vl):
    """Rows with differently sized images (other grids, left padding): the engine's 3-D-position decode gives
    model.generate's greedy tokens and per-step log-probs; 1-D positions would not."""
    model, processor = vl
    prompts = [render_prompt("qwen_boxed", q, processor) for q in ("What is 2+3?", "Compute 17 minus 4, then 3.")]
    images = [solid_image(5, (56, 56)), solid_image(6, (84, 112))]
    engine = build_engine("hf", model, processor, batch_size=8)
    assert type(engine).__name__ == "VisionHFEngine" and engine.describe()["positions"] == "mrope"
    res = engine.generate(prompts, n=1, decoding=Decoding(temperature=0, max_new_tokens=MAX_NEW), seed=0,
                          images=images)
    enc = processor(text=prompts, images=images, return_tensors="pt", padding=True)
    ref = model.generate(**enc, max_new_tokens=MAX_NEW, do_sample=False, output_scores=True,
                         return_dict_in_generate=True, suppress_tokens=engine.placeholder_ids, pad_token_id=96)
    new = ref.sequences[:, enc["input_ids"].shape[1]:]
    for i, comp in enumerate(res.completions):  # both stop at end of text (96); generate pads after it
        assert comp.token_ids == new[i, :len(comp.token_ids)].tolist() and len(comp.token_ids) > 1
        ref_logp = [float(torch.log_softmax(ref.scores[s][i].float(), -1)[t]) for s, t in enumerate(comp.token_ids)]
        assert comp.logprobs == pytest.approx(ref_logp, abs=1e-4)
    # the positions matter: the prefill's last logits under 1-D positions differ from the 3-D ones
    ids, mask = enc["input_ids"], enc["attention_mask"]
    pos1 = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        flat = model(**enc, position_ids=pos1).logits[:, -1]
        mrope = model(**enc, position_ids=engine_positions(model, ids, mask, enc["image_grid_thw"])).logits[:, -1]
    keep = [i for i in range(mrope.shape[-1]) if i not in engine.placeholder_ids]  # suppressed in generate's scores
    assert torch.allclose(mrope[:, keep], ref.scores[0][:, keep], atol=1e-4)
    assert not torch.allclose(flat, mrope, atol=1e-4)


def engine_positions(model, ids, mask, grid):
    from rlvr_bench.rollout.hf_vision import mrope_positions

    return mrope_positions(model, ids, mask, grid)


def test_sampling_is_seeded_and_the_text_engine_refuses_images(vl):
    from rlvr_bench.rollout.hf import HFEngine

    model, processor = vl
    prompts = [render_prompt("qwen_boxed", "Hi?", processor)] * 2
    images = [solid_image(1), solid_image(2, (84, 56))]
    engine = build_engine("hf", model, processor)
    runs = [engine.generate(prompts, n=3, decoding=Decoding(max_new_tokens=MAX_NEW), seed=7, images=images)
            for _ in range(2)]
    assert [c.token_ids for c in runs[0].completions] == [c.token_ids for c in runs[1].completions]
    assert runs[0].prompt_ids.shape[0] == 6 and (runs[0].prompt_ids == 101).sum(-1).tolist() == [4] * 3 + [6] * 3
    with pytest.raises(ValueError, match="images were given to the text-only hf engine"):
        HFEngine(model, processor.tokenizer).generate(prompts, images=images)


@pytest.fixture(scope="module")
def grpo_run(vl_dir, visual_file, tmp_path_factory):
    """Two GRPO steps with images, evaluated at step 0 and 2; the parameters before and after."""
    from rlvr_bench.trainers.rl import RLTrainer

    trainer = RLTrainer(vl_cfg(vl_dir, tmp_path_factory.mktemp("grpo") / "run", "rl", visual_file),
                        reward_fn=odd_length)
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    batch = trainer.rollout()  # one batch before training (the sampling path), then train from the start
    trainer.data_pos = 0
    run = trainer.train()
    return {"trainer": trainer, "run": run.path, "batch": batch, "before": before}


def test_evaluation_and_two_rl_steps_with_images(grpo_run, visual_file):
    from rlvr_bench.data.loading import load_prompts

    run, trainer = grpo_run["run"], grpo_run["trainer"]
    image_ids = dict(zip(*[load_prompts(visual_file)[c] for c in ("id", "image_id")]))
    for step in (0, 2):
        lines = list(read_jsonl(run / "eval" / f"step-{step}" / "vis.samples.jsonl"))
        assert len(lines) == 4 * 2 and all(line["image_id"] == image_ids[line["id"]] for line in lines)
        assert not any("image" in line for line in lines)  # ids, never pixels
    steps = [r for r in read_jsonl(run / "metrics.jsonl") if "actor/pg_loss" in r]
    assert [r["step"] for r in steps] == [1, 2]
    after = dict(trainer.model.named_parameters())
    changed = [k for k, v in grpo_run["before"].items() if not torch.equal(v, after[k])]
    assert any(k.startswith("model.visual.") for k in changed) and any("language_model" in k for k in changed)
    from rlvr_bench.models.loading import load_processing_class

    assert hasattr(load_processing_class(run / "checkpoints" / "step-2"), "image_processor")


def test_rl_log_probs_read_the_rows_own_images(grpo_run):
    """The training forward pass sees each row's image: swapping the images changes the log-probs; the batch's
    pixel tensors slice per micro-batch to the same log-probs as the whole batch."""
    from rlvr_bench.trainers.rl_batch import sequence_logprobs

    trainer, batch = grpo_run["trainer"], grpo_run["batch"]
    assert len(batch.images) == len(batch) == 8 and len({id(i) for i in batch.images}) == 2
    t = batch.tensors(trainer.pad_id, trainer.processing)
    assert t["image_index"].tolist() == [0] * 4 + [1] * 4 and t["image_grid_thw"].shape == (2, 3)
    model, mask = trainer.model, t["response_mask"].bool()
    with torch.no_grad():
        whole = sequence_logprobs(model, t, torch.arange(8), temperature=1.0)[0]
        parts = torch.cat([sequence_logprobs(model, t, torch.arange(a, min(a + 3, 8)), temperature=1.0)[0]
                           for a in range(0, 8, 3)])
        other = dict(t, pixel_values=torch.flip(t["pixel_values"], dims=[0]))  # other pixels, same grids
        flipped = sequence_logprobs(model, other, torch.arange(8), temperature=1.0)[0]
    assert torch.allclose(whole[mask], parts[mask], atol=1e-5)
    assert (whole[mask] - flipped[mask]).abs().max() > 1e-4


def test_a_vision_model_on_text_data_fails_in_one_line(vl_dir, tmp_path):
    from rlvr_bench.data.images import ImageColumnError
    from rlvr_bench.trainers.rl import RLTrainer

    text = tmp_path / "text.jsonl"
    text.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"{i}+1?", "answer": str(i + 1)}) + "\n"
                            for i in range(3)))
    with pytest.raises(ImageColumnError) as err:
        RLTrainer(vl_cfg(vl_dir, tmp_path / "run", "rl", text, data={"solution_column": None}))
    assert "has no image column" in str(err.value) and "\n" not in str(err.value)


def test_verl_export_writes_the_multimodal_layout(vl_dir, visual_file, tmp_path):
    import io

    import numpy as np
    import pyarrow.parquet as pq
    from PIL import Image

    from rlvr_bench.backends.verl.export import export_recipe
    from tests.backends.helpers import TOY_RECIPE

    res = export_recipe(TOY_RECIPE, [f"model.name_or_path={vl_dir}", f"data.source={visual_file}",
                                     "data.template=qwen_boxed", f"evaluation.benchmarks=[{visual_file}]",
                                     "trainer.prompts_per_step=4", "algorithm.mini_batches=1"],
                        tmp_path / "out")
    rows = pq.read_table(res.out / "data" / "train.parquet").to_pylist()
    assert len(rows) == 4 and all(r["prompt"][-1]["content"].startswith("<image>What is") for r in rows)
    row = next(r for r in rows if r["extra_info"]["id"] == "v1")
    image = Image.open(io.BytesIO(row["images"][0]["bytes"]))
    assert np.array_equal(np.asarray(image), np.asarray(solid_image(1, SIZES[1])))
    assert (res.out / "data" / "val_vis.parquet").is_file() and res.facts.chat_template is None
    assert "+ 6 image tokens" in res.facts.prompt_length_note


def test_sft_and_sequence_distillation_train_on_images(vl_dir, visual_file, tmp_path):
    """SFT (TRL's vision-language rows: the batch holds the pixels) and sequence distillation (the teacher samples
    with the images) train; logit distillation refuses images in one line."""
    from rlvr_bench.trainers.distill import DistillError, DistillTrainer
    from rlvr_bench.trainers.sft import SFTTrainer

    sft = SFTTrainer(vl_cfg(vl_dir, tmp_path / "sft", "sft", visual_file, evaluation={"at_start": False}))
    trl = sft.build()
    batch = next(iter(trl.get_train_dataloader()))
    assert batch["pixel_values"].shape[1] == 1176 and int((batch["input_ids"] == 101).sum()) == \
        int(batch["image_grid_thw"].prod(-1).sum()) // 4
    assert (batch["labels"][batch["input_ids"] == 101] == -100).all()  # the prompt (and its image) is not learned
    before = {k: v.detach().clone() for k, v in sft.model.named_parameters()}
    from rlvr_bench.trainers.sft_trl import train_with_resume

    train_with_resume(trl, sft.run, sft.meter, sft.callback, sft.info)
    assert any(not torch.equal(v, dict(sft.model.named_parameters())[k]) for k, v in before.items())
    assert [r["step"] for r in read_jsonl(sft.run.path / "metrics.jsonl") if "train/loss" in r] == [1, 2]
    seq = DistillTrainer(vl_cfg(vl_dir, tmp_path / "dseq", "distill_seq", visual_file, evaluation={"at_start": False}))
    run = seq.train()
    traces = list(read_jsonl(run.path / "traces" / "teacher.jsonl"))
    assert traces and all(t["image_id"] for t in traces) and seq.info["sampling"]["samples"] == 8
    with pytest.raises(DistillError, match="use method distill_seq"):
        DistillTrainer(vl_cfg(vl_dir, tmp_path / "dlogit", "distill_logit", visual_file)).train()


def test_shared_prompt_prefill_keeps_each_rows_image(vl, monkeypatch):
    """Two prompts with the same text and different images: each prompt's n samples share one prefill, and
    the samples equal those of a prefill per row."""
    from rlvr_bench.rollout.hf import HFEngine

    model, processor = vl
    prompts = [render_prompt("qwen_boxed", "Hi?", processor)] * 2
    images = [solid_image(1), solid_image(2, (84, 56))]
    engine = build_engine("hf", model, processor, batch_size=5)
    decoding = Decoding(temperature=1.0, max_new_tokens=MAX_NEW)
    shared = engine.generate(prompts, n=3, decoding=decoding, seed=11, images=images)
    monkeypatch.setattr(HFEngine, "_prefill_shared", lambda self, rows, device, cache: self._prefill(rows, device,
                                                                                                       cache))
    plain = engine.generate(prompts, n=3, decoding=decoding, seed=11, images=images)
    assert [c.token_ids for c in shared.completions] == [c.token_ids for c in plain.completions]
    assert torch.allclose(shared.response_logprobs, plain.response_logprobs, atol=1e-5)
