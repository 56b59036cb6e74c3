"""The study's ``sensitivity:`` section: schema and one-line errors, which runs it evaluates, the grid step
after the runs (resumable: a rerun samples nothing), the report's section, and a small real study (slow)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from rlvr_bench.cli import main
from rlvr_bench.config import ConfigError
from rlvr_bench.recipes import recipes_dir
from rlvr_bench.study import default_study_path, load_study
from rlvr_bench.study.runner import Job, plan_jobs
from rlvr_bench.study.sensitivity import (
    final_checkpoint,
    run_study_sensitivity,
    select_runs,
    sensitivity_section,
)


def _study(tmp_path: Path, section: str, name: str = "s", extra: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\noutput_dir: {tmp_path / 'out'}\nbase: toy/base.yaml\n"
                    f"methods: [toy/grpo.yaml, toy/sft.yaml]\nseeds: [3, 4]\nseeds_other: [0]\n{extra}{section}")
    return path


# ------------------------------------------------------------------------------------------ schema


def test_absent_section_is_off_and_the_default_study_is_unchanged():
    cfg = load_study(default_study_path())
    assert cfg.sensitivity.enabled is False
    assert load_study(default_study_path(), ["sensitivity.n=4"]).sensitivity.enabled is True
    assert load_study(default_study_path(), ["sensitivity.enabled=false", "sensitivity.n=4"]).sensitivity.enabled \
        is False


def test_section_is_read(tmp_path):
    path = _study(tmp_path, "sensitivity: {grid: {temperature: [0.6, 1.0], top_p: [0.95, 1.0]}, seeds: [0, 1, 2], "
                            "n: 16, limit: null, methods: [grpo, sft]}\n")
    sens = load_study(path).sensitivity
    assert sens.enabled and sens.grid == {"temperature": [0.6, 1.0], "top_p": [0.95, 1.0]}
    assert (sens.seeds, sens.n, sens.limit, sens.methods, sens.all_seeds) == ([0, 1, 2], 16, None, ["grpo", "sft"],
                                                                             False)
    plan_jobs(load_study(path), path)  # a valid grid plans
    assert load_study(_study(tmp_path, "sensitivity: {}\n")).sensitivity.enabled  # all defaults, on
    assert not load_study(_study(tmp_path, "sensitivity:\n")).sensitivity.enabled  # null: off


@pytest.mark.parametrize("section, needle", [
    ("sensitivity: {grid: {temprature: [0.6]}}", "sensitivity.grid: 'temprature': unknown key (known: temperature"),
    ("sensitivity: {grid: {top_p: [1.5]}}", "sensitivity.grid: top_p=1.5: top_p must be in (0, 1]"),
    ("sensitivity: {grid: {top_k: [abc]}}", "sensitivity.grid: top_k='abc': expected an integer"),
    ("sensitivity: {grid: {template: [nope]}}", "unknown template"),
    ("sensitivity: {grid: {temperature: []}}", "sensitivity.grid: temperature: no values"),
])
def test_bad_grid_is_one_line_before_anything_trains(tmp_path, capsys, section, needle):
    path = _study(tmp_path, section + "\n")
    cfg = load_study(path)
    with pytest.raises(ConfigError, match=None) as err:
        plan_jobs(cfg, path)
    assert needle in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
    assert main(["study", str(path), "--dry-run"]) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("section, needle", [
    ("sensitivity: {methods: [grpo, ppo]}", "sensitivity.methods: 'ppo' is not a method of the study "
                                            "(methods: grpo, sft)"),
    ("sensitivity: {methods: [teacher]}", "'teacher' is not a method of the study"),
    ("sensitivity: {methods: [sft, sft]}", "sensitivity.methods lists a method twice"),
    ("sensitivity: {n: 0}", "'sensitivity.n'"),
    ("sensitivity: {grid: [0.6]}", "'sensitivity.grid'"),
    ("sensitivity: {seed: [0]}", "did you mean 'sensitivity.seeds'"),
])
def test_bad_section_is_one_line(tmp_path, section, needle):
    with pytest.raises(ConfigError) as err:
        load_study(_study(tmp_path, section + "\n"))
    assert needle in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------------------- which runs


def test_first_seed_or_all_seeds_and_the_teacher(tmp_path):
    path = _study(tmp_path, "sensitivity: {methods: [grpo, sft]}\n")
    cfg = load_study(path)
    _, jobs = plan_jobs(cfg, path)
    assert [j.label for j in select_runs(cfg, jobs)] == ["grpo-s3", "sft-s0"]
    cfg.sensitivity.all_seeds = True
    assert [j.label for j in select_runs(cfg, jobs)] == ["grpo-s3", "grpo-s4", "sft-s0"]
    cfg.sensitivity.methods = None  # every method
    assert [j.label for j in select_runs(cfg, jobs)] == ["grpo-s3", "grpo-s4", "sft-s0"]
    teach = _study(tmp_path, "sensitivity: {methods: [teacher, sft]}\n", name="t", extra="teacher: toy/teacher.yaml\n")
    cfg = load_study(teach)
    _, jobs = plan_jobs(cfg, teach)
    assert [j.label for j in select_runs(cfg, jobs)] == ["teacher", "sft-s0"]


# ------------------------------------------------------------- the grid step on stand-in runs


def _fake_run(root: Path, label: str, model: Path, step: int) -> Job:
    """A complete run whose final checkpoint is a tiny model (checkpoints/step-<step> links to it)."""
    out = root / label
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "step-1").symlink_to(model, target_is_directory=True)
    (out / "checkpoints" / f"step-{step}").symlink_to(model, target_is_directory=True)
    (out / "complete.json").write_text("{}")
    return Job(label, Path(f"{label.split('-s')[0]}.yaml"), 0, out)



def test_grid_step_evaluates_final_checkpoints_and_resumes(tmp_path, tiny_model_dir, count_evaluate, capsys):
    path = _study(tmp_path, "sensitivity: {grid: {temperature: [0.6, 1.0]}, seeds: [0], n: 2, limit: 2, "
                            "batch_size: 4, methods: [grpo]}\n")
    cfg = load_study(path)
    out = Path(cfg.output_dir)
    base = _fake_run(out, "base", tiny_model_dir, 5)
    jobs = [_fake_run(out, "grpo-s3", tiny_model_dir, 2), _fake_run(out, "sft-s0", tiny_model_dir, 2)]
    assert final_checkpoint(out / "grpo-s3") == out / "grpo-s3" / "checkpoints" / "step-2"
    assert run_study_sensitivity(cfg, base, jobs, failed=["grpo-s3"]) is None  # a chosen run failed: wait
    assert "skipped" in capsys.readouterr().out and count_evaluate == []
    sens = run_study_sensitivity(cfg, base, jobs, failed=["sft-s0"])  # sft is not chosen
    assert sens == out / "sensitivity" and len(count_evaluate) == 4  # 2 models x 2 settings
    report = json.loads((sens / "sensitivity.json").read_text())
    assert list(report["models"]) == ["base/step-5", "grpo-s3/step-2"]
    assert report["meta"]["n"] == 2 and len(report["settings"]) == 2 and (sens / "sensitivity.png").exists()
    samples = {p: p.stat().st_mtime_ns for p in sens.glob("evals/**/*.samples.jsonl")}
    assert len(samples) == 4
    count_evaluate.clear()
    run_study_sensitivity(cfg, base, jobs, failed=[])  # rerun: nothing sampled, nothing rewritten
    assert count_evaluate == [] and {p: p.stat().st_mtime_ns for p in samples} == samples
    lines = sensitivity_section(out)
    assert lines[1] == "## Sensitivity to the evaluation setting"
    assert "2 settings of the grid on toy" in lines[3] and "[sensitivity/sensitivity.md](sensitivity/sensitivity.md)" \
        in lines[3] and "base/step-5" in lines[3] and "ranking changes between settings" in lines[3]


def test_section_off_does_nothing(tmp_path):
    cfg = load_study(_study(tmp_path, ""))
    assert run_study_sensitivity(cfg, None, [], failed=[]) is None
    assert sensitivity_section(tmp_path) == []


# ------------------------------------------------------------------------ a small real study


@pytest.mark.slow
def test_small_study_with_the_section(tmp_path, monkeypatch, count_evaluate):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    study = tmp_path / "mini.yaml"
    study.write_text(textwrap.dedent(f"""
        name: mini
        base: {recipes_dir() / 'toy/base.yaml'}
        methods: [{recipes_dir() / 'toy/grpo.yaml'}]
        seeds: [0]
        overrides: [evaluation.n=2, "evaluation.ks=[1,2]", evaluation.limit=4, evaluation.at_start=false,
                    trainer.steps=1, trainer.warmup_steps=0, trainer.prompts_per_step=2, trainer.save_every=0,
                    "logging.trackers=[]"]
        workers: 1
        threads_per_worker: 1
        report: {{ks: [1, 2], gap_k: 2, perplexity: false}}
        sensitivity: {{grid: {{temperature: [0.6, 1.0]}}, seeds: [0], n: 2, limit: 3, methods: [grpo]}}
    """))
    assert main(["study", str(study)]) == 0
    out = tmp_path / "runs" / "mini"
    sens = json.loads((out / "sensitivity" / "sensitivity.json").read_text())
    assert list(sens["models"]) == ["base/step-600", "grpo-s0/step-1"] and len(sens["cells"]) == 4
    assert "## Sensitivity to the evaluation setting" in (out / "report.md").read_text()
    samples = {p: p.stat().st_mtime_ns for p in (out / "sensitivity").glob("evals/**/*.samples.jsonl")}
    assert len(samples) == 4
    count_evaluate.clear()
    assert main(["study", str(study)]) == 0  # everything complete: nothing trained, nothing sampled
    assert count_evaluate == [] and {p: p.stat().st_mtime_ns for p in samples} == samples
