"""Shared helpers of the verl backend tests: exporting the toy recipe on the tiny model."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOY_RECIPE = REPO / "recipes" / "verl" / "toy-grpo.yaml"
REAL_RECIPE = REPO / "recipes" / "verl" / "qwen2.5-7b-omni-math-grpo.yaml"
PRESETS = ("grpo", "dr_grpo", "dapo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "remax", "ppo")
METHODS_VERL = {"gspo": ("gspo", "grpo"), "cispo": ("cispo", "grpo"), "geo_mean": ("geo_mean", "grpo"),
                "clip_cov": ("clip_cov", "grpo"), "kl_cov": ("kl_cov", "grpo"), "sapo": ("sapo", "grpo"),
                "grpo_passk": ("vanilla", "grpo_passk"), "opo": ("vanilla", "opo"), "gpg": ("gpg", "gpg")}
"""The issue-19 presets verl 0.9.1 has: preset -> (verl's policy_loss.loss_mode, verl's adv_estimator)."""
METHODS_NOT_IN_VERL = {"passk": "algorithm.adv_estimator='passk'", "pkpo": "algorithm.adv_estimator='pkpo'",
                       "top_entropy": "algorithm.entropy_top_ratio=0.2",
                       "adaptive_entropy": "algorithm.entropy_target=0.2",
                       "prorl": "algorithm.reference_reset_every=200"}
"""The issue-19 presets verl 0.9.1 lacks: preset -> the start of the one problem the export reports."""


def toy_overrides(model_dir: Path, preset: str = "grpo", *extra: str) -> list[str]:
    """Overrides that make the toy recipe fast: the tiny random model, 64 prompts, 16 test problems."""
    return [f"model.name_or_path={model_dir}", f"algorithm.preset={preset}", "data.limit=64",
            "evaluation.limit=16", *extra]


def export_toy(model_dir: Path, out: Path, preset: str = "grpo", *extra: str):
    """``export_recipe`` of the toy recipe into ``out``."""
    from rlvr_bench.backends.verl.export import export_recipe

    return export_recipe(TOY_RECIPE, toy_overrides(model_dir, preset, *extra), out)


def export_real(tmp_path: Path, monkeypatch, *extra: str):
    """Export the real recipe with small offline copies of its data (no hub here): 300 train, 10 MATH-500."""
    import json

    import pytest

    from rlvr_bench.backends.verl.export import export_recipe
    from rlvr_bench.data.templates import get_template

    try:
        get_template("qwen_boxed").messages("x")
    except IndexError:
        pytest.xfail("rlvr_bench/data/templates.py: '\\boxed{}' in a str.format pattern (needs '{{}}')")
    train, bench = tmp_path / "omni.jsonl", tmp_path / "data" / "math500.jsonl"
    bench.parent.mkdir(parents=True)
    train.write_text("".join(json.dumps({"problem": f"Compute {i}+{i}.", "answer": str(2 * i)}) + "\n"
                             for i in range(300)))
    bench.write_text("".join(json.dumps({"id": f"math500/{i}", "problem": f"{i}*3?", "answer": str(3 * i)}) + "\n"
                             for i in range(10)))
    monkeypatch.setenv("RLVR_BENCH_DATA_DIR", str(bench.parent))
    return export_recipe(REAL_RECIPE, [f"data.source={train}", *extra], tmp_path / "out")


def verl_python() -> str | None:
    """The verl environment's interpreter (``make verl-env``), or None."""
    env = os.environ.get("RLVR_BENCH_VERL_PYTHON")
    if env:
        return env
    candidate = REPO / ".venv-verl" / "bin" / "python"
    return str(candidate) if candidate.is_file() else None


def requires_verl():
    """The skip marker of the tests that run in the verl environment (absent: skipped, saying why)."""
    import pytest

    return pytest.mark.skipif(
        verl_python() is None,
        reason="verl parity needs verl 0.9.1 in a separate environment: `make verl-env` creates .venv-verl "
               "(or set RLVR_BENCH_VERL_PYTHON); not built here",
    )


def run_verl_script(script: Path, *args: str, timeout: float = 600) -> dict:
    """Run a check script in the verl environment (skipping the test when there is none); its last stdout
    line, parsed as JSON."""
    import json

    import pytest

    python = verl_python()
    if python is None:
        pytest.skip(f"no verl environment: {REPO / '.venv-verl' / 'bin' / 'python'} does not exist (make verl-env)")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([python, str(script), *args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=REPO)
    if done.returncode != 0:
        raise AssertionError(f"{script.name} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_verl_env(python: str, *args: str, timeout: float = 900) -> str:
    """Run ``tests/backends/verl_env_checks.py`` in the verl environment; its last stdout line."""
    script = Path(__file__).with_name("verl_env_checks.py")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([python, str(script), *args], capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0:
        raise AssertionError(f"verl_env_checks {args[0]} failed:\n{done.stderr[-4000:]}")
    return done.stdout.strip().splitlines()[-1]
