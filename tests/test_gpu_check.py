"""bench/gpu_check.sh: the dry run prints the plan (both engines, the 5 GRPO steps) and runs nothing; the table
and the numbers it reads (seconds per step, mismatch, pass@1 agreement) against hand-computed values."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path):
    out = tmp_path / "check"
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--dry-run", "--out", str(out)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert 'pip install -e .[vllm]' in text and "--index-url" in text  # CUDA torch, then the extra
    for engine in ("hf", "vllm"):
        assert f"[eval-{engine}]" in text and f"--child-eval {engine}" in text
        assert f"[grpo-{engine}]" in text and f"rollout.backend={engine}" in text
    assert "trainer.steps=5" in text and "Qwen/Qwen2.5-0.5B-Instruct" in text and "[table]" in text
    assert not out.exists()  # nothing ran


def test_numbers_and_table_by_hand(tmp_path):
    gc = _gpu_check()
    rows = [{"step": 0, "data/overlong_prompts_dropped": 0}] + [
        {"step": s, "compute/wall_seconds": w, "rollout_correction/kl": k, "rollout_correction/logp_abs_diff_mean": a}
        for s, w, k, a in ((1, 2.0, 0.1, 0.01), (2, 3.0, 0.3, 0.03), (3, 4.5, 0.2, 0.02), (4, 5.5, 0.2, 0.02))]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = gc.read_grpo(tmp_path)
    assert got["steps"] == 4 and got["first_step_s"] == 2.0 and got["s_per_step"] == 1.0  # median of 1, 1.5, 1
    assert abs(got["mismatch"]["rollout_correction/kl"] - 0.2) < 1e-12
    agree = gc.agreement({"n": 2, "correct": [2, 0]}, {"n": 2, "correct": [1, 1]})
    assert agree["diff"] == 0.0 and abs(agree["se"] - 0.5) < 1e-12 and agree["agree"]  # diffs -0.5, +0.5
    assert not gc.agreement({"n": 4, "correct": [0, 0, 0]}, {"n": 4, "correct": [4, 4, 3]})["agree"]
    results = {"env": {"torch": "2.x", "vllm": None, "cuda": True, "device": "GPU"},
               "eval": {"hf": {"ok": True, "data": {"tokens_per_s": 1234.4, "pass1": 0.25}},
                        "vllm": {"ok": False, "error": "exit 1: boom | bang"}},
               "grpo": {"hf": {"ok": True, "data": got}, "vllm": {"ok": False, "error": "timed out after 9 s"}}}
    table = gc.table(results)
    lines = table.splitlines()
    assert all(line.count("|") == 5 for line in lines), table  # a failure's text never breaks the table
    assert "| eval tokens/s | 1234 | FAILED: exit 1: boom / bang |" in table
    assert "| GRPO s/step | 1 | FAILED: timed out after 9 s |" in table
    assert "hf: kl 0.2, logp_abs_diff_mean 0.02" in table
