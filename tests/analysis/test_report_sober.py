"""The "Sober Look" report sections (arXiv 2504.07086): no ratio over a degenerate seed spread, length and
errors, statistical power, environment differences; on synthetic studies with hand-computed numbers and on
studies that lack seeds, samples files or token counts.

The length study rewrites the samples files of ``build_study`` (base, grpo-s0/s1, ppo-s0/s1, sft-s0): every
problem has the same 16 samples (8 per evaluation seed) of lengths 10..17 tokens (sample j has 10 + j tokens):

    base   correct when j in {0, 3, 4, 7}   accuracy 0.5 in every length quartile, r = 0
    grpo   correct when j < 4               accuracy 1, 1, 0, 0 by quartile; r = -4 / sd(j) * 0.5 = -0.873
           and j = 7 hit max_new_tokens     truncation rate 1/8
    ppo    as the base
    sft    correct when j >= 4              r = +0.873

Every problem is alike, so every bootstrap resample of problems gives the same r: the CIs are the point.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_report_synthetic import EVAL_SEEDS, IDS, N, build_study

from rlvr_bench.analysis import collect_runs, write_report
from rlvr_bench.analysis.compare import run_compare_command
from rlvr_bench.analysis.diversity_sections import diversity_findings, diversity_numbers
from rlvr_bench.analysis.env_diff import env_differences, environment_findings
from rlvr_bench.analysis.findings import _pass1_sentence
from rlvr_bench.analysis.length_sections import length_findings
from rlvr_bench.analysis.length_stats import length_numbers, point_biserial, read_length_samples
from rlvr_bench.analysis.power_sections import power_findings, power_numbers
from rlvr_bench.analysis.report_section import check_sections
from rlvr_bench.analysis.report_sections import SECTIONS
from rlvr_bench.metrics import min_detectable_difference, seeds_needed

R_SHORT = -4 / math.sqrt(63 / 12) * 0.5  # point-biserial of "j < 4" against j = 0..7

RULES = {"base": lambda j: j in (0, 3, 4, 7), "grpo": lambda j: j < 4, "ppo": lambda j: j in (0, 3, 4, 7),
         "sft": lambda j: j >= 4, "teacher": lambda j: True}


# the diversity section's answers: the base (and ppo) reach 2 answers, grpo one, sft four
PREDS = {"base": lambda j: str(j % 2), "ppo": lambda j: str(j % 2), "grpo": lambda j: "7",
         "sft": lambda j: str(j % 4), "teacher": lambda j: "7"}


def rewrite_samples(run: Path, label: str, *, tokens: bool = True) -> None:
    """Replace the run's final samples file with the designed lengths and correctness."""
    steps = sorted((run / "eval").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    path = steps[-1] / "toy.samples.jsonl"
    lines = []
    for seed in EVAL_SEEDS:
        for pid in IDS:
            for j in range(N):
                ok = RULES[label](j)
                cut = label == "grpo" and j == 7
                line = {"id": pid, "seed": seed, "sample": j, "completion": "x" * (10 + j), "correct": ok,
                        "pred": PREDS[label](j),
                        "reason": "correct" if ok else ("truncated" if cut else "wrong_answer"),
                        "finish_reason": "length" if cut else "stop"}
                if tokens:
                    line["tokens"] = 10 + j
                lines.append(line)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture(scope="module")
def length_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("sober")
    runs = build_study(root)
    for name, run in runs.items():
        rewrite_samples(run, name.split("-")[0])
    data = collect_runs([p for n, p in runs.items() if n != "base"], runs["base"])
    return {"runs": runs, "data": data, "length": length_numbers(data, n_resamples=200, seed=0)}


# ----------------------------------------------------------------------------------------- 1. degenerate


def _block(per_run: list[float], base: float = 0.2) -> dict:
    mean = float(np.mean(per_run))
    std = float(np.std(per_run, ddof=1)) if len(per_run) > 1 else None
    return {"kind": "rl", "runs": len(per_run), "pass_at_k": {"1": {"mean": mean, "std": std, "per_run": per_run}},
            "versus_base": {"diff": mean - base, "ci_low": 0.1, "ci_high": 0.4, "p_value": 1e-4,
                            "n_problems": 200, "significant": True}}


def test_no_ratio_when_two_seeds_agree():
    sentence = _pass1_sentence("reinforce_pp", _block([0.49, 0.49]), 0.2)
    assert "x its seed std" not in sentence
    assert "its 2 seeds agree" in sentence and "say nothing about the seed-to-seed spread" in sentence


def test_no_ratio_for_a_single_run_and_a_ratio_for_a_real_spread():
    assert "a single run" in _pass1_sentence("sft", _block([0.5]), 0.2)
    sentence = _pass1_sentence("grpo", _block([0.46, 0.50]), 0.2)
    std = float(np.std([0.46, 0.50], ddof=1))
    assert f"= {0.28 / std:.1f} x its seed std of {std:.3f} over 2 seeds" in sentence


def test_a_tiny_but_real_spread_is_printed_with_its_digits():
    sentence = _pass1_sentence("reinforce_pp", _block([0.490078125, 0.489921875]), 0.209)
    assert "seed std of 0.00011 over 2 seeds" in sentence and "0.000 over" not in sentence


# ------------------------------------------------------------------------------------------- 2. length


def test_quartile_accuracy_correlation_and_truncation_by_hand(length_study):
    m = length_study["length"]["methods"]
    assert m["base"]["unit"] == "tokens" and m["base"]["samples"] == len(IDS) * N * len(EVAL_SEEDS)
    assert [q["accuracy"] for q in m["base"]["quartiles"]["rows"]] == [0.5, 0.5, 0.5, 0.5]
    assert [q["accuracy"] for q in m["grpo"]["quartiles"]["rows"]] == [1.0, 1.0, 0.0, 0.0]
    assert [(q["low"], q["high"]) for q in m["grpo"]["quartiles"]["rows"]][0] == (10.0, 11.75)
    assert m["grpo"]["samples"] == 2 * len(IDS) * N * len(EVAL_SEEDS)  # two runs pooled
    assert m["base"]["correlation"]["r"] == pytest.approx(0.0, abs=1e-12)
    grpo = m["grpo"]["correlation"]
    assert grpo["r"] == pytest.approx(R_SHORT) and grpo["ci_low"] == pytest.approx(R_SHORT)
    assert grpo["ci_high"] == pytest.approx(R_SHORT)
    assert m["grpo"]["versus_base"]["diff"] == pytest.approx(R_SHORT)
    assert m["sft"]["correlation"]["r"] == pytest.approx(-R_SHORT)
    assert m["grpo"]["truncation_rate"] == pytest.approx(1 / 8) and m["base"]["truncation_rate"] == 0.0
    assert m["grpo"]["max_new_tokens"] == 32


def test_point_biserial_is_pearson_and_undefined_when_constant():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    y = np.array([1.0, 1.0, 0.0, 1.0, 0.0])
    assert point_biserial(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert point_biserial(x, np.ones(5)) is None and point_biserial(np.ones(5), y) is None


def test_length_finding_says_longer_responses_err_more_after_rl(length_study):
    sentences = length_findings({"length": length_study["length"]})
    assert "Longer responses err more for 1 of 2 RL presets (**grpo**" in sentences[0]
    assert "more so than in the base for **grpo**" in sentences[0]
    assert "accuracy 1.00 in its shortest quartile vs 0.00 in its longest" in sentences[0]
    assert any("Truncation at max_new_tokens" in s and "**grpo** 12.5%" in s for s in sentences)


def test_character_lengths_when_tokens_are_not_recorded_and_missing_samples(tmp_path):
    runs = build_study(tmp_path)
    for name, run in runs.items():
        rewrite_samples(run, name.split("-")[0], tokens=False)
    next(runs["sft-s0"].glob("eval/step-*/toy.samples.jsonl")).unlink()
    data = collect_runs([p for n, p in runs.items() if n != "base"], runs["base"])
    m = length_numbers(data, n_resamples=50)["methods"]
    assert m["grpo"]["unit"] == "characters"
    assert m["grpo"]["correlation"]["r"] == pytest.approx(R_SHORT)
    assert m["sft"]["missing"] == ["sft-s0"] and m["sft"]["samples"] == 0
    samples = read_length_samples(data.methods["sft"], data.benchmark, data.ids)
    assert samples.length.size == 0


# --------------------------------------------------------------------------------------------- 3. power


def _accuracy(runs) -> np.ndarray:
    return np.sum([r.correct for r in runs], axis=0) / sum(r.samples_per_problem for r in runs)


def test_power_numbers_by_hand(length_study):
    data = length_study["data"]
    from rlvr_bench.analysis.report_stats import core_numbers

    numbers = core_numbers(data, n_resamples=100, seed=0)
    numbers["boundary"] = {"reference": {"label": "grpo"}}
    p = power_numbers(data, numbers)
    grpo = p["methods"]["grpo"]["versus_base"]
    per_run = numbers["methods"]["grpo"]["pass_at_k"]["1"]["per_run"]
    sd = float(np.std(per_run, ddof=1))
    assert grpo["seeds"]["sd"] == pytest.approx(sd)
    assert grpo["seeds"]["mdd"] == pytest.approx(min_detectable_difference(sd, 2, paired=True))
    assert grpo["seeds"]["seeds_needed"]["0.05"] == seeds_needed(sd, 0.05)
    diffs = _accuracy(data.methods["grpo"]) - _accuracy([data.base])
    assert grpo["problems"]["mdd"] == pytest.approx(
        min_detectable_difference(float(np.std(diffs, ddof=1)), len(IDS), paired=True))
    sft = p["methods"]["sft"]
    assert sft["versus_base"]["seeds"]["mdd"] is None and sft["versus_base"]["seeds"]["degenerate"]
    ppo_ref = p["methods"]["ppo"]["versus_reference"]
    a = numbers["methods"]["ppo"]["pass_at_k"]["1"]["per_run"]
    pooled = math.sqrt((np.var(a, ddof=1) + np.var(per_run, ddof=1)) / 2)
    assert ppo_ref["against"] == "grpo" and ppo_ref["seeds"]["mdd"] == pytest.approx(
        min_detectable_difference(pooled, 2, 2))
    assert p["methods"]["grpo"]["versus_reference"] is None


def test_power_finding_for_a_difference_below_the_detectable_one():
    comp = {"against": "base", "diff": 0.01,
            "seeds": {"sd": 0.03, "degenerate": False, "runs": 2, "mdd": 0.30, "seeds_needed": {}},
            "problems": {"sd": 0.2, "problems": 200, "mdd": 0.04}}
    agree = {"against": "base", "diff": 0.2,
             "seeds": {"sd": None, "degenerate": True, "runs": 2, "mdd": None, "seeds_needed": {}},
             "problems": {"sd": 0.2, "problems": 200, "mdd": 0.04}}
    r = {"power": {"alpha": 0.05, "power": 0.8, "deltas": [0.02, 0.05], "reference": None,
                   "methods": {"gspo": {"versus_base": comp, "versus_reference": None},
                               "cispo": {"versus_base": agree, "versus_reference": None}}}}
    sentences = power_findings(r)
    assert "**gspo** vs base (1.0 < 30.0 over 2 seeds)" in sentences[0]
    assert "**cispo**" in sentences[1] and "agree" in sentences[1]
    assert power_findings({"power": None}) == []


# ------------------------------------------------------------------------------------ 4. environment


def test_environment_differences_name_the_fields(tmp_path, capsys):
    runs = build_study(tmp_path)
    env = json.loads((runs["grpo-s1"] / "env.json").read_text())
    env["packages"]["transformers"] = "5.30.0"
    (runs["grpo-s1"] / "env.json").write_text(json.dumps(env))
    meta = {"decoding": {"temperature": 0.6, "max_new_tokens": 32}, "template": "toy"}
    step = sorted(runs["sft-s0"].glob("eval/step-*"))[-1]
    (step / "toy.meta.json").write_text(json.dumps(meta))
    (runs["ppo-s0"] / "env.json").unlink()
    data = collect_runs([p for n, p in runs.items() if n != "base"], runs["base"])
    diff = env_differences(data)
    by_run = {d["run"]: d["fields"] for d in diff["differences"]}
    assert diff["reference"] == "base"
    assert by_run["grpo-s1"] == {"packages.transformers": {"value": "5.30.0", "reference": "5.24.0"}}
    assert by_run["sft-s0"] == {"decoding.temperature": {"value": 0.6, "reference": 1.0}}
    assert "ppo-s0" not in by_run and "grpo-s0" not in by_run
    sentence = environment_findings(diff)[0]
    assert "2 of 5 runs differ from base" in sentence and "`packages.transformers`" in sentence
    run_compare_command(argparse.Namespace(runs=[str(p) for n, p in runs.items() if n != "base"],
                                           base=str(runs["base"]), k=None, out=str(tmp_path / "cmp")))
    out = capsys.readouterr().out
    assert "environment differs: grpo-s1 vs base: packages.transformers 5.30.0 (vs 5.24.0)" in out
    md = (tmp_path / "cmp" / "report.md").read_text()
    assert "## Environment differences" in md and "| grpo-s1 | grpo | `packages.transformers` |" in md


def test_no_environment_difference_gives_no_sentence(length_study):
    diff = env_differences(length_study["data"])
    assert diff["differences"] == [] and environment_findings(diff) == []


# ----------------------------------------------------------------------------------------- 5. diversity


def test_diversity_by_hand(length_study):
    d = diversity_numbers(length_study["data"], n_resamples=500)
    m = d["methods"]
    assert m["base"]["means"]["distinct_answers"] == 2 and m["grpo"]["means"]["distinct_answers"] == 1
    assert m["base"]["means"]["answer_entropy"] == pytest.approx(math.log(2))
    assert m["sft"]["means"]["answer_entropy"] == pytest.approx(math.log(4))
    assert m["grpo"]["means"]["distinct_correct"] == 4  # the 4 correct lengths 10..13, each one text
    test = m["grpo"]["entropy_versus_base"]
    assert test["diff"] == pytest.approx(-math.log(2)) and test["significant"]
    assert m["ppo"]["entropy_versus_base"]["diff"] == pytest.approx(0.0)
    sentence = diversity_findings({"diversity": d})[0]
    assert "diversity collapses: 1 of 2 RL presets" in sentence and "**grpo** 0.00" in sentence


# ------------------------------------------------------------------------------------------- the report


def test_report_renders_the_sober_sections(length_study, tmp_path):
    data = length_study["data"]
    path = write_report(data, tmp_path / "report", n_resamples=200)
    md = path.read_text()
    numbers = json.loads((tmp_path / "report" / "report.json").read_text())
    check_sections(SECTIONS, numbers)
    for heading in ("## Response length and errors", "## Statistical power", "## Environment differences"):
        assert heading in md
    assert (tmp_path / "report" / "accuracy_by_length.png").is_file()
    assert numbers["length"]["methods"]["grpo"]["correlation"]["r"] == pytest.approx(R_SHORT)
    assert numbers["power"]["methods"]["sft"]["versus_base"]["seeds"]["degenerate"] is True
    assert any("Longer responses err more" in s for s in numbers["findings"])


def test_report_without_any_samples_file(tmp_path):
    runs = build_study(tmp_path)
    for run in runs.values():
        for f in run.glob("eval/step-*/toy.samples.jsonl"):
            f.unlink()
    data = collect_runs([p for n, p in runs.items() if n != "base"], runs["base"])
    md = write_report(data, tmp_path / "report", n_resamples=100).read_text()
    assert "No samples files were found" in md
    assert not (tmp_path / "report" / "accuracy_by_length.png").exists()
