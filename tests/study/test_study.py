"""The study: recipe validation, the plan of runs, and a small real study end to end (resumable)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from rlvr_bench.cli import main
from rlvr_bench.config import ConfigError
from rlvr_bench.recipes import recipes_dir
from rlvr_bench.study import default_study_path, load_study
from rlvr_bench.study.runner import plan_jobs


def test_default_study_plans_every_method_and_seed():
    cfg = load_study(default_study_path())
    first, methods = plan_jobs(cfg, default_study_path())
    assert [j.label for j in first] == ["base"]
    labels = [j.label for j in methods]
    assert labels[0] == "teacher"  # first in the pool: the distillations wait for it, nothing else does
    assert {j.label for j in methods if j.after == "teacher"} == {"distill_seq-s0", "distill_logit-s0"}
    for preset in ("grpo", "dr_grpo", "dapo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "remax", "ppo"):
        assert {f"{preset}-s0", f"{preset}-s1"} <= set(labels)
    for other in ("sft", "rft", "distill_seq", "distill_logit"):
        assert f"{other}-s0" in labels
    assert len(first) + len(methods) == 22
    cmd = methods[1].command(1)
    assert "seed=0" in cmd and any(c.startswith("output_dir=") for c in cmd)
    # the base's build runs alone first (train --prepare-only), its evaluation in the pool
    prepare = first[0].prepare_step()
    assert first[0].prepares and prepare.label == "prepare:base" and prepare.out == first[0].out
    assert prepare.command(2)[3:6] == ["train", "--prepare-only", str(first[0].recipe)]
    assert "--prepare-only" not in first[0].command(1)


def test_run_overrides_reach_only_their_recipes_runs(tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text(textwrap.dedent("""\
        name: s
        base: toy/base.yaml
        methods: [toy/grpo.yaml, toy/sft.yaml]
        overrides: [evaluation.n=16, "evaluation.ks=[1,16]"]
        run_overrides:
          base: [evaluation.n=64, "evaluation.ks=[1,64]"]
          grpo: [evaluation.n=32, "evaluation.ks=[1,32]"]
        """))
    cfg = load_study(study)
    first, methods = plan_jobs(cfg, study)
    tail = {j.label: [c for c in j.command(1) if c.startswith("evaluation.")] for j in [*first, *methods]}
    assert tail["base"] == ["evaluation.n=16", "evaluation.ks=[1,16]", "evaluation.n=64", "evaluation.ks=[1,64]"]
    assert tail["grpo-s0"] == tail["grpo-s1"] == [
        "evaluation.n=16", "evaluation.ks=[1,16]", "evaluation.n=32", "evaluation.ks=[1,32]"]
    assert tail["sft-s0"] == ["evaluation.n=16", "evaluation.ks=[1,16]"]
    with pytest.raises(ConfigError, match="run_overrides: 'grop' is not a run label of the study .*base, grpo, sft"):
        load_study(study, ["run_overrides={grop: [evaluation.n=8]}"])
    with pytest.raises(ConfigError, match="larger than evaluation.n"):
        load_study(study, ["run_overrides={grpo: [evaluation.n=8]}"])  # ks [1, 16] then n = 8


def test_a_run_needing_a_failed_teacher_fails_without_starting(tmp_path):
    from rlvr_bench.study.runner import Job, run_jobs

    cfg = load_study(default_study_path(), [f"output_dir={tmp_path}"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: toy_teacher\nmodel: {name_or_path: toy:teacher}\ntrainr: {steps: 1}\n")
    jobs = [Job("teacher", bad, None, tmp_path / "teacher"),
            Job("distill-s0", bad, 0, tmp_path / "distill-s0", after="teacher")]
    timings: dict[str, float] = {}
    failed = run_jobs(jobs, cfg, workers=2, t0=0.0, done_before=0, total=2, timings=timings)
    assert failed == ["teacher", "distill-s0"]
    assert list(timings) == ["teacher"] and not (tmp_path / "distill-s0").exists()
    assert "did you mean 'trainer'" in (tmp_path / "teacher" / "train.log").read_text()


def test_study_errors_are_one_line(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("name: x\nbase: toy/base.yaml\nmethods: [toy/nope.yaml]\n")
    with pytest.raises(ConfigError, match="recipe 'toy/nope.yaml' not found"):
        load_study(bad)
    with pytest.raises(ConfigError, match="did you mean 'workers'"):
        load_study(default_study_path(), ["workrs=1"])


@pytest.mark.slow
def test_small_study_runs_resumes_and_reports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = tmp_path / "mini.yaml"
    study.write_text(textwrap.dedent(f"""
        name: mini
        base: {recipes_dir() / 'toy/base.yaml'}
        methods: [{recipes_dir() / 'toy/grpo.yaml'}]
        seeds: [0, 1]
        overrides: [evaluation.n=4, "evaluation.ks=[1,2,4]", evaluation.limit=20, evaluation.at_start=false,
                    trainer.steps=2, trainer.warmup_steps=0, trainer.prompts_per_step=4, trainer.save_every=0, "logging.trackers=[]"]
        workers: 2
        threads_per_worker: 1
        report: {{ks: [1, 4], gap_k: 4, perplexity: true, perplexity_samples: 16}}
    """))
    assert main(["study", str(study)]) == 0
    out = tmp_path / "runs" / "mini"
    report = json.loads((out / "report.json").read_text())
    assert (out / "report.md").read_text().startswith("# mini")
    assert {"grpo"} <= set(json.dumps(report).split('"')) and (out / "pass_at_k.png").exists()
    stamp = (out / "grpo-s0" / "complete.json").stat().st_mtime
    assert main(["study", str(study)]) == 0  # everything complete: only the report is rewritten
    assert (out / "grpo-s0" / "complete.json").stat().st_mtime == stamp
    record = json.loads((out / "study.json").read_text())
    assert record["runs"] == 3 and record["failed"] == []
    # the cached second call ran nothing, and kept the first call's measurements
    assert set(record["run_seconds"]) == {"prepare:base", "base", "grpo-s0", "grpo-s1"}
    assert [c["ran"] for c in record["calls"]] == [["base", "grpo-s0", "grpo-s1", "prepare:base"], []]
    assert Path(out / "grpo-s1" / "train.log").exists()
    assert "prepared: toy:base" in (out / "base" / "train.log").read_text()  # the build's log, then the run's
