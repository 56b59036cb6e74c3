"""Like for like outside the toy world: every path that samples stops at the chat turn-end token.

A tiny random Qwen2 with a Qwen2.5-format ChatML tokenizer (end-of-text ``<|endoftext|>``, turns closed by
``<|im_end|>``, generation config stopping at end-of-text only, as a Qwen2.5 base model) and a Llama-3-style
twin (BOS, ``<|eot_id|>``) run the real class paths on CPU: evaluation, GRPO (full and LoRA), SFT (full and
LoRA), RFT and both distillations. The tests assert that

* each path's sampling stops at the turn-end token (rollout ids; recorded stop sets; TRL's generation ids);
* the step-0 evaluations of every method from the same base are identical, sample for sample;
* ``rlvr-bench eval CHECKPOINT`` (full weights or LoRA adapter) reproduces the run's own last evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr_bench.config import config_from_dict
from rlvr_bench.utils.rundir import RunDir, read_jsonl
from tests.realmodels.builders import read_info

MAX_NEW = 24


def real_cfg(model_dir: Path, out: Path, method: str, bench: Path, *, template: str = "qwen_boxed", **sections):
    """A two-step recipe on a tiny real-format model, evaluated at step 0 and at its last checkpoint."""
    raw = {
        "method": method, "seed": 0, "output_dir": str(out),
        "model": {"name_or_path": str(model_dir), "teacher": str(model_dir)},
        "data": {"source": str(bench), "template": template, "limit": 6},
        "rollout": {"n": 4, "max_new_tokens": MAX_NEW, "batch_size": 64},
        "trainer": {"steps": 2, "prompts_per_step": 3, "batch_size": 4, "micro_batch_size": 8,
                    "learning_rate": 1e-3, "save_every": 2},
        "algorithm": {"preset": "grpo", "use_kl_loss": False, "mini_batches": 1},
        "reward": {"name": "math"},
        "sft": {"rft_samples_per_prompt": 2, "max_length": 256},
        "distill": {"samples_per_prompt": 2, "keep_correct_only": False},
        "evaluation": {"benchmarks": [str(bench)], "n": 4, "ks": [1, 2, 4], "seeds": [0],
                       "max_new_tokens": MAX_NEW, "at_start": True},
        "logging": {"trackers": [], "progress": False},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return config_from_dict(raw)


def accept_all(texts: list[str], answers: list[str]) -> list[float]:
    """A verifier that keeps every trace (a random model never answers right; RFT needs kept traces)."""
    return [1.0] * len(texts)


def samples(run: Path, step: int) -> list[dict]:
    files = sorted((run / "eval" / f"step-{step}").glob("*.samples.jsonl"))
    assert len(files) == 1, files
    rows = sorted(read_jsonl(files[0]), key=lambda r: (r["seed"], r["id"], r["sample"]))
    return [{k: r[k] for k in ("id", "seed", "sample", "completion", "finish_reason", "tokens", "prompt_sha256")}
            for r in rows]


def meta(run: Path, step: int) -> dict:
    (path,) = (run / "eval" / f"step-{step}").glob("*.meta.json")
    return json.loads(path.read_text())


def assert_stops_at_turn_end(response_ids, mask, turn_end: int, eos: int) -> int:
    """Every row ends at its first stop id, or runs to MAX_NEW without any; returns how many stopped at the
    turn end (rows are the RL batch's right-padded response ids and mask)."""
    at_turn_end = 0
    for ids, m in zip(response_ids.tolist(), mask.tolist()):
        row = [t for t, keep in zip(ids, m) if keep]
        stops = [i for i, t in enumerate(row) if t in (turn_end, eos)]
        if stops:
            assert stops == [len(row) - 1], f"generation went on past a stop id: {row}"
            at_turn_end += row[-1] == turn_end
        else:
            assert len(row) == MAX_NEW
    return at_turn_end


@pytest.fixture(scope="module")
def qwen_runs(qwen_chatml_dir, math_bench_file, traces_file, tmp_path_factory):
    """GRPO (full and LoRA), SFT (full and LoRA), RFT, sequence and logit distillation from the Qwen base."""
    from rlvr_bench.trainers.distill import DistillTrainer
    from rlvr_bench.trainers.rl import RLTrainer
    from rlvr_bench.trainers.sft import RFTTrainer, SFTTrainer

    root = tmp_path_factory.mktemp("qwen_runs")
    lora = {"lora": {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}}
    sft_data = {"source": str(traces_file), "solution_column": "solution"}
    out: dict[str, object] = {}
    grpo = RLTrainer(real_cfg(qwen_chatml_dir, root / "grpo", "rl", math_bench_file), reward_fn=accept_all)
    out["rollout"] = grpo.rollout()  # one batch, before training: the RL sampling path
    grpo.data_pos = 0
    out["grpo"] = grpo.train().path
    out["grpo_lora"] = RLTrainer(real_cfg(qwen_chatml_dir, root / "grpo_lora", "rl", math_bench_file, model=lora),
                                 reward_fn=accept_all).train().path
    out["sft"] = SFTTrainer(real_cfg(qwen_chatml_dir, root / "sft", "sft", math_bench_file, data=sft_data)).train().path
    out["sft_lora"] = SFTTrainer(real_cfg(qwen_chatml_dir, root / "sft_lora", "sft", math_bench_file, data=sft_data,
                                          model=lora)).train().path
    out["rft"] = RFTTrainer(real_cfg(qwen_chatml_dir, root / "rft", "rft", math_bench_file),
                            reward_fn=accept_all).train().path
    out["distill_seq"] = DistillTrainer(real_cfg(qwen_chatml_dir, root / "dseq", "distill_seq",
                                                 math_bench_file)).train().path
    logit = DistillTrainer(real_cfg(qwen_chatml_dir, root / "dlogit", "distill_logit", math_bench_file))
    out["distill_logit"] = logit.train().path
    out["trl_eos"] = list(logit.trainer.eos_token_ids)
    return out


METHODS = ("grpo", "grpo_lora", "sft", "sft_lora", "rft", "distill_seq", "distill_logit")


def test_rl_rollouts_stop_at_the_turn_end(qwen_runs, qwen_chatml_dir):
    info = read_info(qwen_chatml_dir)
    batch = qwen_runs["rollout"]
    t = batch.tensors(pad_id=info["end_of_text_id"])
    stopped = assert_stops_at_turn_end(t["response_ids"], t["response_mask"], info["turn_end_id"], info["end_of_text_id"])
    assert stopped > 0  # the rule is what stopped them: the generation config alone stops at end-of-text only


@pytest.mark.parametrize("method", METHODS)
def test_every_method_records_the_same_stop_rule_and_step0_samples(qwen_runs, qwen_chatml_dir, method):
    info = read_info(qwen_chatml_dir)
    reference = samples(qwen_runs["grpo"], 0)
    assert samples(qwen_runs[method], 0) == reference  # same base, same settings: the same samples
    m = meta(qwen_runs[method], 0)
    assert info["turn_end_id"] in m["stop"]["token_ids"] and info["end_of_text_id"] in m["stop"]["token_ids"]
    truncated = sum(r["finish_reason"] == "length" for r in reference) / len(reference)
    assert truncated < 0.5  # without the turn end in the stop set, about 60% would be cut at max_new_tokens
    env = json.loads((qwen_runs[method] / "env.json").read_text())
    assert info["turn_end_id"] in env["stop"]["token_ids"]
    assert env["model"]["weights_sha256"] and env["chat_template_sha256"]
    assert env["reward_resolved"]["resolved"] in ("math", "custom")


def test_trl_on_policy_generation_and_sampled_traces_stop_at_the_turn_end(qwen_runs, qwen_chatml_dir):
    info = read_info(qwen_chatml_dir)
    assert info["turn_end_id"] in qwen_runs["trl_eos"]  # TRL's DistillationTrainer stops its samples there
    for name, part in (("rft", "rft"), ("distill_seq", "teacher")):
        record = json.loads((qwen_runs[name] / "traces" / f"{part}.json").read_text())
        assert info["turn_end_id"] in record["settings"]["decoding"]["stop_token_ids"]


@pytest.mark.parametrize("method", ["grpo", "grpo_lora", "sft_lora", "distill_logit"])
def test_rlvr_bench_eval_of_a_checkpoint_reproduces_the_runs_last_evaluation(qwen_runs, method, tmp_path):
    from rlvr_bench.cli import main

    run = RunDir(qwen_runs[method])
    last = max(run.checkpoint_steps())
    ckpt = run.checkpoint_dir(last)
    if method.endswith("lora"):
        assert (ckpt / "adapter_config.json").is_file() and not (ckpt / "config.json").is_file()
    assert main(["eval", str(ckpt), "--out", str(tmp_path / "eval"), "--step", str(last)]) == 0
    assert samples(tmp_path / "eval", last) == samples(run.path, last)
    ours = [s for s in run.summaries() if s["step"] == last][0]
    theirs = list(read_jsonl(tmp_path / "eval" / "eval" / "summary.jsonl"))[0]
    assert theirs["correct"] == ours["correct"] and theirs["decoding"] == ours["decoding"]


def test_llama3_style_evaluation_and_grpo_stop_at_eot(llama3_dir, math_bench_file, tmp_path):
    """BOS-adding tokenizer: one BOS per prompt, and both the rollout and the evaluation stop at <|eot_id|>."""
    from rlvr_bench.trainers.rl import RLTrainer

    info = read_info(llama3_dir)
    cfg = real_cfg(llama3_dir, tmp_path / "grpo", "rl", math_bench_file, template="r1_distill",
                   trainer={"steps": 1, "save_every": 1})
    trainer = RLTrainer(cfg, reward_fn=accept_all)
    batch = trainer.rollout()
    t = batch.tensors(pad_id=trainer.pad_id)
    assert assert_stops_at_turn_end(t["response_ids"], t["response_mask"], info["turn_end_id"], info["end_of_text_id"]) > 0
    bos = info["special_ids"]["<|begin_of_text|>"]
    assert all(row.count(bos) == 1 for row in t["prompt_ids"].tolist())
    trainer.data_pos = 0
    run = trainer.train()
    assert info["turn_end_id"] in meta(run.path, 0)["stop"]["token_ids"]


def test_a_checkpoint_without_its_record_falls_back_to_the_runs_config(qwen_runs, tmp_path):
    """An older checkpoint (no rlvr_generation.json): the run's config.yaml gives the same settings."""
    import shutil

    from rlvr_bench.cli import main
    from rlvr_bench.rollout.stopping import GENERATION_RECORD

    run = tmp_path / "old"
    shutil.copytree(qwen_runs["grpo"], run)
    last = max(RunDir(run).checkpoint_steps())
    (RunDir(run).checkpoint_dir(last) / GENERATION_RECORD).unlink()
    assert main(["eval", str(RunDir(run).checkpoint_dir(last)), "--out", str(tmp_path / "eval"),
                 "--step", str(last)]) == 0
    assert samples(tmp_path / "eval", last) == samples(run, last)
