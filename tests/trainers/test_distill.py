"""DistillTrainer: sequence-level and on-policy logit distillation, teacher cost, vocabulary checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rlvr_bench.config import ConfigError, config_from_dict
from rlvr_bench.trainers.distill import DistillError, DistillTrainer


def tiny_cfg(model_dir: Path, teacher: Path | str | None, out: Path, method: str, **sections) -> object:
    """A few-step distillation recipe on tiny toy-architecture models (evaluation off, no trackers)."""
    raw = {
        "method": method,
        "seed": 0,
        "output_dir": str(out),
        "model": {"name_or_path": str(model_dir), "teacher": None if teacher is None else str(teacher)},
        "data": {"source": "toy", "template": "toy", "limit": 64},
        "trainer": {"steps": 4, "batch_size": 8, "micro_batch_size": 8, "learning_rate": 3e-3},
        "rollout": {"n": 2, "max_new_tokens": 8},
        "distill": {"samples_per_prompt": 2, "max_prompts": 16, "keep_correct_only": False},
        "evaluation": {"enabled": False},
        "logging": {"trackers": [], "progress": False},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return config_from_dict(raw)


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    """A second toy-architecture model (other weights, same tokenizer) trained to answer every prompt with '7'."""
    from rlvr_bench.models.toy import build_toy_model, build_toy_tokenizer, save_toy

    tok = build_toy_tokenizer()
    model = build_toy_model(seed=1, tokenizer=tok)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = tok(["Q:1+2=?A:7</s>", "Q:33-4=?A:7</s>", "Q:5*6+10=?A:7</s>"], return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    model.train()
    for _ in range(100):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    path = tmp_path_factory.mktemp("teacher")
    save_toy(model.eval(), tok, path)
    return path


def _char_llama(path: Path, chars: str) -> Path:
    """A tiny Llama with a character tokenizer over ``chars`` (after <pad>, </s>, <unk>), saved to ``path``."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from rlvr_bench.models.toy import SPECIAL_TOKENS

    vocab = {tok: i for i, tok in enumerate((*SPECIAL_TOKENS, *chars))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=1)
    LlamaForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _jsd_to_teacher(student, teacher, tok) -> float:
    """Mean JSD (beta 0.5) between student and teacher next-token distributions at completion positions."""
    from trl.experimental.gkd import GKDTrainer

    total = 0.0
    prompts = ["Q:1+2=?A:", "Q:12+30=?A:", "Q:9-3=?A:", "Q:4*5+11=?A:"]
    for prompt in prompts:
        ids = tok(prompt + "7</s>", return_tensors="pt")["input_ids"]
        n_prompt = len(tok(prompt)["input_ids"])
        with torch.no_grad():
            s, t = student(input_ids=ids).logits[:, :-1], teacher(input_ids=ids).logits[:, :-1]
        labels = ids[:, 1:].clone()
        labels[:, : n_prompt - 1] = -100  # only the positions that predict the completion ("7", EOS)
        total += float(GKDTrainer.generalized_jsd_loss(s, t, labels=labels, beta=0.5))
    return total / len(prompts)


# ---------------------------------------------------------------------------------------------- errors


def test_logit_distillation_rejects_another_vocabulary_in_one_line(tiny_model_dir, tmp_path):
    from rlvr_bench.models.toy import TOY_CHARS

    foreign = _char_llama(tmp_path / "foreign", TOY_CHARS[::-1])  # same size, other ids
    cfg = tiny_cfg(tiny_model_dir, foreign, tmp_path / "run", "distill_logit")
    with pytest.raises(DistillError) as err:
        DistillTrainer(cfg).train()
    msg = str(err.value)
    assert "\n" not in msg and "maps tokens differently" in msg and "distill_seq" in msg


def test_logit_distillation_rejects_another_vocab_size(tiny_model_dir, tmp_path):
    other = _char_llama(tmp_path / "digits", "0123456789")  # 13 tokens, the toy vocabulary has 99
    cfg = tiny_cfg(tiny_model_dir, other, tmp_path / "run", "distill_logit")
    with pytest.raises(DistillError, match="vocab_size 99, teacher .* has 13"):
        DistillTrainer(cfg).train()


def test_distillation_without_a_teacher_is_a_config_error(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="set model.teacher"):
        DistillTrainer(tiny_cfg(tiny_model_dir, None, tmp_path / "run", "distill_seq")).train()


# ---------------------------------------------------------------------------------------------- seq


