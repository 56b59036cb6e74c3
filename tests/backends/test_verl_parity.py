"""Parity with verl 0.9.1 itself, on CPU, in the separate verl environment (``make verl-env``).

What no other test checks: the exported overrides compose with verl's own Hydra config (strict) and pass
verl's ``validate_config``; for every preset (the classic ones and the boundary methods verl has, whose
loss mode, estimator and knobs reach verl through the export), rlvr_bench's advantages and total policy loss (with its
gradient) equal verl's ``core_algos`` on the same random inputs to 1e-5, with verl configured by the
composed export; the reward reaches verl with the local trainer's scores; verl's model merger output is
imported as a run directory. The verl side runs in ``tests/backends/verl_env_checks.py`` through the verl
environment's Python; these tests skip, saying why, when that environment is absent.
"""

from __future__ import annotations

import json
import os
import subprocess

import pyarrow.parquet as pq
import pytest

from tests.backends.helpers import (
    METHODS_VERL,
    PRESETS,
    REPO,
    export_real,
    export_toy,
    requires_verl,
    run_verl_env,
    verl_python,
)

VERL_PYTHON = verl_python()
pytestmark = requires_verl()
TOL = 1e-5


@pytest.fixture(scope="module")
def exports(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("verl_parity")
    return {p: export_toy(tiny_model_dir, root / p, p).out for p in (*PRESETS, *sorted(METHODS_VERL))}


@pytest.fixture(scope="module")
def composed(exports):
    return json.loads(run_verl_env(VERL_PYTHON, "compose", *[str(d) for d in exports.values()]))


@pytest.fixture(scope="module")
def parity(exports):
    return json.loads(run_verl_env(VERL_PYTHON, "parity", *[str(d) for d in exports.values()]))


@pytest.mark.parametrize("preset", PRESETS)
def test_export_composes_strictly_and_validates(composed, exports, preset):
    result = composed[str(exports[preset])]
    assert result["ok"], result
    assert result["n_args"] > 80


def test_real_recipe_composes_and_validates(tmp_path, monkeypatch):
    out = export_real(tmp_path, monkeypatch).out
    result = json.loads(run_verl_env(VERL_PYTHON, "compose", str(out)))[str(out)]
    assert result["ok"], result


def test_unknown_key_is_rejected(exports):
    env = {**os.environ, "PYTHONPATH": str(REPO), "NGPUS_PER_NODE": "8"}
    done = subprocess.run([VERL_PYTHON, "-m", "rlvr_bench.backends.verl.compose", str(exports["grpo"]),
                           "algorithm.adv_estimatr=grpo"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 1
    assert "Could not override 'algorithm.adv_estimatr'" in done.stderr


@pytest.mark.parametrize("preset", PRESETS)
def test_advantages_equal_verl(parity, exports, preset):
    result = parity[str(exports[preset])]
    assert result["adv_diff"] <= TOL and result["ret_diff"] <= TOL, result


@pytest.mark.parametrize("preset", PRESETS)
def test_policy_loss_and_gradient_equal_verl(parity, exports, preset):
    result = parity[str(exports[preset])]
    assert result["loss_scale"] > 1e-3  # a non-trivial loss was compared
    assert result["loss_diff"] <= TOL * max(1.0, result["loss_scale"]), result
    assert result["grad_diff"] <= TOL, result


@pytest.mark.parametrize("preset", sorted(METHODS_VERL))
def test_boundary_methods_compose_and_equal_verl(composed, parity, exports, preset):
    assert composed[str(exports[preset])]["ok"], composed[str(exports[preset])]
    result = parity[str(exports[preset])]
    assert result["adv_diff"] <= TOL and result["ret_diff"] <= TOL, result
    assert result["loss_scale"] > 1e-4  # a non-trivial loss was compared
    assert result["loss_diff"] <= TOL * max(1.0, result["loss_scale"]), result
    assert result["grad_diff"] <= TOL, result


def test_agg_loss_modes_against_verl():
    """Three modes are identical; seq-mean-token-sum-norm differs by verl 0.9.1's extra 1/N_seq (the export
    compensates through loss_scale_factor, which the dr_grpo parity above checks)."""
    result = json.loads(run_verl_env(VERL_PYTHON, "agg"))
    for mode in ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum"):
        assert abs(result[mode]["ours"] - result[mode]["verl"]) <= TOL, (mode, result[mode])
    norm = result["seq-mean-token-sum-norm"]
    assert norm["verl"] == pytest.approx(norm["ours"] / 64.0, rel=1e-6)


def test_hydra_parses_our_quoting(tmp_path):
    from tests.backends.test_verl_export import QUOTING_CASES

    values = [*QUOTING_CASES, "${oc.env:HOME}", "end\\", "q\\'x", "/a b/c.parquet"]
    (tmp_path / "values.json").write_text(json.dumps(values))
    assert json.loads(run_verl_env(VERL_PYTHON, "quoting", str(tmp_path / "values.json"))) == values


def _reward_cases(export_dir, tokenizer, max_len: int) -> tuple[list[dict], list[tuple[str, str, bool, int]]]:
    """Token-level responses (verl's view) and (text, gold, truncated, length) (the local engine's view)."""
    rows = pq.read_table(export_dir / "data" / "val_toy.parquet").to_pylist()[:3]
    eos = tokenizer.eos_token_id
    cases, local = [], []
    for row in rows:
        gold = row["reward_model"]["ground_truth"]
        prompt_ids = tokenizer(row["prompt"][0]["content"], add_special_tokens=False)["input_ids"]
        texts = [(f"ok \\boxed{{{gold}}}", True), (f"\\boxed{{{int(gold) + 1}}}", True), ("no answer", True),
                 (("x" * max_len + f"\\boxed{{{gold}}}")[-max_len:], False),  # truncated, answer inside
                 (("y" * 30 + f"\\boxed{{{gold}}}")[-(max_len - 5):], True),  # in DAPO's overlong buffer
                 (("z" * max_len + f"\\boxed{{{gold}}}")[-(max_len - 1):], True)]  # ends with EOS at max_len
        for text, stops in texts:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_len]
            ids = ids + [eos] if stops else ids
            assert len(ids) <= max_len
            cases.append({"prompt_ids": prompt_ids, "response_ids": ids, "data_source": row["data_source"],
                          "ground_truth": gold})
            local.append((tokenizer.decode(ids[:-1] if stops else ids, skip_special_tokens=True), gold,
                          not stops and len(ids) == max_len, len(ids)))
    for text, gold in LATEX_CASES:  # math-verify's LaTeX path (antlr 4.9.3 in .venv-verl, 4.13.2 locally)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_len - 1] + [eos]
        cases.append({"prompt_ids": prompt_ids, "response_ids": ids, "data_source": "math", "ground_truth": gold})
        local.append((tokenizer.decode(ids[:-1], skip_special_tokens=True), gold, False, len(ids)))
    return cases, local


LATEX_CASES = [("\\boxed{0.5}", "\\frac{1}{2}"), ("\\boxed{\\dfrac{2}{4}}", "\\frac12"),
               ("\\boxed{\\sqrt{2}/2}", "\\frac{\\sqrt{2}}{2}"), ("\\boxed{x^2+1}", "1+x^2"),
               ("\\boxed{\\pi/3}", "60^\\circ"), ("\\boxed{(1,2]}", "(1,2)"), ("\\boxed{3}", "\\frac{7}{2}")]


@pytest.mark.parametrize("preset", ["grpo", "dapo"])
def test_reward_reaches_verl_with_local_trainer_scores(exports, preset, tmp_path):
    from rlvr_bench.config import load_config
    from rlvr_bench.models.loading import load_tokenizer
    from rlvr_bench.rewards import overlong_penalty
    from rlvr_bench.trainers.rl import resolve_algorithm
    from rlvr_bench.trainers.rl_support import make_train_scorer

    export_dir = exports[preset]
    cfg = load_config(export_dir / "recipe.yaml")
    algo = resolve_algorithm(cfg)
    max_len = cfg.rollout.max_new_tokens
    cases, local = _reward_cases(export_dir, load_tokenizer(cfg.model.name_or_path), max_len)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    got = json.loads(run_verl_env(VERL_PYTHON, "reward", str(export_dir), str(tmp_path / "cases.json")))
    scorer = make_train_scorer(cfg, None)  # the local trainer's scoring, then its shaping
    correct = scorer([t for t, *_ in local], [g for _, g, *_ in local], [tr for *_, tr, _ in local])
    expected = [c + (overlong_penalty(n, max_len, algo.overlong_buffer_len) if algo.overlong_penalty else 0.0)
                for c, (*_, n) in zip(correct, local)]
    assert got["manager"] == "RlvrBenchRewardManager"
    assert got["scores"] == pytest.approx(expected, abs=1e-9)
    assert [i["truncated"] for i in got["infos"]] == [tr for *_, tr, _ in local]
    truncated = [tr for *_, tr, _ in local]
    untruncated = scorer([t for t, *_ in local], [g for _, g, *_ in local], [False] * len(local))
    assert any(tr and u == 1.0 for tr, u in zip(truncated, untruncated))  # the truncation rule mattered
    assert 0.0 in expected and 1.0 in correct
    if algo.overlong_penalty:
        assert any(e not in (0.0, 1.0) for e in expected)  # the overlong penalty mattered


def test_import_runs_verl_model_merger(exports, tiny_model_dir, tmp_path, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    from rlvr_bench.cli import main as cli_main
    from rlvr_bench.config import load_config
    from rlvr_bench.utils.rundir import RunDir

    export_dir = exports["grpo"]
    for step in (25, 50):
        run_verl_env(VERL_PYTHON, "fake-ckpt", str(tiny_model_dir),
                     str(export_dir / "checkpoints" / f"global_step_{step}" / "actor"))
    (export_dir / "verl_metrics.jsonl").write_text('{"step": 1, "data": {"critic/score/mean": 0.5}}\n')
    monkeypatch.setenv("RLVR_BENCH_VERL_PYTHON", VERL_PYTHON)
    run_dir = tmp_path / "run"
    assert cli_main(["verl", "import", str(export_dir), "--out", str(run_dir)]) == 0
    run = RunDir(run_dir)
    assert run.checkpoint_steps() == [25, 50] and run.is_complete()
    assert load_config(run.config_path).algorithm.preset == "grpo"
    env = json.loads(run.env_path.read_text())
    assert env["backend"] == "verl" and env["verl_version"] == "0.9.1"
    assert run.metrics()[0] == {"step": 1, "backend": "verl", "critic/score/mean": 0.5}
    original = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    merged = AutoModelForCausalLM.from_pretrained(run.checkpoint_dir(50))
    for (name, a), (_, b) in zip(original.state_dict().items(), merged.state_dict().items()):
        assert torch.equal(a.to(torch.bfloat16), b.to(torch.bfloat16)), name
    assert cli_main(["verl", "import", str(export_dir), "--out", str(run_dir)]) == 0  # idempotent


def test_stop_rule_agent_loop_composes_and_carries_the_stop_strings(tiny_model_dir, tmp_path):
    out = export_toy(tiny_model_dir, tmp_path / "stop", "grpo", "rollout.stop=['###']").out
    composed = json.loads(run_verl_env(VERL_PYTHON, "compose", str(out)))[str(out)]
    assert composed["ok"], composed
    result = json.loads(run_verl_env(VERL_PYTHON, "agent-loop", str(out)))
    assert result["subclass"] and result["entry"]["stop"] == ["###"]
    assert result["params"]["stop"] == ["###"] and 7 in result["params"]["stop_token_ids"]
    assert set(result["entry"]["stop_token_ids"]) <= set(result["params"]["stop_token_ids"])
