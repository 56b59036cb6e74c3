"""evaluate(): run-directory files, summary consistency, idempotence, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlvr_bench.evaluation import evaluate
from rlvr_bench.evaluation.samples import plan_units
from rlvr_bench.utils.rundir import RunDir, read_jsonl

SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from rlvr_bench.evaluation import evaluate
from rlvr_bench.data.toy import toy_dataset
ds = toy_dataset("test").select(range(24))
ds.info.dataset_name = "toy"
evaluate(sys.argv[1], ds, n=4, ks=[1, 2, 4], seeds=[0, 1], run_dir=sys.argv[2], batch_size=8)
"""


def _toy_rows(k: int):
    from rlvr_bench.data.toy import toy_dataset

    ds = toy_dataset("test").select(range(k))
    ds.info.dataset_name = "toy"
    return ds


def test_files_and_summary_match_a_recount(tiny_model, tmp_path):
    model, tok = tiny_model
    res = evaluate(model, _toy_rows(6), tokenizer=tok, n=4, ks=[1, 4], seeds=[0, 1], run_dir=tmp_path,
                   batch_size=8)
    run = RunDir(tmp_path)
    lines = list(read_jsonl(run.samples_path(0, "toy")))
    assert len(lines) == 6 * 4 * 2
    assert {"id", "seed", "sample", "completion", "pred", "correct", "reason", "tokens", "finish_reason"} <= set(lines[0])
    (summary,) = run.summaries()
    assert summary["n"] == 4 and summary["seeds"] == [0, 1] and summary["num_problems"] == 6
    for seed in (0, 1):
        recount = [sum(r["correct"] for r in lines if r["seed"] == seed and r["id"] == pid) for pid in summary["ids"]]
        assert summary["correct"][str(seed)] == recount == res.correct[seed]
    total = sum(r["correct"] for r in lines) / len(lines)
    assert summary["pass_at_k"]["1"] == pytest.approx(total)
    assert summary["decoding"]["temperature"] == 1.0 and summary["template"] == "toy"
    assert (run.samples_path(0, "toy").parent / "toy.meta.json").exists()


def test_second_call_samples_nothing_and_never_duplicates(tiny_model, tmp_path):
    model, tok = tiny_model
    evaluate(model, _toy_rows(4), tokenizer=tok, n=2, ks=[1, 2], run_dir=tmp_path, batch_size=4)
    before = RunDir(tmp_path).samples_path(0, "toy").read_text()
    evaluate(model, _toy_rows(4), tokenizer=tok, n=2, ks=[1, 2], run_dir=tmp_path, batch_size=4)
    run = RunDir(tmp_path)
    assert run.samples_path(0, "toy").read_text() == before
    assert len(run.summaries()) == 1


def test_truncated_completions_are_marked_and_not_correct(tiny_model, tmp_path):
    model, tok = tiny_model
    evaluate(model, _toy_rows(3), tokenizer=tok, n=4, ks=[1], run_dir=tmp_path, batch_size=12,
             decoding=None, step=5)
    lines = list(read_jsonl(RunDir(tmp_path).samples_path(5, "toy")))
    for line in lines:
        if line["finish_reason"] == "length":
            assert line["reason"] == "truncated" and line["correct"] is False


def test_k_larger_than_n_is_an_error(tiny_model):
    model, tok = tiny_model
    with pytest.raises(ValueError):
        evaluate(model, _toy_rows(2), tokenizer=tok, n=2, ks=[1, 4])


def test_units_are_deterministic():
    assert plan_units(10, [0, 1], n=4, batch_size=8)[:3] == plan_units(10, [0, 1], n=4, batch_size=8)[:3]
    units = plan_units(10, [0], n=64, batch_size=8)  # n > batch_size: one problem per unit
    assert len(units) == 10 and all(u.stop - u.start == 1 for u in units)


def _run(model_dir: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(model_dir), str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_resume_after_sigkill_gives_identical_results(tiny_model_dir, tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    proc = _run(tiny_model_dir, full)
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()[-2000:]
    samples = RunDir(killed).samples_path(0, "toy")
    proc = _run(tiny_model_dir, killed)
    deadline = time.time() + 300
    while time.time() < deadline and (not samples.exists() or samples.stat().st_size == 0):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    lines_at_kill = samples.read_text().count("\n")
    assert 0 < lines_at_kill < 24 * 4 * 2, "the kill should land mid-evaluation"
    proc = _run(tiny_model_dir, killed)
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()[-2000:]
    a = RunDir(full).samples_path(0, "toy").read_text().splitlines()
    b = samples.read_text().splitlines()
    assert len(b) == len(set(b)) == 24 * 4 * 2
    assert sorted(a) == sorted(b)
    sa, sb = RunDir(full).summaries()[0], RunDir(killed).summaries()[0]
    assert sa["correct"] == sb["correct"] and sa["pass_at_k"] == sb["pass_at_k"]
    assert json.loads(b[0])["id"] == sa["ids"][0]


def test_intermediate_checkpoints_get_the_lighter_n(tiny_model, tmp_path):
    """``intermediate_n`` between the ends; step 0 and the final step get the full n and every k."""
    from rlvr_bench.evaluation.callback import PassAtKCallback

    model, tok = tiny_model
    cb = PassAtKCallback(tmp_path, [_toy_rows(3)], n=8, ks=[1, 2, 4, 8], intermediate_n=2, final_step=10,
                         batch_size=16)
    for step in (0, 5, 10):
        cb(model, tok, step)
    got = {s["step"]: (s["n"], sorted(int(k) for k in s["pass_at_k"])) for s in RunDir(tmp_path).summaries()}
    assert got == {0: (8, [1, 2, 4, 8]), 5: (2, [1, 2]), 10: (8, [1, 2, 4, 8])}
    assert PassAtKCallback(tmp_path, [], n=8, intermediate_n=2)._settings(5)["n"] == 8  # no final step known
