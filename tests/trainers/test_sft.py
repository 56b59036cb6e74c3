"""SFT and RFT on TRL: traces in, run directory out, measured learning, one-line errors, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr_bench.config import config_from_dict
from rlvr_bench.trainers.sft import RFTTrainer, SFTTrainer
from rlvr_bench.trainers.sft_data import TracesError, load_traces_file, to_sft_dataset
from rlvr_bench.trainers.sft_sampling import sample_traces
from tests.trainers.rl_helpers import starts_with_digit

ROOT = Path(__file__).resolve().parents[2]


def tiny_cfg(model_dir: Path, out: Path, method: str = "sft", **sections) -> object:
    """A few-step recipe on the tiny random toy model (evaluation off, no trackers)."""
    raw = {
        "method": method,
        "seed": 0,
        "output_dir": str(out),
        "model": {"name_or_path": str(model_dir)},
        "data": {"source": "toy", "template": "toy", "limit": 64},
        "trainer": {"steps": 6, "batch_size": 16, "micro_batch_size": 8, "learning_rate": 3e-3},
        "rollout": {"n": 2, "max_new_tokens": 8},
        "evaluation": {"enabled": False},
        "logging": {"trackers": [], "progress": False},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return config_from_dict(raw)


DIGITS = [str(d) for d in range(10)]  # stop strings: a random model's completion ends at its first digit


def _losses(rows: list[dict]) -> list[float]:
    return [r["train/loss"] for r in rows if "train/loss" in r]


# ---------------------------------------------------------------------------------------------- data


def test_traces_file_without_solution_column_is_one_line(tmp_path):
    path = tmp_path / "traces.jsonl"
    path.write_text(json.dumps({"problem": "1+1=?", "answer": "2"}) + "\n")
    with pytest.raises(TracesError) as err:
        load_traces_file(path)
    msg = str(err.value)
    assert "\n" not in msg and "'solution'" in msg and "problem, answer" in msg


def test_traces_file_missing_or_unsupported(tmp_path):
    with pytest.raises(TracesError, match="does not exist"):
        load_traces_file(tmp_path / "nope.jsonl")
    bad = tmp_path / "traces.txt"
    bad.write_text("x")
    with pytest.raises(TracesError, match="unsupported suffix"):
        load_traces_file(bad)


def test_traces_file_columns_mapping_and_blank_rows(tmp_path):
    path = tmp_path / "traces.jsonl"
    rows = [{"q": "1+1=?", "trace": "1+1=2 \\boxed{2}"}, {"q": "2+2=?", "trace": "  "}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = load_traces_file(path, problem_column="q", solution_column="trace")
    assert ds.column_names == ["problem", "solution"] and len(ds) == 1  # the blank trace is dropped
    pc = tmp_path / "pc.jsonl"
    pc.write_text(json.dumps({"prompt": "Q:1+1=?A:", "completion": "2"}) + "\n")
    assert load_traces_file(pc)[0] == {"prompt": "Q:1+1=?A:", "completion": "2"}


def test_sft_dataset_renders_the_evaluation_prompt():
    ds = to_sft_dataset([{"problem": "25+11+1=?", "solution": "25+11=36,36+1=37 \\boxed{37}"}], "toy", None)
    assert ds[0] == {"prompt": "Q:25+11+1=?A:", "completion": "25+11=36,36+1=37 \\boxed{37}"}


def test_sample_traces_keeps_verified_distinct_completions(tiny_model):
    from rlvr_bench.evaluation.scoring import make_scorer
    from rlvr_bench.rollout import Decoding, build_engine

    model, tok = tiny_model
    engine = build_engine("hf", model, tok, batch_size=64)
    rows = [{"id": f"p{i}", "problem": f"{i}+1=?", "answer": str(i + 1)} for i in range(8)]
    kept, stats = sample_traces(engine, rows, n=16, decoding=Decoding(max_new_tokens=4, stop=tuple(DIGITS)),
                                render=lambda p: p, scorer=make_scorer(custom=starts_with_digit), seed=0,
                                chunk_prompts=3)
    assert stats.samples == 8 * 16 and stats.prompts == 8
    assert 0 < stats.kept <= stats.correct, stats  # a random model starts with a digit now and then
    assert all(r["correct"] and r["solution"].isdigit() for r in kept)
    pairs = [(r["id"], r["solution"]) for r in kept]
    assert len(set(pairs)) == len(pairs)  # deduplicated per problem


# ---------------------------------------------------------------------------------------------- SFT


def test_sft_trains_writes_the_run_dir_and_skips_when_complete(tiny_model_dir, tmp_path):
    cfg = tiny_cfg(tiny_model_dir, tmp_path / "sft", trainer={"steps": 8, "save_every": 4})
    run = SFTTrainer(cfg).train()
    rows = run.metrics()
    losses = _losses(rows)
    assert len(losses) == 8 and losses[-1] < losses[0] - 0.5, losses  # gold traces are learnable
    assert run.checkpoint_steps() == [4, 8] and run.is_complete()
    ckpt = run.checkpoint_dir(8)
    assert (ckpt / "config.json").exists() and (ckpt / "tokenizer.json").exists()
    assert not (ckpt / "optimizer.pt").exists()  # resume state stays in trl/
    last = [r for r in rows if "train/loss" in r][-1]
    assert last["compute/backward_tokens"] > 8 * 16 * 10 and last["compute/samples"] == 0
    assert (run.path / "config.yaml").exists() and (run.path / "env.json").exists()
    from rlvr_bench.models.loading import load_policy

    load_policy(ckpt)  # loadable HF checkpoint
    SFTTrainer(cfg).train()  # complete: nothing to do
    assert run.metrics() == rows


def test_sft_resumes_from_its_last_checkpoint(tiny_model_dir, tmp_path):
    out = tmp_path / "sft"
    SFTTrainer(tiny_cfg(tiny_model_dir, out, trainer={"steps": 3})).train()
    (out / "complete.json").unlink()  # as if killed after the step-3 checkpoint of a longer run
    run = SFTTrainer(tiny_cfg(tiny_model_dir, out, trainer={"steps": 6, "save_every": 3})).train()
    steps = [r["step"] for r in run.metrics() if "train/loss" in r]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert run.checkpoint_steps() == [3, 6] and run.is_complete()


def test_sft_killed_during_its_last_evaluation_finishes_it(tiny_model_dir, tmp_path):
    import shutil

    out = tmp_path / "sft"
    ev = {"enabled": True, "benchmarks": ["toy"], "n": 2, "ks": [1, 2], "limit": 3, "max_new_tokens": 4,
          "at_start": False}
    cfg = tiny_cfg(tiny_model_dir, out, trainer={"steps": 2}, evaluation=ev)
    run = SFTTrainer(cfg).train()
    assert [s["step"] for s in run.summaries()] == [2]
    samples = (out / "eval" / "step-2" / "toy.samples.jsonl").read_text()
    # as if killed after TRL saved checkpoint-2 but before the copy and the evaluation
    (out / "complete.json").unlink()
    shutil.rmtree(out / "eval")
    shutil.rmtree(run.checkpoint_dir(2))
    SFTTrainer(cfg).train()
    assert run.checkpoint_steps() == [2] and [s["step"] for s in run.summaries()] == [2] and run.is_complete()
    assert (out / "eval" / "step-2" / "toy.samples.jsonl").read_text() == samples  # the trained weights, evaluated
    assert [r["step"] for r in run.metrics() if "train/loss" in r] == [1, 2]


def test_sft_packing_and_lora_run(tiny_model_dir, tmp_path):
    cfg = tiny_cfg(tiny_model_dir, tmp_path / "lora", trainer={"steps": 3}, sft={"packing": True, "max_length": 64},
                   model={"lora": {"enabled": True, "r": 4, "alpha": 8}})
    run = SFTTrainer(cfg).train()
    ckpt = run.checkpoint_dir(3)
    assert (ckpt / "adapter_config.json").exists() and run.checkpoint_steps() == [3]
    assert len(_losses(run.metrics())) == 3
    from rlvr_bench.models.loading import load_policy

    load_policy(ckpt)  # the adapter loads on its base


def test_sft_from_a_traces_file(tiny_model_dir, tmp_path):
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(json.dumps({"problem": f"{i}+1=?", "solution": f"{i}+1={i + 1} \\boxed{{{i + 1}}}"}) + "\n"
                            for i in range(40)))
    cfg = tiny_cfg(tiny_model_dir, tmp_path / "file", trainer={"steps": 2}, sft={"traces_file": str(path)})
    trainer = SFTTrainer(cfg)
    trainer.train()
    assert trainer.info["train_examples"] == 40


def test_cli_prints_a_bad_traces_file_as_one_line(tiny_model_dir, tmp_path, capsys):
    from rlvr_bench.cli import main

    path = tmp_path / "traces.jsonl"
    path.write_text(json.dumps({"question": "1+1=?", "solution": "2"}) + "\n")
    recipe = tmp_path / "sft.yaml"
    recipe.write_text(f"method: sft\nmodel: {{name_or_path: {tiny_model_dir}}}\ndata: {{source: toy, template: toy}}\n"
                      f"sft: {{traces_file: {path}}}\nevaluation: {{enabled: false}}\nlogging: {{trackers: []}}\n"
                      f"output_dir: {tmp_path / 'run'}\n")
    assert main(["train", str(recipe)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "no column 'problem'" in lines[0] and "question, solution" in lines[0]


# ---------------------------------------------------------------------------------------------- RFT


def test_rft_samples_filters_and_trains_on_its_own_successes(tiny_model_dir, tmp_path):
    cfg = tiny_cfg(tiny_model_dir, tmp_path / "rft", "rft", trainer={"steps": 4},
                   sft={"rft_samples_per_prompt": 8, "rft_max_prompts": 32},
                   rollout={"max_new_tokens": 4, "stop": DIGITS})
    trainer = RFTTrainer(cfg, reward_fn=starts_with_digit)
    run = trainer.train()
    traces = [json.loads(line) for line in (run.path / "traces" / "rft.jsonl").read_text().splitlines()]
    stats = trainer.info["sampling"]
    assert stats["samples"] == 32 * 8 and len(traces) == stats["kept"] > 0
    assert all(t["solution"].isdigit() for t in traces)  # verified: it starts with (and stops at) a digit
    last = [r for r in run.metrics() if "train/loss" in r][-1]
    assert last["compute/samples"] == 256 and last["compute/gen_tokens"] == stats["tokens"]
    # restarting an unfinished run reuses the sampled traces instead of sampling again
    (run.path / "complete.json").unlink()
    again = RFTTrainer(tiny_cfg(tiny_model_dir, tmp_path / "rft", "rft", trainer={"steps": 5},
                                sft={"rft_samples_per_prompt": 8, "rft_max_prompts": 32},
                                rollout={"max_new_tokens": 4, "stop": DIGITS}), reward_fn=starts_with_digit)
    again.train()
    assert again.info["sampling"] == stats and again.info["train_examples"] == len(traces)


def test_rft_without_any_success_says_so(tiny_model_dir, tmp_path):
    cfg = tiny_cfg(tiny_model_dir, tmp_path / "rft", "rft", sft={"rft_samples_per_prompt": 2, "rft_max_prompts": 4})
    with pytest.raises(TracesError, match="no verified trace among 8 samples of 4 prompts"):
        RFTTrainer(cfg, reward_fn=lambda t, a: [0.0] * len(t)).train()


# ---------------------------------------------------------------------------------------------- toy base


def _toy_eval(limit: int | None = None, n: int = 8) -> dict:
    """All 200 toy test problems (the split is ordered by family: a head would hold no muladd), n samples."""
    return {"enabled": True, "benchmarks": ["toy"], "n": n, "ks": [1, n], "limit": limit, "max_new_tokens": 40,
            "at_start": True}


def _pass1(run) -> dict[int, float]:
    return {s["step"]: s["pass_at_k"]["1"] for s in run.summaries()}


@pytest.mark.slow
def test_sft_on_gold_traces_raises_toy_pass_at_1(tmp_path):
    cfg = tiny_cfg("toy:base", tmp_path / "sft", trainer={"steps": 40, "batch_size": 64, "micro_batch_size": 64,
                                                          "learning_rate": 1e-3},
                   data={"limit": None}, evaluation=_toy_eval())
    run = SFTTrainer(cfg).train()
    p1 = _pass1(run)
    assert p1[40] > p1[0] + 0.05, p1


@pytest.mark.slow
def test_rft_raises_toy_pass_at_1(tmp_path):
    cfg = tiny_cfg("toy:base", tmp_path / "rft", "rft",
                   trainer={"steps": 30, "batch_size": 64, "micro_batch_size": 64, "learning_rate": 5e-4},
                   data={"limit": None}, rollout={"n": 8, "max_new_tokens": 40},
                   sft={"rft_samples_per_prompt": 4, "rft_max_prompts": 400}, evaluation=_toy_eval())
    trainer = RFTTrainer(cfg)
    run = trainer.train()
    from rlvr_bench.rewards import get_reward

    traces = [json.loads(line) for line in (run.path / "traces" / "rft.jsonl").read_text().splitlines()]
    assert traces and all(get_reward("auto")(t["solution"], t["answer"]) == 1.0 for t in traces)  # math + code
    p1 = _pass1(run)
    assert p1[30] > p1[0] + 0.03, p1


# ---------------------------------------------------------------------------------------------- chat templates

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.fixture(scope="module")
def chat_model_dir(tmp_path_factory):
    """The tiny toy model with ChatML special tokens and a chat template (like a Qwen base model)."""
    from rlvr_bench.models.toy import build_toy_model, build_toy_tokenizer, save_toy

    tok = build_toy_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHAT_TEMPLATE
    model = build_toy_model(seed=0, tokenizer=tok)
    model.resize_token_embeddings(len(tok))
    path = tmp_path_factory.mktemp("chat")
    save_toy(model, tok, path)
    return path


def test_chat_end_token_is_found_from_the_template(chat_model_dir):
    from rlvr_bench.models.loading import load_tokenizer
    from rlvr_bench.trainers.sft_data import chat_end_token

    assert chat_end_token(load_tokenizer(chat_model_dir)) == "<|im_end|>"
    from rlvr_bench.models.toy import build_toy_tokenizer

    assert chat_end_token(build_toy_tokenizer()) is None  # no chat template


def test_sft_with_a_chat_template_trains_the_turn_end_and_stops_there(chat_model_dir, tmp_path):
    from rlvr_bench.models.loading import load_tokenizer

    cfg = tiny_cfg(chat_model_dir, tmp_path / "chat", trainer={"steps": 2}, data={"template": "code_chat"})
    trainer = SFTTrainer(cfg)
    run = trainer.train()
    im_end = load_tokenizer(chat_model_dir).convert_tokens_to_ids("<|im_end|>")
    row = trainer.trainer.train_dataset[0]
    completion = [t for t, lab in zip(row["input_ids"], row["labels"]) if lab != -100]
    assert im_end in completion  # the assistant turn's end is trained
    gen = json.loads((run.checkpoint_dir(2) / "generation_config.json").read_text())
    assert im_end in gen["eos_token_id"]  # and sampling stops there
