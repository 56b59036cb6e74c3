"""Prompts the model cannot read whole: dropped with a count (training), or one error line; scored 0 (eval)."""

from __future__ import annotations

import json

import pytest

from rlvr_bench.data.limits import OverlongPromptError, context_length, filter_overlong, prompt_token_limit
from tests.trainers.rl_helpers import starts_with_digit, tiny_rl_config


class _Config:
    max_position_embeddings = 256


def test_limit_defaults_to_context_minus_response():
    assert context_length(_Config()) == 256
    assert prompt_token_limit(None, _Config(), 48) == 208
    assert prompt_token_limit(100, _Config(), 48) == 100
    assert prompt_token_limit(None, object(), 48) is None


def test_filter_drops_or_names_the_row_and_never_tokenizes_a_megabyte():
    from rlvr_bench.models.toy import build_toy_tokenizer

    tok = build_toy_tokenizer()
    calls = []
    original = tok.__class__.__call__

    def counting(self, text, *a, **k):
        calls.append(len(text))
        return original(self, text, *a, **k)

    huge = "1+" * 500_000  # a 1 MB problem
    tok.__class__.__call__ = counting
    try:
        out = filter_overlong(["1+1=?", huge, "2+2=?"], tok, 20, names=["a", "b", "c"])
    finally:
        tok.__class__.__call__ = original
    assert out.kept == [0, 2] and out.dropped == [1]
    assert max(calls) < 100  # the megabyte was rejected by its length in characters, not tokenized
    with pytest.raises(OverlongPromptError, match=r"training prompt b is longer than data.max_prompt_tokens = 20"):
        filter_overlong(["1+1=?", huge], tok, 20, mode="error", names=["a", "b"], what="training prompt")


def _bench_with_a_huge_problem(tmp_path):
    from rlvr_bench.data.toy import toy_dataset

    rows = [{"id": r["id"], "problem": r["problem"], "answer": r["answer"]} for r in toy_dataset("test")][:3]
    rows.append({"id": "huge", "problem": "1+" * 500_000 + "1=?", "answer": "500001"})
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, rows


def test_rl_drops_overlong_training_prompts_with_a_metrics_line(tiny_model_dir, tmp_path):
    from rlvr_bench.trainers.rl import RLTrainer

    path, rows = _bench_with_a_huge_problem(tmp_path)
    cfg = tiny_rl_config(tiny_model_dir, tmp_path / "run", data={"source": str(path), "limit": None},
                         trainer={"steps": 1})
    trainer = RLTrainer(cfg, reward_fn=starts_with_digit)
    assert "huge" not in list(trainer.dataset["id"]) and len(trainer.dataset) == 3
    run = trainer.train()
    first = run.metrics()[0]
    assert first["step"] == 0 and first["data/overlong_prompts_dropped"] == 1.0


def test_rl_overlong_error_mode_is_one_line(tiny_model_dir, tmp_path, capsys):
    from rlvr_bench.cli import main

    path, _ = _bench_with_a_huge_problem(tmp_path)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"method: rl\nmodel: {{name_or_path: {tiny_model_dir}}}\n"
                      f"data: {{source: {path}, template: toy, overlong_prompts: error}}\n"
                      f"evaluation: {{enabled: false}}\nlogging: {{trackers: []}}\noutput_dir: {tmp_path / 'o'}\n")
    assert main(["train", str(recipe)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert "training prompt huge is longer than data.max_prompt_tokens" in lines[0]
    assert not (tmp_path / "o" / "checkpoints").exists()  # failed before the model was loaded or anything ran


def test_evaluation_scores_an_overlong_problem_zero_and_says_why(tiny_model, tmp_path):
    from rlvr_bench.evaluation import evaluate
    from rlvr_bench.rollout import Decoding

    model, tok = tiny_model
    path, _ = _bench_with_a_huge_problem(tmp_path)
    res = evaluate(model, str(path), tokenizer=tok, n=2, ks=[1, 2], decoding=Decoding(max_new_tokens=4),
                   template="toy", run_dir=tmp_path / "ev", reward="math")
    assert res.summary["overlong_prompts"] == ["huge"]
    lines = [json.loads(x) for x in (tmp_path / "ev" / "eval" / "step-0" / "bench.samples.jsonl").read_text().splitlines()]
    huge = [x for x in lines if x["id"] == "huge"]
    assert len(huge) == 2 and all(x["reason"] == "prompt_too_long" and not x["correct"] for x in huge)
    others = [x for x in lines if x["id"] != "huge"]
    assert all(len(x["prompt_sha256"]) == 16 for x in lines) and len({x["prompt_sha256"] for x in others}) == 3
    meta = json.loads((tmp_path / "ev" / "eval" / "step-0" / "bench.meta.json").read_text())
    assert meta["template_text"] == "Q:{problem}A:" and len(meta["template_sha256"]) == 64
    assert meta["reward_resolved"] == {"name": "math", "resolved": "math"}


def test_a_full_disk_during_a_checkpoint_leaves_nothing_half_written(tiny_model_dir, tmp_path, monkeypatch, capsys):
    """ENOSPC while saving step-N: one error line naming the checkpoint, no step-N and no step-N.tmp left."""
    import errno

    import torch

    from rlvr_bench.cli import main

    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"method: rl\nmodel: {{name_or_path: {tiny_model_dir}}}\n"
                      "data: {source: toy, template: toy, limit: 16}\ntrainer: {steps: 1, prompts_per_step: 2}\n"
                      "rollout: {n: 2, max_new_tokens: 4}\n"
                      f"evaluation: {{enabled: false}}\nlogging: {{trackers: []}}\noutput_dir: {tmp_path / 'o'}\n")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    assert main(["train", str(recipe)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert "step-1" in lines[0] and "No space left on device" in lines[0]
    ckpts = tmp_path / "o" / "checkpoints"
    assert not ckpts.exists() or not any(ckpts.iterdir())
