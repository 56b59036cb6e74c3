"""Study runs forked from the fork server (heavy imports done once): exit codes, logs and environments reach
the study as they did from a subprocess."""

from __future__ import annotations

import json
import os
import sys
import time

from rlvr_bench.study.launch import _Forked, start_run

CLI = [sys.executable, "-m", "rlvr_bench.cli"]
TINY = ["toy.model.hidden_size=32", "toy.model.num_hidden_layers=1", "toy.model.intermediate_size=64",
        "toy.model.num_attention_heads=2", "toy.model.num_key_value_heads=2", "toy.base.train.steps=3",
        "toy.base.train.batch_size=8", "toy.base.train.warmup_steps=1", "logging.progress=false"]


def _wait(proc, limit: float = 300.0) -> int:
    end = time.monotonic() + limit
    while proc.poll() is None:
        assert time.monotonic() < end, "the run did not end"
        time.sleep(0.1)
    return proc.poll()


def test_a_forked_run_gets_its_environment_log_and_exit_code(tmp_path):
    env = {**os.environ, "RLVR_BENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    log = tmp_path / "ok.log"
    log.write_text("before\n")
    proc = start_run([*CLI, "train", "--prepare-only", "toy/base.yaml", *TINY], log, env)
    assert isinstance(proc, _Forked)  # Linux has a fork server
    assert _wait(proc) == 0
    built = list((tmp_path / "cache" / "toy").glob("base-*/build.json"))  # the child saw the run's variable
    assert len(built) == 1 and json.loads(built[0].read_text())["steps"] == 3
    text = log.read_text()
    assert text.startswith("before\n") and "prepared: toy:base" in text  # appended, not truncated

    for threads in ("1", "2"):  # the run's own thread count, not the server's
        record = tmp_path / f"env{threads}.log"
        assert _wait(start_run([*CLI, "env"], record, {**env, "OMP_NUM_THREADS": threads})) == 0
        assert f'"torch_threads": {threads}' in record.read_text()

    bad = tmp_path / "bad.log"
    assert _wait(start_run([*CLI, "train", "toy/grpo.yaml", "trainr.steps=1"], bad, env)) == 2
    assert "did you mean 'trainer'" in bad.read_text()


def test_another_command_starts_as_a_subprocess(tmp_path):
    log = tmp_path / "x.log"
    proc = start_run([sys.executable, "-c", "import os, sys; print(os.environ['X_RUN']); sys.exit(3)"], log,
                     {**os.environ, "X_RUN": "seen"})
    assert not isinstance(proc, _Forked) and _wait(proc) == 3 and log.read_text().strip() == "seen"


def test_a_script_without_a_main_guard_read_from_stdin_starts_forked_runs(tmp_path):
    """The child never re-imports the caller's ``__main__`` (a stdin script cannot be, an unguarded one would
    start its runs again)."""
    import subprocess

    log = tmp_path / "run.log"
    script = ("import os, sys, time\nfrom rlvr_bench.study.launch import _Forked, start_run\n"
              f"p = start_run([sys.executable, '-m', 'rlvr_bench.cli', 'train', '--prepare-only', 'toy/grpo.yaml'], "
              f"{str(log)!r}, dict(os.environ))\n"
              "while p.poll() is None: time.sleep(0.05)\nprint(isinstance(p, _Forked), p.poll())\n")
    out = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["True", "0"], out.stderr[-2000:]
    assert log.read_text().count("nothing to prepare for method 'rl'") == 1