def test_sequence_distillation_trains_on_teacher_samples_and_counts_them(tiny_model_dir, teacher_dir, tmp_path):
    cfg = tiny_cfg(tiny_model_dir, teacher_dir, tmp_path / "seq", "distill_seq", trainer={"steps": 6})
    trainer = DistillTrainer(cfg)
    run = trainer.train()
    traces = [json.loads(line) for line in (run.path / "traces" / "teacher.jsonl").read_text().splitlines()]
    answers = [t["solution"] for t in traces]
    assert 16 <= len(traces) <= 20 and answers.count("7") >= 15  # mostly the teacher's answer, deduplicated
    rows = [r for r in run.metrics() if "train/loss" in r]
    assert rows[-1]["train/loss"] < rows[0]["train/loss"] - 0.5
    stats = trainer.info["sampling"]
    assert rows[-1]["compute/teacher_samples"] == 16 * 2 == stats["samples"]
    assert rows[-1]["compute/teacher_tokens"] == stats["tokens"] >= 16 * 2 * 2  # "7" and EOS at least
    assert rows[-1]["compute/samples"] == 0 and run.is_complete()


# ---------------------------------------------------------------------------------------------- logit


def test_on_policy_logit_distillation_moves_the_student_towards_the_teacher(tiny_model_dir, teacher_dir, tmp_path):
    from rlvr_bench.models.toy import load_toy

    student, tok = load_toy(tiny_model_dir)
    teacher, _ = load_toy(teacher_dir)
    before = _jsd_to_teacher(student, teacher, tok)
    cfg = tiny_cfg(tiny_model_dir, teacher_dir, tmp_path / "logit", "distill_logit", trainer={"steps": 16},
                   distill={"beta": 0.5})
    run = DistillTrainer(cfg).train()
    trained, _ = load_toy(run.checkpoint_dir(16))
    after = _jsd_to_teacher(trained, teacher, tok)
    assert after < 0.7 * before, (before, after)  # measured (0.42M toy architecture): 0.65 -> 0.50 in 8 steps
    last = [r for r in run.metrics() if "train/loss" in r][-1]
    assert last["compute/samples"] == 16 * 8 and last["compute/teacher_samples"] == 0
    assert last["compute/teacher_tokens"] == last["compute/backward_tokens"] > 16 * 8 * 9  # prompts + completions
    assert run.checkpoint_steps() == [16] and run.is_complete()


def test_lmbda_zero_samples_every_batch_from_the_teacher(tiny_model_dir, teacher_dir, tmp_path):
    cfg = tiny_cfg(tiny_model_dir, teacher_dir, tmp_path / "mix", "distill_logit", trainer={"steps": 2},
                   distill={"lmbda": 0.0})
    run = DistillTrainer(cfg).train()
    last = [r for r in run.metrics() if "train/loss" in r][-1]
    assert last["compute/samples"] == 0 and last["compute/teacher_samples"] == 2 * 8
    assert last["train/completions/mean_length"] == 2.0  # the teacher answers "7" then EOS


# ---------------------------------------------------------------------------------------------- toy


def _toy_eval(limit: int | None = None, n: int = 8) -> dict:
    """All 200 toy test problems (the split is ordered by family: a head would hold no muladd), n samples."""
    return {"enabled": True, "benchmarks": ["toy"], "n": n, "ks": [1, n], "limit": limit, "max_new_tokens": 40}


def _pass_at(run, k: int) -> dict[int, float]:
    return {s["step"]: s["pass_at_k"][str(k)] for s in run.summaries()}


def _newly_solved(run, step: int) -> int:
    """Problems the trained model solves at least once that the base (step 0) never solved."""
    by_step = {s["step"]: s["correct"]["0"] for s in run.summaries()}
    return sum(1 for before, after in zip(by_step[0], by_step[step]) if before == 0 and after > 0)


@pytest.mark.slow
def test_sequence_distillation_raises_toy_pass_at_1(tmp_path):
    cfg = tiny_cfg("toy:base", "toy:teacher", tmp_path / "seq", "distill_seq",
                   trainer={"steps": 40, "batch_size": 64, "micro_batch_size": 64, "learning_rate": 1e-3},
                   data={"limit": None}, rollout={"max_new_tokens": 40},
                   distill={"samples_per_prompt": 2, "max_prompts": 600, "keep_correct_only": True},
                   evaluation=_toy_eval())
    run = DistillTrainer(cfg).train()
    p1 = _pass_at(run, 1)
    assert p1[40] > p1[0] + 0.05, p1
    assert _newly_solved(run, 40) >= 3  # the teacher's muladd strategy: problems the base never solves


@pytest.mark.slow
def test_logit_distillation_raises_toy_pass_at_1(tmp_path):
    cfg = tiny_cfg("toy:base", "toy:teacher", tmp_path / "logit", "distill_logit",
                   trainer={"steps": 60, "batch_size": 32, "micro_batch_size": 32, "learning_rate": 1e-3},
                   data={"limit": None}, rollout={"max_new_tokens": 40}, distill={"beta": 0.0},
                   evaluation=_toy_eval())
    run = DistillTrainer(cfg).train()
    p1 = _pass_at(run, 1)
    assert p1[60] > p1[0] + 0.05, p1
