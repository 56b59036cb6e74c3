"""RLTrainer: every preset runs, learns a reward, survives bad rewards, and resumes exactly after SIGKILL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rlvr_bench.algorithms import preset_names
from rlvr_bench.trainers.rl import RLTrainer, resolve_algorithm
from tests.trainers.rl_helpers import starts_with_digit, tiny_rl_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_runs_and_logs(tiny_model_dir, tmp_path, preset):
    cfg = tiny_rl_config(tiny_model_dir, tmp_path / preset, preset, trainer={"steps": 2})
    run = RLTrainer(cfg, reward_fn=starts_with_digit).train()
    rows = run.metrics()
    assert [r["step"] for r in rows] == [1, 2]
    last = rows[-1]
    assert run.checkpoint_steps() == [2] and run.is_complete()
    algo = json.loads((run.path / "algorithm.json").read_text())
    assert algo["preset"] == preset
    for key in ("reward/mean", "compute/samples", "compute/gen_tokens", "compute/wall_seconds"):
        assert key in last, key
    if last.get("dapo/kept_groups", 1) == 0:
        assert last["dapo/rounds"] == 3  # DAPO kept no group (random model): resampled, then no update
        return
    for key in ("actor/pg_loss", "actor/entropy", "response/length_mean", "compute/backward_tokens"):
        assert key in last, key
    if algo["policy_loss"] not in ("gpg", "kl_cov"):  # no ratio clip (gpg), a penalty instead (kl_cov)
        assert "actor/pg_clipfrac" in last
    if preset == "remax":
        assert last["remax/greedy_samples"] == 4  # one greedy decode per prompt
    if preset == "ppo":
        assert "critic/vf_loss" in last and (run.checkpoint_dir(2) / "critic").is_dir()


def test_resolve_algorithm_applies_overrides(tiny_model_dir, tmp_path):
    cfg = tiny_rl_config(tiny_model_dir, tmp_path, "dapo", algorithm={"clip_ratio_high": 0.3})
    algo = resolve_algorithm(cfg)
    assert algo.clip_ratio_high == 0.3 and algo.dynamic_sampling and algo.loss_agg_mode == "token-mean"
    assert algo.overlong_buffer_len == 2  # max_new_tokens // 4
    assert algo.policy_loss == "vanilla" and algo.as_dict()["clip_ratio_high"] == 0.3


def test_grpo_learns_a_simple_reward(tiny_model_dir, tmp_path):
    cfg = tiny_rl_config(tiny_model_dir, tmp_path, "grpo", trainer={"steps": 25, "prompts_per_step": 8,
                                                                    "learning_rate": 3e-3},
                         algorithm={"mini_batches": 1, "use_kl_loss": False})
    rows = RLTrainer(cfg, reward_fn=starts_with_digit).train().metrics()
    first = sum(r["reward/mean"] for r in rows[:5]) / 5
    last = sum(r["reward/mean"] for r in rows[-5:]) / 5
    assert last > first + 0.2, (first, last)


def test_raising_or_nan_reward_scores_zero_and_continues(tiny_model_dir, tmp_path):
    calls = {"n": 0}

    def flaky(texts, answers):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("reward server down")
        return [float("nan")] * len(texts)

    run = RLTrainer(tiny_rl_config(tiny_model_dir, tmp_path, "grpo", trainer={"steps": 2}), reward_fn=flaky).train()
    rows = run.metrics()
    assert len(rows) == 2 and all(r["reward/mean"] == 0.0 for r in rows)
    assert all(r["adv/max"] == 0.0 and r["adv/min"] == 0.0 for r in rows)  # all-equal groups: zero advantage


def test_dapo_drops_all_equal_groups_and_counts_extra_samples(tiny_model_dir, tmp_path):
    cfg = tiny_rl_config(tiny_model_dir, tmp_path, "dapo", trainer={"steps": 1},
                         algorithm={"max_resample_rounds": 2})
    rows = RLTrainer(cfg, reward_fn=lambda t, a: [0.0] * len(t)).train().metrics()
    row = rows[0]
    assert row["dapo/kept_groups"] == 0 and row["dapo/rounds"] == 2
    assert row["compute/samples"] == 3 * 4 * 4  # three rounds of 4 prompts x 4 samples, all counted


RESUME_SCRIPT = """
import sys
from tests.trainers.rl_helpers import tiny_rl_config, starts_with_digit
from rlvr_bench.trainers.rl import RLTrainer
cfg = tiny_rl_config(sys.argv[1], sys.argv[2], "grpo", trainer={"steps": 6, "save_every": 2},
                     algorithm={"mini_batches": 2})
RLTrainer(cfg, reward_fn=starts_with_digit).train()
"""


def _train(model_dir, out, kill_after=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RLVR_BENCH_KILL_AFTER_STEP", None)
    if kill_after is not None:
        env["RLVR_BENCH_KILL_AFTER_STEP"] = str(kill_after)
    return subprocess.run([sys.executable, "-c", RESUME_SCRIPT, str(model_dir), str(out)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def _comparable(rows):
    return [{k: v for k, v in r.items() if not k.startswith("compute/wall")} for r in rows]


def test_sigkill_and_resume_equals_uninterrupted(tiny_model_dir, tmp_path):
    from rlvr_bench.utils.rundir import RunDir

    full, killed = tmp_path / "full", tmp_path / "killed"
    assert _train(tiny_model_dir, full).returncode == 0
    proc = _train(tiny_model_dir, killed, kill_after=5)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert RunDir(killed).checkpoint_steps() == [2, 4] and not RunDir(killed).is_complete()
    proc = _train(tiny_model_dir, killed)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = RunDir(full), RunDir(killed)
    assert _comparable(a.metrics()) == _comparable(b.metrics())
    from safetensors.torch import load_file

    wa = load_file(str(a.checkpoint_dir(6) / "model.safetensors"))
    wb = load_file(str(b.checkpoint_dir(6) / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.slow
def test_two_process_ddp_on_gloo(tiny_model_dir, tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(
        "import sys\n"
        "from tests.trainers.rl_helpers import tiny_rl_config, starts_with_digit\n"
        "from rlvr_bench.trainers.rl import RLTrainer\n"
        f"cfg = tiny_rl_config({str(tiny_model_dir)!r}, {str(tmp_path / 'run')!r}, 'grpo', trainer={{'steps': 2}})\n"
        "RLTrainer(cfg, reward_fn=starts_with_digit).train()\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(script)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert rows[0]["dist/world_size"] == 2  # really two processes (gloo), not one
    # each process sampled its own 4 prompts x 4 (the main process logs its own count)
    assert rows[0]["compute/samples"] == 16
